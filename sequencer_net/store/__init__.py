"""Durable state a node keeps: its chain of committed batches and its sign-state record.

The protocols here are what the node logic needs; :mod:`.memory` implements them for the
simulator (where "disk" survives a simulated crash because the simulator keeps the object).
"""

from __future__ import annotations

from typing import Protocol

from ..messages import CommittedBatch
from ..signstate import SignRecord


class ChainStore(Protocol):
    def last_height(self) -> int: ...

    def get(self, height: int) -> CommittedBatch | None: ...

    def append(self, entry: CommittedBatch) -> None:
        """Store the next committed batch durably (height ``last_height() + 1``)."""

    def tx_location(self, txid: bytes) -> tuple[int, int] | None:
        """(height, position) of a committed transaction."""


class SignStateStore(Protocol):
    def load(self) -> SignRecord | None: ...

    def save(self, record: SignRecord) -> None:
        """Persist durably before returning."""
