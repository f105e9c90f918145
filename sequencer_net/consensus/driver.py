"""Moves one validator from height to height, one :class:`HeightMachine` at a time.

The driver owns no I/O either: its caller decides when a height starts (after it has stored the
previous commit and knows the next validator set) and feeds it inputs for the current height.
Inputs for other heights are ignored; buffering early messages is the caller's business, because
only the caller can judge a proposal's validity once the parent is known.
"""

from __future__ import annotations

from typing import Any

from ..types import NIL_ROUND, Batch, Proposal, Step, Vote, VoteKind
from ..validators import ValidatorSet
from .config import ConsensusConfig
from .events import Effect, Input, ProposalReceived, TimeoutElapsed, ValueReady, VoteReceived
from .machine import HeightMachine, LockState

MachineFactory = type[HeightMachine]
DUMP_ROUNDS = 16  # a dump shows at most the last this many rounds: a halted height has many


class Driver:
    def __init__(
        self,
        config: ConsensusConfig,
        me: bytes | None,
        machine_factory: MachineFactory = HeightMachine,
    ) -> None:
        self.config = config
        self.me = me
        self._factory = machine_factory
        self.machine: HeightMachine | None = None

    @property
    def height(self) -> int:
        return self.machine.height if self.machine else 0

    @property
    def started(self) -> bool:
        return self.machine is not None

    @property
    def round(self) -> int:
        return self.machine.round if self.machine else 0

    @property
    def current_step(self) -> Step:
        return self.machine.step if self.machine else Step.PROPOSE

    def lock_state(self) -> LockState:
        """What the sign-state record keeps with a signature (the height must have started)."""
        assert self.machine is not None
        return self.machine.lock_state()

    def proposal(self, round: int) -> Proposal | None:
        """The first proposal kept for ``round`` of the current height, if any."""
        return self.machine.proposal(round) if self.machine else None

    def pol_prevotes(self) -> list[Vote]:
        """The prevotes that justify our valid value (its proof of lock), if we have one."""
        machine = self.machine
        if machine is None or machine.valid_value is None:
            return []
        value = machine.valid_value.id
        return machine.votes.votes_for(machine.valid_round, VoteKind.PREVOTE, value)

    def dump(self) -> dict[str, Any] | None:
        """The current height as an operator reads it (CometBFT's dump_consensus_state): per
        round the proposal and who prevoted and precommitted what, the lock and valid value.
        Read-only and plain data (names, short hex ids), so a bug report can carry it; None
        before the first height starts."""
        m = self.machine
        if m is None:
            return None
        names = {v.public_key: v.name for v in m.validators.validators}
        seen = sorted(set(m.votes.rounds_seen()) | {m.round})
        rounds = []
        for r in seen[-DUMP_ROUNDS:]:
            proposal, verdict = m.proposal(r), m.proposal_verdict(r)
            rounds.append(
                {
                    "round": r,
                    "proposer": m.validators.proposer_for_round(r).name,
                    "proposal": None
                    if proposal is None or verdict is None
                    else {
                        "batch": short_id(proposal.batch_id),
                        "pol_round": proposal.pol_round,
                        "valid": verdict[0],
                        "acceptable": verdict[1],
                    },
                    "prevotes": _ballots(m.votes.ballots(r, VoteKind.PREVOTE), names),
                    "precommits": _ballots(m.votes.ballots(r, VoteKind.PRECOMMIT), names),
                    "prevote_power": m.votes.total(r, VoteKind.PREVOTE),
                    "precommit_power": m.votes.total(r, VoteKind.PRECOMMIT),
                }
            )
        return {
            "height": m.height,
            "round": m.round,
            "step": m.step.name.lower(),
            "me": names.get(m.me) if m.me is not None else None,
            "total_power": m.validators.total_power,
            "validators": [
                {"name": v.name, "power": v.power if v.active else 0}
                for v in m.validators.validators
            ],
            "locked": _held(m.locked_round, m.locked_value),
            "valid": _held(m.valid_round, m.valid_value),
            "decided": short_id(m.decision.id) if m.decision is not None else None,
            "rounds": rounds,
            "rounds_left_out": max(0, len(seen) - DUMP_ROUNDS),
        }

    def start_height(
        self, height: int, validators: ValidatorSet, restored: LockState | None = None
    ) -> list[Effect]:
        if self.machine is not None and height <= self.machine.height:
            raise ValueError(f"height {height} does not follow {self.machine.height}")
        # A validator outside the active set (jailed, say) follows the chain without voting.
        me = self.me if self.me in validators else None
        self.machine = self._factory(self.config, height, validators, me, restored)
        return self.machine.start()

    def step(self, event: Input) -> list[Effect]:
        if self.machine is None or _height_of(event) != self.machine.height:
            return []
        return self.machine.step_input(event)


def _height_of(event: Input) -> int:
    match event:
        case ProposalReceived(proposal, _, _):
            return proposal.height
        case VoteReceived(vote):
            return vote.height
        case TimeoutElapsed(_, height, _) | ValueReady(height, _, _):
            return height


def short_id(value: bytes | None) -> str:
    """A batch id as the dump shows it: 16 hex digits, or "nil"."""
    return "nil" if value is None else value.hex()[:16]


def _ballots(ballots: dict[bytes, list[Vote]], names: dict[bytes, str]) -> dict[str, list[str]]:
    """Validator name -> the values it voted for (two or more: it equivocated)."""
    return {
        names.get(key, key.hex()[:12]): [short_id(v.value) for v in votes]
        for key, votes in sorted(ballots.items(), key=lambda kv: names.get(kv[0], ""))
    }


def _held(round: int, value: Batch | None) -> dict[str, Any] | None:
    if round == NIL_ROUND or value is None:
        return None
    return {"round": round, "batch": short_id(value.id)}
