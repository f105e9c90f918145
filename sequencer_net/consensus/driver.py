"""Moves one validator from height to height, one :class:`HeightMachine` at a time.

The driver owns no I/O either: its caller decides when a height starts (after it has stored the
previous commit and knows the next validator set) and feeds it inputs for the current height.
Inputs for other heights are ignored; buffering early messages is the caller's business, because
only the caller can judge a proposal's validity once the parent is known.
"""

from __future__ import annotations

from ..types import Proposal, Step, Vote, VoteKind
from ..validators import ValidatorSet
from .config import ConsensusConfig
from .events import Effect, Input, ProposalReceived, TimeoutElapsed, ValueReady, VoteReceived
from .machine import HeightMachine, LockState

MachineFactory = type[HeightMachine]


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
