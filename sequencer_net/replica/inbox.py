"""Consensus messages from peers: the cheap checks before the core sees them, forced
inclusion's verdict on fresh proposals, and messages for the next height kept until then."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .. import censorship
from ..censorship import FORCED_ROUNDS
from ..consensus import Effect, ProposalReceived, VoteReceived
from ..messages import ProposalMessage
from ..types import NIL_ROUND, Batch, Proposal, Vote
from . import validity
from .outputs import InclusionEnforced, Output, PeerId, Rejected

if TYPE_CHECKING:
    from .core import Replica

# Rounds above ours a message may claim: the proposer of round r costs up to r steps to find,
# so a far-off claim is dropped before any work grows with it. Honest rounds stay much closer.
MAX_ROUNDS_AHEAD = 1_000
MAX_BUFFERED_PROPOSALS = 16  # early proposals kept for the next height (each up to a frame)


class Inbox:
    def __init__(self, replica: Replica, outputs: list[Output]) -> None:
        self._replica = replica
        self._outputs = outputs
        self._next_height_messages: list[tuple[PeerId, ProposalMessage | Vote]] = []
        self._buffered_proposals = 0  # of them

    def consensus_message(self, peer: PeerId, message: ProposalMessage | Vote) -> list[Effect]:
        r = self._replica
        height, claimed = _height_round(message)
        if height > r.height:
            r.catchup.note_ahead(peer, height)
            if height == r.height + 1 and self._worth_buffering(message):
                self._next_height_messages.append((peer, message))
            return []
        if height < r.height:
            return []
        if claimed > r.round + MAX_ROUNDS_AHEAD:
            return self._reject(peer, f"round {claimed} is too far ahead of ours")
        if isinstance(message, Vote):
            if message.validator not in r.validators:
                return self._reject(peer, "vote from a key outside the validator set")
            if not message.verify(r.chain_id):
                return self._reject(peer, "vote with a bad signature")
            r.admission.echo_if_conflicting(message)
            return r.driver.step(VoteReceived(message))
        proposal, batch = message.proposal, message.batch
        # Cheap checks and the signature first: the batch id encodes the whole header (its
        # certificate too), and finding the round's proposer grows with the round.
        if proposal.proposer not in r.validators:
            return self._reject(peer, "proposal from a key outside the validator set")
        if not proposal.verify(r.chain_id):
            return self._reject(peer, "proposal with a bad signature")
        if proposal.batch_id != batch.id:
            return self._reject(peer, "proposal signs a different batch than it carries")
        if proposal.proposer != r.validators.proposer_for_round(proposal.round).public_key:
            return self._reject(peer, "proposal from a validator that is not the round's proposer")
        problem = validity.proposal_problem(r.view(), proposal, batch)
        if problem:
            self._outputs.append(Rejected(peer, f"invalid batch: {problem}"))
        acceptable = True
        if problem is None and self._first_proposal(proposal):
            acceptable = self._inclusion_verdict(proposal, batch)
        return r.driver.step(ProposalReceived(proposal, batch, problem is None, acceptable))

    def replay_early(self) -> list[Effect]:
        """After a commit: handle the messages that arrived for the height now current."""
        effects: list[Effect] = []
        early, self._next_height_messages = self._next_height_messages, []
        self._buffered_proposals = 0
        for peer, message in early:
            effects.extend(self.consensus_message(peer, message))
        return effects

    def _worth_buffering(self, message: ProposalMessage | Vote) -> bool:
        """Keep an early message for the next height only if a validator signed it (the next
        set's keys are a subset of ours: sets only jail), within bounds. A proposal carries
        a batch of up to a whole frame, so at most MAX_BUFFERED_PROPOSALS of them are kept;
        an honest proposer re-broadcasts anyway."""
        r = self._replica
        if len(self._next_height_messages) >= r.params.max_buffered_messages:
            return False
        if isinstance(message, Vote):
            return message.validator in r.validators and message.verify(r.chain_id)
        proposal = message.proposal
        if self._buffered_proposals >= MAX_BUFFERED_PROPOSALS:
            return False
        if proposal.proposer not in r.validators or not proposal.verify(r.chain_id):
            return False
        self._buffered_proposals += 1
        return True

    def _first_proposal(self, proposal: Proposal) -> bool:
        """Count a fresh proposal the first time it arrives (rebroadcasts repeat it)."""
        driver = self._replica.driver
        if proposal.pol_round != NIL_ROUND or not driver.started:
            return False
        if driver.proposal(proposal.round):
            return False
        self._replica.censorship.proposers[proposal.proposer].proposals += 1
        return True

    def _inclusion_verdict(self, proposal: Proposal, batch: Batch) -> bool:
        """Forced inclusion: False (prevote nil) when the batch leaves out a certified chunk
        overdue here although it had room, in the first rounds of a height."""
        r = self._replica
        params = r.genesis.params
        # When the batch was built, by its header (every node judges one proposal alike); a
        # proposer that backdates it only moves the cutoff back towards its parent's time.
        due = r.admission.overdue(min(batch.header.timestamp_ms, r.now_ms))
        certs = [h.cert for h in due]
        omitted = censorship.omits(batch, certs, r.batch_limits, r.lanes.batch_shares)
        if not omitted:
            return True
        stats = r.censorship
        stats.proposers[proposal.proposer].overdue_omitted += 1
        stats.record_starved(batch, certs, r.lanes.batch_shares)
        if not params.forced_inclusion or proposal.round >= FORCED_ROUNDS:
            return True
        stats.inclusion_nil_prevotes += 1
        self._outputs.append(
            InclusionEnforced(r.height, proposal.round, proposal.proposer, omitted)
        )
        return False

    def _reject(self, peer: PeerId, reason: str) -> list[Effect]:
        self._outputs.append(Rejected(peer, reason))
        return []


def _height_round(message: ProposalMessage | Vote) -> tuple[int, int]:
    if isinstance(message, ProposalMessage):
        return message.proposal.height, message.proposal.round
    return message.height, message.round
