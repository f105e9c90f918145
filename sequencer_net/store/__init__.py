"""Durable state a node keeps: its chain of committed batches and its sign-state record.

The protocols here are what the node logic needs; :mod:`.memory` implements them for the
simulator (where "disk" survives a simulated crash because the simulator keeps the object).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from ..evidence import SlashRecord
from ..messages import CommittedBatch
from ..signstate import SignRecord
from ..validators import ValidatorSetSnapshot


class ChainStore(Protocol):
    def last_height(self) -> int: ...

    def get(self, height: int) -> CommittedBatch | None: ...

    def get_many(self, from_height: int, limit: int) -> list[CommittedBatch]:
        """The stored batches among heights ``from_height .. from_height + limit - 1``."""

    def append(
        self,
        entry: CommittedBatch,
        slashes: Sequence[SlashRecord] = (),
        validators: ValidatorSetSnapshot | None = None,
        failed_proposers: Sequence[bytes] = (),
    ) -> None:
        """Store the next committed batch durably (height ``last_height() + 1``), with what its
        evidence did, the set for the next height (when it changed, or as a checkpoint) and the
        proposers of the rounds that failed at the *previous* height, by round, as the batch's
        ``last_commit`` (the certificate the chain agreed on) records them."""

    def tx_location(self, txid: bytes) -> tuple[int, int] | None:
        """(height, position) of a committed transaction."""

    def committed_among(self, txids: Sequence[bytes]) -> set[bytes]:
        """Those of ``txids`` a stored height committed (in bulk: one call per batch)."""

    def slash_records(self) -> list[SlashRecord]:
        """Every slashing so far, in commit order."""

    def proposer_failures(self, since_height: int) -> list[tuple[int, bytes]]:
        """(height, proposer) of every failed round from ``since_height`` on."""

    def validator_set_change(self, height: int) -> tuple[int, ValidatorSetSnapshot] | None:
        """The latest stored set taking effect at or before ``height``, with its height."""


class SignStateStore(Protocol):
    def load(self) -> SignRecord | None: ...

    def save(self, record: SignRecord) -> None:
        """Persist durably before returning."""
