"""The one error type commands raise for bad input (shown as one line, exit status 2), and
finding the real cause inside trio's exception groups."""

from __future__ import annotations

from typing import TypeVar

E = TypeVar("E", bound=BaseException)


class UsageError(Exception):
    """A bad command line, config or unreachable node, reported without a traceback."""


def find_cause(exc: BaseException, kind: type[E]) -> E | None:
    """The first exception of ``kind`` in ``exc``, looking inside exception groups (trio wraps
    a failing task's exception in one)."""
    if isinstance(exc, kind):
        return exc
    if isinstance(exc, BaseExceptionGroup):
        for inner in exc.exceptions:
            found = find_cause(inner, kind)
            if found is not None:
                return found
    return None
