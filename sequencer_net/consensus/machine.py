"""Tendermint consensus for one height: Algorithm 1 of "The latest gossip on BFT consensus"
(Buchman, Kwon, Milosevic 2018), as a pure state machine.

Inputs are recorded first; then every rule of the algorithm whose guard now holds fires, until
none does. Each rule is one method named after the line of Algorithm 1 that states it, so the
code can be read against the paper. Rules marked "for the first time" in the paper keep a
per-round flag.
"""

from __future__ import annotations

from dataclasses import dataclass

from .. import codec
from ..types import (
    NIL_ROUND,
    Batch,
    Certificate,
    CommitSig,
    Proposal,
    Step,
    VoteKind,
    make_evidence,
)
from ..validators import ValidatorSet
from .config import ConsensusConfig
from .events import (
    CastVote,
    Decide,
    Effect,
    GetValue,
    Input,
    ProposalReceived,
    Propose,
    ReportEvidence,
    RoundStarted,
    ScheduleTimeout,
    TimeoutElapsed,
    ValueReady,
    VoteReceived,
)
from .votekeeper import VoteKeeper


@codec.register(31)
@dataclass(frozen=True)
class LockState:
    """What a validator must remember across a restart within a height: its round, lock and
    valid value. Losing the lock could make it prevote against a value it precommitted."""

    round: int = 0
    locked_round: int = NIL_ROUND
    locked_value: Batch | None = None
    valid_round: int = NIL_ROUND
    valid_value: Batch | None = None


@dataclass(frozen=True)
class _ReceivedProposal:
    proposal: Proposal
    batch: Batch
    valid: bool
    acceptable: bool


