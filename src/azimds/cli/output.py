"""Everything the ``azimds`` command prints goes through here, made printable first.

Values, error texts and headers come from the network; ``printable`` (azimds/imds/printable.py)
keeps their control characters off the terminal. JSON is written as strict JSON, with such
characters escaped so that the value is unchanged. A failed write raises ``OutputFailed``.
Whatever is written clears the status line (``STATUS``) first, so that no output ever lands
after a "retrying" line on a terminal.
"""

from __future__ import annotations

import os
import sys
from typing import Any, Iterator, List, Optional, Sequence, TextIO

from ..imds import body
from ..imds.printable import printable, printable_json

PROGRAM = "azimds"


class OutputFailed(Exception):
    """Standard output could not be written (disk full, device error); the reason is the text."""


def say(message: str) -> None:
    """Write ``azimds: message`` on stderr, on one line (after clearing the status line)."""
    STATUS.clear()
    sys.stderr.write(f"{PROGRAM}: {printable(message)}\n")


def warn(message: str) -> None:
    """Write ``azimds: warning: message`` on stderr."""
    say(f"warning: {message}")


def emit(text: str) -> None:
    """Write ``text`` (already printable) on stdout, after clearing the status line.

    Raises:
        BrokenPipeError: the reader went away.
        OutputFailed: any other failure to write.
    """
    STATUS.clear()
    try:
        sys.stdout.write(text)
    except BrokenPipeError:
        raise
    except OSError as exc:
        raise OutputFailed(exc.strerror or str(exc)) from None


def finish() -> None:
    """Flush stdout, so that a failure shows here and not at exit.

    Raises:
        BrokenPipeError, OutputFailed: as ``emit``.
    """
    try:
        sys.stdout.flush()
    except BrokenPipeError:
        raise
    except OSError as exc:
        raise OutputFailed(exc.strerror or str(exc)) from None


def discard_stdout() -> None:
    """Point stdout at the null device: what is still buffered must not fail again at exit."""
    null = os.open(os.devnull, os.O_WRONLY)
    os.dup2(null, sys.stdout.fileno())
    os.close(null)


def write_text(text: str) -> None:
    """Write ``text`` as a line (or lines) of text."""
    shown = printable(text, keep="\n")
    emit(shown if shown.endswith("\n") or not shown else shown + "\n")


def write_json(value: Any) -> None:
    """Write ``value`` as indented strict JSON."""
    emit(printable_json(body.dumps(value)) + "\n")


def write_table(
    headings: Sequence[str], rows: Sequence[Sequence[Any]], header: bool = True
) -> None:
    """Write rows in aligned columns, under ``headings`` when ``header`` is True."""
    lines: List[Sequence[str]] = [headings] if header else []
    lines += [[printable(str(cell)) for cell in row] for row in rows]
    widths = [max(len(line[i]) for line in lines) for i in range(len(headings))]
    emit(
        "".join(
            "  ".join(cell.ljust(width) for cell, width in zip(line, widths)).rstrip() + "\n"
            for line in lines
        )
    )


def flatten(value: Any, prefix: str = "") -> Iterator[Sequence[str]]:
    """Yield (dotted key, shown value) for every leaf of nested dicts and lists."""
    if isinstance(value, dict) and value:
        for key, item in value.items():
            yield from flatten(item, f"{prefix}.{key}" if prefix else str(key))
    elif isinstance(value, list) and value:
        for index, item in enumerate(value):
            yield from flatten(item, f"{prefix}.{index}" if prefix else str(index))
    else:
        yield prefix, _shown(value)


def _shown(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if value == {} or value == []:
        return "(none)"
    return str(value)


class StatusLine:
    """One line of status on a terminal's stderr, rewritten in place, cleared when done.

    On anything but a terminal it writes nothing: logs and pipes get no progress noise. The
    stream is the current ``sys.stderr`` unless one is given.
    """

    def __init__(self, stream: Optional[TextIO] = None) -> None:
        self._stream = stream
        self.shown_on: Optional[TextIO] = None  # the stream the line is shown on, if any

    def show(self, text: str) -> None:
        """Replace the status line with ``azimds: text`` (cut to the terminal's width)."""
        stream = sys.stderr if self._stream is None else self._stream
        if not stream.isatty():
            return
        try:
            width = os.get_terminal_size(stream.fileno()).columns or 80  # 0: not known
        except OSError:
            width = 80
        line = f"{PROGRAM}: {printable(text)}"[: max(width - 1, 20)]
        stream.write(f"\r{line}\x1b[K")  # ESC[K: erase the rest of the line
        stream.flush()
        self.shown_on = stream

    def clear(self) -> None:
        """Erase the status line, if one is shown."""
        stream, self.shown_on = self.shown_on, None
        if stream is not None:
            stream.write("\r\x1b[K")
            stream.flush()


# The status line of the command: ``say`` and ``emit`` clear it before they write.
STATUS = StatusLine()
