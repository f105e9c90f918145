"""In-memory stores for the simulator and tests."""

from __future__ import annotations

from collections.abc import Sequence

from ..evidence import SlashRecord
from ..messages import CommittedBatch
from ..signstate import SignRecord
from ..validators import ValidatorSetSnapshot


class MemoryChainStore:
    def __init__(self) -> None:
        self._entries: list[CommittedBatch] = []
        self._tx_index: dict[bytes, tuple[int, int]] = {}
        self._slashes: list[SlashRecord] = []
        self._sets: dict[int, ValidatorSetSnapshot] = {}
        self._failures: list[tuple[int, bytes]] = []

    def last_height(self) -> int:
        return len(self._entries)

    def get(self, height: int) -> CommittedBatch | None:
        return self._entries[height - 1] if 1 <= height <= len(self._entries) else None

    def get_many(self, from_height: int, limit: int) -> list[CommittedBatch]:
        return self._entries[max(from_height, 1) - 1 : max(from_height + limit - 1, 0)]

    def append(
        self,
        entry: CommittedBatch,
        slashes: Sequence[SlashRecord] = (),
        validators: ValidatorSetSnapshot | None = None,
        failed_proposers: Sequence[bytes] = (),
    ) -> None:
        if entry.height != len(self._entries) + 1:
            raise ValueError(f"expected height {len(self._entries) + 1}, got {entry.height}")
        self._entries.append(entry)
        for position, txid in enumerate(entry.tx_ids):
            self._tx_index[txid] = (entry.height, position)  # a repeat: its latest commit
        self._slashes.extend(slashes)
        if validators is not None:
            self._sets[entry.height + 1] = validators
        self._failures.extend((entry.height - 1, key) for key in failed_proposers)

    def proposer_failures(self, since_height: int) -> list[tuple[int, bytes]]:
        return [f for f in self._failures if f[0] >= since_height]

    def slash_records(self) -> list[SlashRecord]:
        return list(self._slashes)

    def validator_set_change(self, height: int) -> tuple[int, ValidatorSetSnapshot] | None:
        stored = [h for h in self._sets if h <= height]
        return (max(stored), self._sets[max(stored)]) if stored else None

    def tx_location(self, txid: bytes) -> tuple[int, int] | None:
        return self._tx_index.get(txid)

    def committed_among(self, txids: Sequence[bytes]) -> set[bytes]:
        return self._tx_index.keys() & set(txids)


class MemorySignStateStore:
    def __init__(self) -> None:
        self._record: SignRecord | None = None

    def load(self) -> SignRecord | None:
        return self._record

    def save(self, record: SignRecord) -> None:
        self._record = record
