"""The two error types commands raise, one per exit status, and finding the real cause inside
trio's exception groups.

Exit statuses: 0 done, 1 the thing asked for did not happen (a timeout, a node that is down or
answers with an error, nothing found, a failed check), 2 usage error (bad arguments or values).
"""

from __future__ import annotations

from typing import TypeVar

E = TypeVar("E", bound=BaseException)

EXIT_FAILED = 1
EXIT_USAGE = 2


class UsageError(Exception):
    """A bad command line, flag value or config, shown as one line; exit status 2."""


class Failure(Exception):
    """What was asked did not happen (unreachable node, refused request, timeout, nothing
    found), shown as one line; exit status 1."""


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


def script_problem(exc: BaseException, startup_s: float) -> str | None:
    """A one-line reason for the failures a user of a cluster script (the demos) can act on,
    found inside trio's exception groups; None for anything else (a bug: let it show)."""
    import trio

    from ..api_protocol import ApiError
    from ..cluster.errors import ClusterError
    from ..config import ConfigError, SpecError

    for kind in (ApiError, ClusterError, ConfigError, SpecError, UsageError, OSError):
        cause = find_cause(exc, kind)
        if cause is not None:
            return str(cause)
    if find_cause(exc, trio.TooSlowError) is not None:
        return f"the cluster did not start committing within {startup_s:g} s"
    return None


def leaves(exc: BaseException) -> list[BaseException]:
    """The exceptions inside ``exc``'s (nested) groups, or ``[exc]`` itself."""
    if isinstance(exc, BaseExceptionGroup):
        return [leaf for inner in exc.exceptions for leaf in leaves(inner)]
    return [exc]
