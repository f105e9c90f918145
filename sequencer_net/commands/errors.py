"""The one error type commands raise for bad input: shown as one line, exit status 2."""


class UsageError(Exception):
    """A bad command line, config or unreachable node, reported without a traceback."""
