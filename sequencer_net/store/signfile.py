"""The durable sign-state record: a small fixed-size file, written in place and fsync'd.

A validator must never forget what it signed, or a restart could make it sign a conflicting
vote and be slashed. :meth:`FileSignStateStore.save` therefore returns only once the new record
is on disk. The file holds two slots; a save writes the record, with a sequence number and a
checksum, over the *older* slot and ``fdatasync``s it. A crash mid-write tears only that slot,
and the other still holds the previous record (whose save had returned); load takes the valid
slot with the higher sequence number. No rename and no directory fsync per signature: the
file is created once (written to a temp file, fsync'd, renamed, directory fsync'd) and its size
never changes afterwards.

The record holds digests, not batches (:class:`StoredSign`: the lock as rounds and batch ids),
so its size does not grow with the batch. The batches the lock names, which a restart needs to
re-propose its valid value, live in a second file (``<name>.values``), rewritten atomically
only when the lock names a batch that file does not hold yet (about once per height, when the
validator locks), always *before* the record that names it.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

from .. import codec
from ..consensus.machine import LockState
from ..signstate import SignRecord
from ..types import Batch, Step
from .errors import StoreError

SLOT_BYTES = 1024
_SEQ, _LEN, _SUM = 8, 4, 16
_HEADER = _SEQ + _LEN + _SUM


@codec.register(40)
@dataclass(frozen=True)
class LockRef:
    """A :class:`LockState` with its batches replaced by their ids."""

    round: int
    locked_round: int
    locked_id: bytes | None
    valid_round: int
    valid_id: bytes | None

    @classmethod
    def of(cls, lock: LockState) -> LockRef:
        locked, valid = lock.locked_value, lock.valid_value
        return cls(
            lock.round,
            lock.locked_round,
            None if locked is None else locked.id,
            lock.valid_round,
            None if valid is None else valid.id,
        )


@codec.register(41)
@dataclass(frozen=True)
class StoredSign:
    """What the sign-state file holds: what the guard compares, and the lock by digest."""

    height: int
    round: int
    step: Step
    payload: bytes
    signature: bytes
    lock: LockRef


def _checksum(seq: bytes, body: bytes) -> bytes:
    return hashlib.blake2b(seq + len(body).to_bytes(_LEN, "big") + body, digest_size=_SUM).digest()


def _slot(seq: int, body: bytes) -> bytes:
    if _HEADER + len(body) > SLOT_BYTES:
        raise ValueError(f"sign record of {len(body)} bytes does not fit a {SLOT_BYTES}-byte slot")
    raw = seq.to_bytes(_SEQ, "big")
    head = raw + len(body).to_bytes(_LEN, "big") + _checksum(raw, body)
    return (head + body).ljust(SLOT_BYTES, b"\x00")


def _parse(slot: bytes) -> tuple[int, bytes] | None:
    """(sequence number, body) of a slot, or None if it is torn or empty."""
    seq, size = slot[:_SEQ], int.from_bytes(slot[_SEQ : _SEQ + _LEN], "big")
    if size > SLOT_BYTES - _HEADER:
        return None
    body = slot[_HEADER : _HEADER + size]
    if slot[_SEQ + _LEN : _HEADER] != _checksum(seq, body):
        return None
    return int.from_bytes(seq, "big"), body


class FileSignStateStore:
    """A :class:`~sequencer_net.store.SignStateStore` in a file this process alone writes.

    The record is cached after the first load or any save: the replica loads it before every
    signature, and only this process changes the file."""

    def __init__(self, path: Path) -> None:
        self.path = path
        # Fixed names: a temp file left by a crash is simply overwritten by the next write.
        self._tmp = path.with_name(path.name + ".tmp")
        self.values_path = path.with_name(path.name + ".values")
        self._record: SignRecord | None = None
        self._seq = 0  # of the newest slot on disk; 0: no file yet
        self._held: frozenset[bytes] = frozenset()  # ids the values file holds
        self._loaded = False

    def erase(self) -> None:
        """Forget everything signed (the ``amnesia`` fault; never in normal operation)."""
        self.path.unlink(missing_ok=True)
        self.values_path.unlink(missing_ok=True)
        self._record, self._seq, self._held, self._loaded = None, 0, frozenset(), True

    def load(self) -> SignRecord | None:
        if not self._loaded:
            self._record = self._read()
            self._loaded = True
        return self._record

    def _corrupt(self, why: str) -> StoreError:
        return StoreError(
            f"{self.path}: corrupt sign state ({why}); refusing to guess what was signed"
        )

    def _read(self) -> SignRecord | None:
        try:
            data = self.path.read_bytes()
        except FileNotFoundError:
            self._seq, self._held = 0, frozenset()
            return None
        except OSError as exc:
            raise StoreError(f"{self.path}: cannot read sign state: {exc}") from None
        if len(data) != 2 * SLOT_BYTES:
            raise self._corrupt(f"{len(data)} bytes, expected {2 * SLOT_BYTES}")
        slots = [s for s in (_parse(data[:SLOT_BYTES]), _parse(data[SLOT_BYTES:])) if s]
        if not slots:
            raise self._corrupt("no intact slot")
        self._seq, body = max(slots)
        try:
            stored = codec.decode(body, StoredSign)
        except codec.DecodeError as exc:
            raise self._corrupt(str(exc)) from None
        values = self._read_values()
        self._held = frozenset(values)
        lock = stored.lock
        return SignRecord(
            stored.height,
            stored.round,
            stored.step,
            stored.payload,
            stored.signature,
            LockState(
                lock.round,
                lock.locked_round,
                self._value(values, lock.locked_id),
                lock.valid_round,
                self._value(values, lock.valid_id),
            ),
        )

    def _value(self, values: dict[bytes, Batch], batch_id: bytes | None) -> Batch | None:
        if batch_id is None:
            return None
        if batch_id not in values:
            raise self._corrupt(
                f"the lock names batch {batch_id.hex()[:16]}, not in {self.values_path.name}"
            )
        return values[batch_id]

    def _read_values(self) -> dict[bytes, Batch]:
        try:
            data = self.values_path.read_bytes()
        except FileNotFoundError:
            return {}
        except OSError as exc:
            raise StoreError(f"{self.values_path}: cannot read locked batches: {exc}") from None
        try:
            batches = codec.decode(data, tuple[Batch, ...])
        except codec.DecodeError as exc:
            raise self._corrupt(f"{self.values_path.name}: {exc}") from None
        return {b.id: b for b in batches}

    def save(self, record: SignRecord) -> None:
        """Persist ``record`` durably before returning."""
        self.load()  # which slot is older, and which batches the values file holds
        lock = record.lock
        values = {b.id: b for b in (lock.locked_value, lock.valid_value) if b is not None}
        stored = StoredSign(
            record.height,
            record.round,
            record.step,
            record.payload,
            record.signature,
            LockRef.of(lock),
        )
        slot = _slot(self._seq + 1, codec.encode(stored))
        try:
            if not values.keys() <= self._held:
                self._replace(self.values_path, codec.encode(tuple(values.values())))
                self._held = frozenset(values)
            if self._seq == 0:
                self._replace(self.path, bytes(SLOT_BYTES) + slot)  # sequence 1: slot 1
            else:
                self._write_slot(slot)
        except OSError as exc:
            self._loaded = False  # the file may hold either record now: reread it next time
            raise StoreError(f"{self.path}: cannot save sign state: {exc}") from None
        self._seq += 1
        self._record = record

    def _write_slot(self, slot: bytes) -> None:
        """Overwrite the older slot in place and wait for it to reach the disk."""
        fd = os.open(self.path, os.O_WRONLY)
        try:
            os.pwrite(fd, slot, (self._seq + 1) % 2 * SLOT_BYTES)
            os.fdatasync(fd)
        finally:
            os.close(fd)

    def _replace(self, target: Path, data: bytes) -> None:
        """Atomically replace ``target``: temp file, fsync, rename, directory fsync."""
        with open(self._tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(self._tmp, target)
        directory = os.open(target.parent, os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(directory)
        finally:
            os.close(directory)
