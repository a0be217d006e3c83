"""Sub-commands described once, read without argparse when the line is plainly well formed.

A ``Command`` lists its options; ``add_parser`` builds the argparse parser from it, which is
what ``--help`` and every error message come from. ``read`` turns an ordinary command line
(known options, spelled in full, with valid values) into the same ``Values`` argparse would
give, without importing argparse (and the ``re`` and ``gettext`` it loads): a third of the
start-up of ``azimds get``. Anything else, ``read`` leaves to argparse by returning None, so
argparse stays the one judge of what a command line means (tests/test_cmdline.py checks that
both agree).
"""

from __future__ import annotations

TYPE_CHECKING = False  # typing is not imported at run time: see azimds/__init__.py
if TYPE_CHECKING:
    import argparse
    from typing import Any, Callable, Dict, Optional, Sequence, Tuple

    Handler = Callable[["Values"], int]


class Option:
    """One option: its flags, where its value goes, and how ``--help`` shows it.

    Args:
        flags: e.g. ``("-o", "--output")``.
        help: the ``--help`` text (``%(default)s`` works as in argparse).
        dest: the attribute name (default: from the long flag).
        metavar: the value's name in ``--help``.
        choices: the values allowed, if only some are.
        convert: turns the text into the value; raises (e.g. ``argparse.ArgumentTypeError``)
            when the text is not acceptable.
        default: the value when the option is absent.
        switch: True for an option without a value (stores True when given).
    """

    def __init__(
        self,
        *flags: str,
        help: str,
        dest: Optional[str] = None,
        metavar: Optional[str] = None,
        choices: Optional[Sequence[str]] = None,
        convert: Optional[Callable[[str], Any]] = None,
        default: Any = None,
        switch: bool = False,
    ) -> None:
        self.flags = flags
        self.help = help
        self.dest = dest or flags[-1].lstrip("-").replace("-", "_")
        self.metavar = metavar
        self.choices = choices
        self.convert = convert
        self.default = False if switch else default
        self.switch = switch


class Positional:
    """The one optional positional argument a command may take."""

    def __init__(self, dest: str, help: str, metavar: str, default: str = "") -> None:
        self.dest = dest
        self.help = help
        self.metavar = metavar
        self.default = default


class Command:
    """A sub-command: its name, texts for ``--help``, options, and the function that runs it.

    ``handler`` takes the ``Values`` of the command line and returns the exit code.
    """

    def __init__(
        self,
        name: str,
        summary: str,
        description: str,
        handler: Handler,
        options: Sequence[Option],
        positional: Optional[Positional] = None,
        epilog: Optional[str] = None,
    ) -> None:
        self.name = name
        self.summary = summary
        self.description = description
        self.handler = handler
        self.options = options
        self.positional = positional
        self.epilog = epilog

    def defaults(self) -> Dict[str, Any]:
        """Return every destination with its value when the command line gives none."""
        values = {option.dest: option.default for option in self.options}
        if self.positional is not None:
            values[self.positional.dest] = self.positional.default
        return values

    def values_of(self, namespace: argparse.Namespace) -> Values:
        """Return what argparse parsed as the ``Values`` that ``read`` gives."""
        given = vars(namespace)
        return Values(**{dest: given[dest] for dest in self.defaults()})

    def run_namespace(self, namespace: argparse.Namespace) -> int:
        """Run the handler on what argparse parsed (``add_parser`` sets this as its handler)."""
        return self.handler(self.values_of(namespace))


class Values:
    """The values of one command line, as attributes (like ``argparse.Namespace``)."""

    def __init__(self, **values: Any) -> None:
        self.__dict__.update(values)

    def __getattr__(self, name: str) -> Any:  # for the type checker: attributes are dynamic
        raise AttributeError(name)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Values) and vars(self) == vars(other)

    def __repr__(self) -> str:
        return f"Values({vars(self)!r})"


def read(command: Command, argv: Sequence[str]) -> Optional[Values]:
    """Return the ``Values`` of ``argv`` (the words after the command's name), or None.

    None means: not plainly well formed (``-h``, an unknown or abbreviated option, ``--``, a
    value that is missing, starts with ``-``, or is not accepted, a second positional), so
    argparse must read it, and print the help or the error.
    """
    values = command.defaults()
    by_flag = {flag: option for option in command.options for flag in option.flags}
    positional_seen = False
    words = iter(argv)
    for word in words:
        if word.startswith("-"):
            flag, equals, inline = word.partition("=") if word.startswith("--") else (word, "", "")
            option = by_flag.get(flag)
            if option is None:
                return None
            if option.switch:
                if equals:
                    return None
                values[option.dest] = True
                continue
            text = inline if equals else next(words, None)
            if text is None or (not equals and text.startswith("-")):
                return None
            accepted = _accepted(option, text)
            if accepted is None:
                return None
            values[option.dest] = accepted[0]
        elif command.positional is not None and not positional_seen:
            values[command.positional.dest] = word
            positional_seen = True
        else:
            return None
    return Values(**values)


def _accepted(option: Option, text: str) -> Optional[Tuple[Any]]:
    """Return (value,) when ``option`` accepts ``text``, else None."""
    if option.choices is not None and text not in option.choices:
        return None
    if option.convert is None:
        return (text,)
    try:
        return (option.convert(text),)
    except Exception:  # argparse will call it again and report the error its own way
        return None


def add_parser(subparsers: Any, command: Command) -> argparse.ArgumentParser:
    """Add ``command`` to argparse ``subparsers``; return its parser."""
    import argparse

    parser: argparse.ArgumentParser = subparsers.add_parser(
        command.name,
        help=command.summary,
        description=command.description,
        epilog=command.epilog,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    if command.positional is not None:
        positional = command.positional
        parser.add_argument(
            positional.dest,
            nargs="?",
            default=positional.default,
            metavar=positional.metavar,
            help=positional.help,
        )
    for option in command.options:
        settings: Dict[str, Any] = {"dest": option.dest, "help": option.help}
        if option.switch:
            settings["action"] = "store_true"
        else:
            settings.update(default=option.default, metavar=option.metavar)
            if option.choices is not None:
                settings["choices"] = option.choices
            if option.convert is not None:
                settings["type"] = option.convert
        parser.add_argument(*option.flags, **settings)
    parser.set_defaults(handler=command.run_namespace)
    return parser
