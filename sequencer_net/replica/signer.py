"""Signing through the double-sign guard: the sign-state record is durable before a
signature is handed out, so a crash can never make this node sign two values for one step."""

from __future__ import annotations

from .. import signstate
from ..consensus import LockState
from ..crypto import PrivateKey
from ..signstate import SignRecord, Verdict
from ..store import SignStateStore
from ..types import Proposal, Step, Vote, VoteKind, proposal_payload, vote_payload
from .outputs import Output, Rejected


class GuardedSigner:
    def __init__(
        self, key: PrivateKey, chain_id: str, store: SignStateStore, outputs: list[Output]
    ) -> None:
        self.key = key
        self.chain_id = chain_id
        self.store = store
        self._outputs = outputs
        self.signed = 0  # consensus signatures made, each after one sign-state fsync

    def last_record(self) -> SignRecord | None:
        return self.store.load()

    def proposal(
        self, height: int, round: int, pol_round: int, batch_id: bytes, lock: LockState
    ) -> Proposal | None:
        payload = proposal_payload(height, round, pol_round, batch_id)
        signature = self._sign(height, round, Step.PROPOSE, "proposal", payload, lock)
        if signature is None:
            return None
        return Proposal(height, round, pol_round, batch_id, self.key.public_key, signature)

    def vote(
        self, kind: VoteKind, height: int, round: int, value: bytes | None, lock: LockState
    ) -> Vote | None:
        payload = vote_payload(kind, height, round, value)
        signature = self._sign(height, round, kind.step, kind.name.lower(), payload, lock)
        if signature is None:
            return None
        return Vote(kind, height, round, value, self.key.public_key, signature)

    def _sign(
        self, height: int, round: int, step: Step, kind: str, payload: bytes, lock: LockState
    ) -> bytes | None:
        """Sign if the guard allows; the record is saved (fsync) before we return."""
        record = self.store.load()
        verdict = signstate.check(record, height, round, step, payload)
        if verdict is Verdict.REFUSE:
            self._outputs.append(Rejected(None, f"refused to sign {kind} at {height}/{round}"))
            return None
        if verdict is Verdict.REUSE:
            assert record is not None  # check() reuses only a record it was given
            return record.signature
        signature = self.key.sign(self.chain_id, kind, payload)
        self.store.save(SignRecord(height, round, step, payload, signature, lock))
        self.signed += 1
        return signature
