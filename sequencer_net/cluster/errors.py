"""The cluster tool's error for things the user can fix (a busy dir, a dead node, ...)."""


class ClusterError(Exception):
    """Reported as one line by the CLI, never as a traceback."""
