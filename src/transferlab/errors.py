"""The one exception type for bad user input.

Every boundary check raises :class:`InputError`; the CLI turns it into one line on stderr and
exit code 2. Messages say what was expected, what was found and how to fix it.
"""

from __future__ import annotations

from collections.abc import Iterable


class InputError(ValueError):
    """Bad input from a user: a spec, a data file, a name, a parameter."""


class DataWarning(UserWarning):
    """Something a run did to the data that the user must hear about (rows dropped, ...).

    The study driver records these in the summary's notes; the CLI prints them as one line each.
    """


def unknown_name(kind: str, name: str, known: Iterable[str]) -> InputError:
    """The error for a name that is not registered, listing the registered ones."""
    listed = ", ".join(sorted(known)) or "(none)"
    plural = kind[:-1] + "ies" if kind.endswith("y") else kind + "s"
    return InputError(f"unknown {kind} {name!r}; known {plural}: {listed}")


def bad_parameter(owner: str, param: str, found: object, allowed: str) -> InputError:
    """The error for a parameter value outside its allowed range."""
    return InputError(f"{owner}: parameter {param!r} must be {allowed}, got {found!r}")


def first_line(exc: BaseException) -> str:
    """The first non-empty line of an exception's message (its type's name when it has none):
    what a one-line error quotes from a library's multi-line one."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    return lines[0] if lines else type(exc).__name__
