"""The one error the durable stores raise, so callers need not know about sqlite3 or OSError."""

from __future__ import annotations


class StoreError(Exception):
    """Stored state cannot be opened, read or written; the message names the file."""
