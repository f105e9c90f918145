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
re-propose its valid value, live in a second file (``<name>.values``): a log of checksummed
records, one appended and ``fdatasync``'d whenever the lock names a batch the file does not
hold yet (about once per height, when the validator locks), always *before* the record that
names it. A torn last record is a save that never returned, and is cut off. Every
``VALUES_MAX_RECORDS`` appends the log is rewritten atomically (temp file, rename) with just
the batches the old and the new record name. An append costs one ``fdatasync`` where a rewrite
per height cost a file, an fsync, a rename and a directory fsync, on the path to every
precommit.
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
VALUES_MAX_RECORDS = 64  # appends to the values log before it is rewritten with what is named


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


def _value_record(batch: Batch) -> bytes:
    body = codec.encode(batch)
    size = len(body).to_bytes(_LEN, "big")
    return size + hashlib.blake2b(size + body, digest_size=_SUM).digest() + body


def _parse_values(data: bytes) -> tuple[list[bytes], int]:
    """The intact records' bodies of a values log, and where the intact prefix ends."""
    bodies, at = [], 0
    while at + _LEN + _SUM <= len(data):
        size = int.from_bytes(data[at : at + _LEN], "big")
        end = at + _LEN + _SUM + size
        body = data[at + _LEN + _SUM : end]
        if (
            end > len(data)
            or data[at + _LEN : at + _LEN + _SUM]
            != hashlib.blake2b(data[at : at + _LEN] + body, digest_size=_SUM).digest()
        ):
            break
        bodies.append(body)
        at = end
    return bodies, at


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
        self._held: set[bytes] = set()  # ids the values log holds
        self._values_end = 0  # where the next record goes; 0: no log yet (create it)
        self._values_records = 0
        self._values_torn = False  # a torn tail follows _values_end: cut it before appending
        self._loaded = False

    def erase(self) -> None:
        """Forget everything signed (the ``amnesia`` fault; never in normal operation)."""
        self.path.unlink(missing_ok=True)
        self.values_path.unlink(missing_ok=True)
        self._record, self._seq, self._held, self._loaded = None, 0, set(), True
        self._values_end = self._values_records = 0

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
            self._seq, self._held, self._values_end = 0, set(), 0
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
        self._held = set(values)
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
            self._values_end = self._values_records = 0
            return {}
        except OSError as exc:
            raise StoreError(f"{self.values_path}: cannot read locked batches: {exc}") from None
        bodies, self._values_end = _parse_values(data)
        self._values_records, self._values_torn = len(bodies), self._values_end < len(data)
        try:
            if not bodies and data[:1] not in (b"", b"\x00"):
                # Written before the log (one msgpack array): read it, rewrite it on the next lock.
                self._values_end = self._values_records = 0
                return {b.id: b for b in codec.decode(data, tuple[Batch, ...])}
            batches = [codec.decode(body, Batch) for body in bodies]
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
                self._keep_values(values)
            if self._seq == 0:
                self._replace(self.path, bytes(SLOT_BYTES) + slot)  # sequence 1: slot 1
            else:
                self._write_slot(slot)
        except OSError as exc:
            self._loaded = False  # the file may hold either record now: reread it next time
            raise StoreError(f"{self.path}: cannot save sign state: {exc}") from None
        self._seq += 1
        self._record = record

    def _keep_values(self, values: dict[bytes, Batch]) -> None:
        """Make the values log hold ``values`` (and still those the record on disk names)."""
        new = [b for batch_id, b in values.items() if batch_id not in self._held]
        if self._values_end and self._values_records + len(new) <= VALUES_MAX_RECORDS:
            records = b"".join(_value_record(b) for b in new)
            fd = os.open(self.values_path, os.O_WRONLY)
            try:
                if self._values_torn:
                    os.ftruncate(fd, self._values_end)
                    self._values_torn = False
                os.pwrite(fd, records, self._values_end)
                os.fdatasync(fd)
            finally:
                os.close(fd)
            self._held.update(b.id for b in new)
            self._values_end += len(records)
            self._values_records += len(new)
            return
        previous = self._record.lock if self._record is not None else None
        kept = dict(values)
        if previous is not None:
            for b in (previous.locked_value, previous.valid_value):
                if b is not None:
                    kept.setdefault(b.id, b)
        data = b"".join(_value_record(b) for b in kept.values())
        self._replace(self.values_path, data)
        self._held, self._values_end, self._values_records = set(kept), len(data), len(kept)
        self._values_torn = False

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