class HeightMachine:
    """One validator's view of one height. ``me`` is None for a non-voting observer."""

    def __init__(
        self,
        config: ConsensusConfig,
        height: int,
        validators: ValidatorSet,
        me: bytes | None,
        restored: LockState | None = None,
    ) -> None:
        state = restored or LockState()
        self.config = config
        self.height = height
        self.validators = validators
        self.me = me
        self.round = state.round
        self.step = Step.PROPOSE
        self.locked_round = state.locked_round
        self.locked_value = state.locked_value
        self.valid_round = state.valid_round
        self.valid_value = state.valid_value
        self.decision: Batch | None = None
        self.votes = VoteKeeper(height, validators)
        self._proposals: dict[int, _ReceivedProposal] = {}
        self._once: set[tuple[str, int]] = set()
        self._effects: list[Effect] = []

    # ---- public interface ------------------------------------------------------------------

    def start(self) -> list[Effect]:
        """Begin the height (paper line 10: ``upon start do StartRound(0)``)."""
        self._start_round(self.round)
        self._apply_rules()
        return self._take_effects()

    def step_input(self, event: Input) -> list[Effect]:
        """Feed one input; return the effects it causes, in order."""
        if self.decision is None:
            self._record(event)
            self._apply_rules()
        return self._take_effects()

    def lock_state(self) -> LockState:
        return LockState(
            self.round, self.locked_round, self.locked_value, self.valid_round, self.valid_value
        )

    def proposal(self, round: int) -> Proposal | None:
        """The first proposal kept for ``round``, if any."""
        known = self._proposals.get(round)
        return known.proposal if known is not None else None

    def proposal_verdict(self, round: int) -> tuple[bool, bool] | None:
        """(valid, acceptable) of the proposal kept for ``round``, if any."""
        known = self._proposals.get(round)
        return (known.valid, known.acceptable) if known is not None else None

    def is_proposer(self, round: int) -> bool:
        return (
            self.me is not None and self.validators.proposer_for_round(round).public_key == self.me
        )

    # ---- recording inputs ------------------------------------------------------------------

    def _record(self, event: Input) -> None:
        match event:
            case ProposalReceived(proposal, batch, valid, acceptable):
                self._record_proposal(proposal, batch, valid, acceptable)
            case VoteReceived(vote):
                if self._round_in_range(vote.round):
                    result = self.votes.add(vote)
                    if result.evidence is not None:
                        self._emit(ReportEvidence(result.evidence))
            case TimeoutElapsed(step, height, round) if height == self.height:
                self._on_timeout(step, round)
            case ValueReady(height, round, batch):
                self._on_value(height, round, batch)

    def _round_in_range(self, round: int) -> bool:
        return round <= self.round + self.config.max_round_skew

    def _record_proposal(
        self, proposal: Proposal, batch: Batch, valid: bool, acceptable: bool
    ) -> None:
        """Keep the first proposal from the round's proposer; a second, different one is
        equivocation."""
        if (
            proposal.height != self.height
            or proposal.batch_id != batch.id
            or not self._round_in_range(proposal.round)
            or self.validators.proposer_for_round(proposal.round).public_key != proposal.proposer
        ):
            return
        known = self._proposals.get(proposal.round)
        if known is None:
            self._proposals[proposal.round] = _ReceivedProposal(proposal, batch, valid, acceptable)
            self.votes.note_sender(proposal.round, proposal.proposer)
        elif known.proposal.payload != proposal.payload:
            self._emit(ReportEvidence(make_evidence(known.proposal, proposal)))

    # ---- the rules -------------------------------------------------------------------------

    def _apply_rules(self) -> None:
        """Fire rules until none applies. A decision ends the height."""
        while self.decision is None:
            if self._l49_decide():
                return
            if self._l55_skip_round() or self._skip_lost_round():
                continue
            self._l34_schedule_prevote_timeout()
            self._l47_schedule_precommit_timeout()
            fired = (
                self._l22_prevote_fresh_proposal()
                or self._l28_prevote_repeated_proposal()
                or self._l36_lock_and_precommit()
                or self._l44_precommit_nil()
            )
            if not fired:
                return

    def _start_round(self, round: int) -> None:
        """StartRound (L11-L21)."""
        self.round = round
        self.step = Step.PROPOSE
        self._emit(RoundStarted(self.height, round))
        if self.is_proposer(round):
            if self.valid_value is not None:  # L15: re-propose the valid value with its POL round
                self._emit(Propose(self.height, round, self.valid_round, self.valid_value))
            else:  # L18: getValue()
                self._emit(GetValue(self.height, round))
        # L21. Also scheduled when we propose, so a proposer whose own proposal never
        # materialises (its caller refused to sign it again after a restart) still moves on.
        self._schedule(Step.PROPOSE, round)

    def _on_value(self, height: int, round: int, batch: Batch) -> None:
        """L19: broadcast the fresh value we were asked for, if we still propose this round."""
        current = (height, round) == (self.height, self.round) and self.step == Step.PROPOSE
        if current and self.is_proposer(round) and self._first_time("propose", round):
            self._emit(Propose(self.height, round, NIL_ROUND, batch))

    def _current_proposal(self) -> _ReceivedProposal | None:
        return self._proposals.get(self.round)

    def _l22_prevote_fresh_proposal(self) -> bool:
        """L22: a fresh proposal (pol_round -1) in the propose step. Forced inclusion adds one
        condition to the paper's: the proposal must not leave out a transaction overdue here."""
        received = self._current_proposal()
        if self.step != Step.PROPOSE or received is None or received.proposal.pol_round != -1:
            return False
        value = received.batch.id
        ok = received.valid and received.acceptable and self._free_to_prevote(value, NIL_ROUND)
        self._prevote(value if ok else None)
        return True

    def _l28_prevote_repeated_proposal(self) -> bool:
        """L28: a re-proposal with POL round vr < r, backed by a quorum of prevotes in vr."""
        received = self._current_proposal()
        if self.step != Step.PROPOSE or received is None:
            return False
        vr = received.proposal.pol_round
        value = received.batch.id
        if not (0 <= vr < self.round and self.votes.has_quorum_for(vr, VoteKind.PREVOTE, value)):
            return False
        ok = received.valid and self._free_to_prevote(value, vr)
        self._prevote(value if ok else None)
        return True

    def _free_to_prevote(self, value: bytes, pol_round: int) -> bool:
        """The lock check of L23 and L29: unlocked (or locked no later than the value's POL
        round), or locked on this very value."""
        if self.locked_value is not None and self.locked_value.id == value:
            return True
        return self.locked_round <= pol_round

    def _l34_schedule_prevote_timeout(self) -> None:
        """L34: a quorum of prevotes for anything, in the prevote step, for the first time."""
        quorum = self.votes.has_quorum_of_any(self.round, VoteKind.PREVOTE)
        if self.step == Step.PREVOTE and quorum and self._first_time("l34", self.round):
            self._schedule(Step.PREVOTE, self.round)

    def _l36_lock_and_precommit(self) -> bool:
        """L36: a valid proposal with a quorum of prevotes, at step >= prevote, first time."""
        received = self._current_proposal()
        if self.step < Step.PREVOTE or received is None or not received.valid:
            return False
        value = received.batch.id
        if not self.votes.has_quorum_for(self.round, VoteKind.PREVOTE, value):
            return False
        if not self._first_time("l36", self.round):
            return False
        if self.step == Step.PREVOTE:
            self.locked_value, self.locked_round = received.batch, self.round
            self._precommit(value)
        self.valid_value, self.valid_round = received.batch, self.round
        return True

    def _l44_precommit_nil(self) -> bool:
        """L44: a quorum of prevotes for nil in the prevote step."""
        if self.step != Step.PREVOTE:
            return False
        if not self.votes.has_quorum_for(self.round, VoteKind.PREVOTE, None):
            return False
        self._precommit(None)
        return True

    def _l47_schedule_precommit_timeout(self) -> None:
        """L47: a quorum of precommits for anything in this round, for the first time."""
        quorum = self.votes.has_quorum_of_any(self.round, VoteKind.PRECOMMIT)
        if quorum and self._first_time("l47", self.round):
            self._schedule(Step.PRECOMMIT, self.round)

    def _skip_lost_round(self) -> bool:
        """A quorum of precommits for nil in this round: no value can be decided in it, so
        start the next round now rather than after timeoutPrecommit (L47, L65). Starting a
        round early is the timeout expiring early, which the paper's safety never relies on;
        the wait only serves to collect late precommits for a value, and here none can win.
        Without this every failed round (a censor's among them) costs a full timeout."""
        if not self.votes.has_quorum_for(self.round, VoteKind.PRECOMMIT, None):
            return False
        self._start_round(self.round + 1)
        return True

    def _l49_decide(self) -> bool:
        """L49: a quorum of precommits for a value in any round whose proposal we hold."""
        for round, value in self.votes.quorum_values(VoteKind.PRECOMMIT):
            received = self._proposals.get(round)
            if received is None or received.batch.id != value or not received.valid:
                continue
            signatures = sorted(
                (
                    CommitSig(v.validator, v.signature)
                    for v in self.votes.votes_for(round, VoteKind.PRECOMMIT, value)
                ),
                key=lambda s: s.validator,
            )
            certificate = Certificate(self.height, round, value, tuple(signatures))
            self.decision = received.batch
            self._emit(Decide(received.batch, certificate))
            return True
        return False

    def _l55_skip_round(self) -> bool:
        """L55: a third of the stake sent messages for a higher round: jump to it."""
        higher = [
            r
            for r in self.votes.rounds_seen()
            if r > self.round and self.validators.is_third(self.votes.sender_power(r))
        ]
        if not higher:
            return False
        self._start_round(max(higher))
        return True

    def _on_timeout(self, step: Step, round: int) -> None:
        if step == Step.PROPOSE and round == self.round and self.step == Step.PROPOSE:
            self._prevote(None)  # L57
        elif step == Step.PREVOTE and round == self.round and self.step == Step.PREVOTE:
            self._precommit(None)  # L61
        elif step == Step.PRECOMMIT and round == self.round:
            self._start_round(round + 1)  # L65

    # ---- helpers ---------------------------------------------------------------------------

    def _prevote(self, value: bytes | None) -> None:
        self._emit(CastVote(VoteKind.PREVOTE, self.height, self.round, value))
        self.step = Step.PREVOTE

    def _precommit(self, value: bytes | None) -> None:
        self._emit(CastVote(VoteKind.PRECOMMIT, self.height, self.round, value))
        self.step = Step.PRECOMMIT

    def _schedule(self, step: Step, round: int) -> None:
        duration = self.config.timeouts.duration_ms(step, round)
        self._emit(ScheduleTimeout(step, self.height, round, duration))

    def _first_time(self, rule: str, round: int) -> bool:
        key = (rule, round)
        if key in self._once:
            return False
        self._once.add(key)
        return True

    def _emit(self, effect: Effect) -> None:
        if self.me is not None or isinstance(effect, Decide | ReportEvidence | RoundStarted):
            self._effects.append(effect)

    def _take_effects(self) -> list[Effect]:
        effects, self._effects = self._effects, []
        return effects
