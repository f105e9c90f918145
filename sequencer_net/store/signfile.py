"""The durable sign-state record: one small file, replaced atomically and fsync'd.

A validator must never forget what it signed, or a restart could make it sign a conflicting
vote and be slashed. :meth:`FileSignStateStore.save` therefore returns only once the new record
is on disk: written to a temp file beside the target, fsync'd, renamed over the target, and the
directory fsync'd so the rename itself survives a power loss. A crash at any point leaves either
the old record or the new one, never a torn file.
"""

from __future__ import annotations

import os
from pathlib import Path

from .. import codec
from ..signstate import SignRecord
from .errors import StoreError


class FileSignStateStore:
    """A :class:`~sequencer_net.store.SignStateStore` in a file this process alone writes.

    The record is cached after the first load or any save: the replica loads it before every
    signature, and only this process changes the file."""

    def __init__(self, path: Path) -> None:
        self.path = path
        # A fixed name: a temp file left by a crash is simply overwritten by the next save.
        self._tmp = path.with_name(path.name + ".tmp")
        self._record: SignRecord | None = None
        self._loaded = False

    def load(self) -> SignRecord | None:
        if not self._loaded:
            self._record = self._read()
            self._loaded = True
        return self._record

    def _read(self) -> SignRecord | None:
        try:
            data = self.path.read_bytes()
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise StoreError(f"{self.path}: cannot read sign state: {exc}") from None
        try:
            return codec.decode(data, SignRecord)
        except codec.DecodeError as exc:
            raise StoreError(
                f"{self.path}: corrupt sign state ({exc}); refusing to guess what was signed"
            ) from None

    def save(self, record: SignRecord) -> None:
        """Persist ``record`` durably before returning."""
        data = codec.encode(record)
        try:
            with open(self._tmp, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            os.replace(self._tmp, self.path)
            directory = os.open(self.path.parent, os.O_RDONLY | os.O_DIRECTORY)
            try:
                os.fsync(directory)
            finally:
                os.close(directory)
        except OSError as exc:
            self._loaded = False  # the file may hold either record now: reread it next time
            raise StoreError(f"{self.path}: cannot save sign state: {exc}") from None
        self._record = record
        self._loaded = True
