"""Admitting transactions and evidence: from clients, and evidence found by
comparing the proposal we hold with one a peer echoes (an equivocation)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from ..api_protocol import ALREADY_COMMITTED, BUSY
from ..evidence import evidence_problem
from ..messages import EvidenceGossip, ProposalEcho
from ..threshold.envelope import tx_problem as encrypted_tx_problem
from ..types import (
    MAX_BUNDLE_BYTES,
    MAX_BUNDLE_TXS,
    Evidence,
    Proposal,
    Vote,
    VoteKind,
    make_evidence,
    tx_id,
    tx_namespace,
)
from .lanes import HeldCertificate
from .outputs import EvidenceFound, Output, PeerId, Rejected, Send

if TYPE_CHECKING:
    from .core import Replica


class Admission:
    def __init__(self, replica: Replica, outputs: list[Output]) -> None:
        self._replica = replica
        self._outputs = outputs
        self._echoed_rounds: set[int] = set()

    def new_height(self) -> None:
        self._echoed_rounds = set()

    def admit_tx(self, encoded: bytes, omit: Callable[[bytes], bool] | None) -> bytes | None:
        """Put a client's transaction in this node's lane; its id, or None with the reason
        the client is told. One already pending here is acknowledged again; one the
        genesis namespace registry does not admit is refused before anything else."""
        r = self._replica
        try:
            namespace = tx_namespace(encoded)
        except ValueError as exc:
            self._outputs.append(Rejected(None, f"malformed transaction: {exc}"))
            return None
        registry = r.lanes.registry
        admits = registry.lookup(namespace)
        if admits is None or len(encoded) > admits[1]:
            problem = registry.problem(namespace, len(encoded))
            self._outputs.append(Rejected(None, f"refused: {problem}"))
            return None
        problem = encrypted_tx_problem(r.genesis.private, encoded)
        if problem:
            self._outputs.append(Rejected(None, f"refused: {problem}"))
            return None
        ns_id = admits[0]
        txid = tx_id(encoded)
        if r.chain.tx_location(txid) is not None:
            self._outputs.append(Rejected(None, ALREADY_COMMITTED))
            return None
        if txid in r.lanes:
            return txid
        if not r.lanes.has_room(len(encoded), ns_id):
            self._outputs.append(Rejected(None, BUSY))
            return None
        r.lanes.add_client_tx(encoded, txid, omit, ns_id)
        return txid

    def admit_bundle(
        self, encoded_txs: Sequence[bytes], omit: Callable[[bytes], bool] | None
    ) -> tuple[bytes, ...] | None:
        """Put a client's atomic bundle in this node's lane as one bundle chunk; the ids, or
        None with the reason. Every transaction must pass :meth:`admit_tx`'s checks and none
        may be committed or pending here already (it would commit apart from the bundle); the
        same bundle again is acknowledged again. A censoring fault acknowledges a bundle with
        a transaction it picks and drops it whole."""
        r = self._replica
        problem, ids, ns_ids = self._bundle_problem(encoded_txs)
        if problem is not None:
            self._outputs.append(Rejected(None, problem))
            return None
        if any(txid in r.lanes for txid in ids):
            if self._is_pending_bundle(ids):
                return ids  # the same bundle again (a client that retried)
            self._outputs.append(Rejected(None, "refused: a transaction of the bundle is pending"))
            return None
        if r.chain.committed_among(ids):
            self._outputs.append(Rejected(None, f"refused: bundle {ALREADY_COMMITTED}"))
            return None
        size = sum(len(tx) for tx in encoded_txs)
        if not all(r.lanes.has_room(size, ns) for ns in set(ns_ids)) or not r.lanes.has_room_for(
            len(ids), size
        ):
            self._outputs.append(Rejected(None, BUSY))
            return None
        if omit is None or not any(omit(tx) for tx in encoded_txs):
            txs = dict(zip(ids, encoded_txs, strict=True))
            r.lanes.add_bundle(txs, dict(zip(ids, ns_ids, strict=True)))
        return ids

    def _is_pending_bundle(self, ids: tuple[bytes, ...]) -> bool:
        lanes = self._replica.lanes
        digests = {lanes.pending_chunk(txid) for txid in ids}
        chunk = lanes.chunks.get(digests.pop() or b"") if len(digests) == 1 else None
        return chunk is not None and chunk.bundle and chunk.tx_ids == ids

    def _bundle_problem(
        self, encoded_txs: Sequence[bytes]
    ) -> tuple[str | None, tuple[bytes, ...], list[int]]:
        """Why a bundle is refused before any state is read, its ids and namespace ids."""
        if not 0 < len(encoded_txs) <= MAX_BUNDLE_TXS:
            return f"refused: a bundle holds 1..{MAX_BUNDLE_TXS} transactions", (), []
        size = sum(len(tx) for tx in encoded_txs)
        if size > MAX_BUNDLE_BYTES:
            return f"refused: bundle of {size} bytes exceeds {MAX_BUNDLE_BYTES}", (), []
        params = self._replica.params
        if len(encoded_txs) > params.max_batch_txs or size > params.max_batch_bytes:
            return "refused: the bundle is larger than a batch of this chain can hold", (), []
        registry = self._replica.lanes.registry
        ns_ids = []
        for i, encoded in enumerate(encoded_txs):
            try:
                namespace = tx_namespace(encoded)
            except ValueError as exc:
                return f"malformed transaction {i} of the bundle: {exc}", (), []
            admits = registry.lookup(namespace)
            if admits is None or len(encoded) > admits[1]:
                problem = registry.problem(namespace, len(encoded))
                return f"refused: transaction {i} of the bundle: {problem}", (), []
            ns_ids.append(admits[0])
        ids = tuple(tx_id(tx) for tx in encoded_txs)
        if len(set(ids)) != len(ids):
            return "refused: a bundle carries a transaction twice", (), []
        return None, ids, ns_ids

    def overdue(self, built_ms: int) -> list[HeldCertificate]:
        """Certified chunks held long enough that a batch built at ``built_ms`` must carry
        them."""
        r = self._replica
        params = r.genesis.params
        deadline, grace = params.inclusion_deadline, params.inclusion_grace_ms
        return r.lanes.overdue(r.height, deadline, built_ms, grace)

    def evidence_problem(self, evidence: Evidence) -> str | None:
        r = self._replica
        max_age = r.genesis.params.max_evidence_age
        return evidence_problem(
            evidence, r.chain_id, r.validators, r.height, max_age, r.decryption.leak_problem
        )

    def add_evidence(self, evidence: Evidence, peer: PeerId | None) -> None:
        """Pool evidence that passes the checks, report it and gossip it, once."""
        r = self._replica
        if evidence in r.evidence:
            return
        offender = r.validators.get(evidence.offender)
        if offender is not None and offender.jailed:
            return  # late news: already punished, not a fault of whoever sent it
        problem = self.evidence_problem(evidence)
        if problem:
            if peer is not None:
                self._outputs.append(Rejected(peer, f"evidence refused: {problem}"))
            return
        if r.evidence.add(evidence):
            self._outputs.append(EvidenceFound(evidence))
            self._outputs.append(Send(None, EvidenceGossip(evidence)))

    def echo_if_conflicting(self, vote: Vote) -> None:
        """A prevote for a value other than the proposal we hold for its round means someone
        equivocated: echo our proposal (once per round) so a holder of the other can tell."""
        if vote.kind is not VoteKind.PREVOTE or vote.value is None:
            return
        known = self._replica.driver.proposal(vote.round)
        if known is None or known.batch_id == vote.value or vote.round in self._echoed_rounds:
            return
        self._echoed_rounds.add(vote.round)
        self._outputs.append(Send(None, ProposalEcho(known)))

    def compare_echo(self, peer: PeerId, proposal: Proposal) -> None:
        r = self._replica
        if proposal.height != r.height:
            return
        known = r.driver.proposal(proposal.round)
        if known is None or known.payload == proposal.payload:
            return
        if proposal.proposer != known.proposer or not proposal.verify(r.chain_id):
            self._outputs.append(Rejected(peer, "echoed proposal does not verify"))
            return
        self.add_evidence(make_evidence(known, proposal), None)
