"""Admitting transactions and evidence: from clients, and evidence found by
comparing the proposal we hold with one a peer echoes (an equivocation)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from ..api_protocol import ALREADY_COMMITTED, BUSY
from ..evidence import evidence_problem
from ..messages import EvidenceGossip, ProposalEcho
from ..types import Evidence, Proposal, Vote, VoteKind, make_evidence, tx_id, tx_namespace
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
        return evidence_problem(evidence, r.chain_id, r.validators, r.height, max_age)

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
