# GENERATED from src/azimds/imds/record.py by `make collection`; do not edit this copy.
# Edit the source and run `make collection`: a test fails while this copy is stale.
"""``Record``: a small immutable value with named fields, like ``typing.NamedTuple``.

The type checker sees ``typing.NamedTuple`` itself; at run time ``Record`` is a tuple subclass
built here, because ``typing`` and ``collections.namedtuple`` cost start-up (see
``azimds/__init__.py``). Subclasses declare fields as annotations, without defaults::

    class Endpoint(Record):
        host: str
        port: int

Standard library only, Python 3.8+: this module is shipped to Ansible targets.
"""

from __future__ import annotations

__all__ = ["Record"]

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import NamedTuple as Record
else:
    from _operator import itemgetter

    class Record(tuple):
        """A tuple whose items are also attributes named by the class's annotations."""

        __slots__ = ()
        _fields: tuple = ()

        def __init_subclass__(cls) -> None:
            super().__init_subclass__()
            cls._fields = tuple(cls.__annotations__)  # strings under PEP 563, in order
            for index, name in enumerate(cls._fields):
                setattr(cls, name, property(itemgetter(index)))

        def __new__(cls, *values, **named):
            fields = cls._fields
            if not named and len(values) == len(fields):
                return tuple.__new__(cls, values)
            if len(values) > len(fields):
                raise TypeError(f"{cls.__name__}() takes {len(fields)} fields, got {len(values)}")
            unknown = set(named) - set(fields[len(values) :])
            if unknown:
                raise TypeError(f"{cls.__name__}() got unexpected or repeated {sorted(unknown)}")
            missing = [name for name in fields[len(values) :] if name not in named]
            if missing:
                raise TypeError(f"{cls.__name__}() is missing {missing}")
            return tuple.__new__(cls, values + tuple(named[n] for n in fields[len(values) :]))

        def __setattr__(self, name, value):  # subclasses have a __dict__: keep it empty
            raise AttributeError(f"{type(self).__name__} is read-only: use _replace")

        def __repr__(self) -> str:
            shown = ", ".join(f"{name}={value!r}" for name, value in zip(self._fields, self))
            return f"{type(self).__name__}({shown})"

        def __getnewargs__(self):  # pickling and copy
            return tuple(self)

        def _asdict(self) -> dict:
            """Return the fields as a dict, in order."""
            return dict(zip(self._fields, self))

        def _replace(self, **changes):
            """Return a copy with ``changes`` applied."""
            return type(self)(**{**self._asdict(), **changes})
