"""A Twins-style adversarial schedule (Bano et al., "Twins: BFT Systems Made Robust").

Random partitions rarely line up with the protocol's rounds, so they seldom test the lock. This
adversary instead fixes, per round of a height, who hears whom, and places each twin's two
copies where they split the honest votes. For each height it attacks it plans two rounds:

- the *lock round* r: the proposal reaches a set L of honest nodes and the first copy of every
  twin; L plus the twins hold a prevote quorum, so L locks on the value X. Twin copies' votes
  stay on their side, and the first copies' precommits reach only one node D of L: D alone
  commits X. Honest votes reach everyone, so every node can time out of the round.
- the *split round* r + 1: {D, first copies} and {the rest of L, the other honest nodes O, the
  second copies} hear only their own side. The proposer of r + 1 is chosen to be in O or a
  twin, so it has no valid value and proposes a fresh Y. A correct node of L, locked on X,
  prevotes nil and Y gets no quorum; a core that ignores its lock prevotes Y and commits it.

The lock round is the first round with an honest proposer (a twin's two copies may build the
same batch) whose next proposer is unlocked; rounds before it have their proposal withheld and
their votes delivered promptly, so every node prevotes nil and all move on together. While the
split round is in progress nothing else crosses the two sides (no sync that would hand X over).
The plan covers consensus messages only before GST; once the second side has left the split
round, or at GST, the network's ordinary rules apply again.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from ..messages import Message, ProposalEcho, ProposalMessage
from ..types import Vote, VoteKind
from ..validators import ValidatorSet

MAX_WITHHELD_ROUNDS = 3  # give up on a height whose proposers never allow the attack


@dataclass(frozen=True)
class Plan:
    height: int
    withheld: range  # rounds whose proposal nobody receives
    lock_round: int
    decider: int  # the instance of L that alone commits X
    lock_side: frozenset[int]  # instances that see X in the lock round: L and first copies
    first_copies: frozenset[int]
    split_side: frozenset[int]  # instances of the split round's second side


Progress = Callable[[int], tuple[int, int] | None]  # instance -> (height, round), None if down


class TwinsAdversary:
    """Decides, per message, what the schedule wants: deliver (True), drop (False) or leave it
    to the ordinary network (None)."""

    def __init__(
        self,
        rng: random.Random,
        nodes: int,
        twins: int,
        honest: Sequence[int],
        keys: Sequence[bytes],
        progress: Progress,
    ) -> None:
        self.rng = rng
        self.nodes = nodes
        self.twins = twins
        self.honest = tuple(honest)
        self.keys = tuple(keys)
        self.index = {key: i for i, key in enumerate(keys)}
        self.progress = progress
        self._planned: set[int] = set()  # heights looked at, attacked or not
        self._active: list[Plan] = []
        self.attacks = 0

    def verdict(
        self, src: int, dst: int, message: Message, validators: ValidatorSet | None
    ) -> bool | None:
        where = height_round(message)
        if where is not None and where[0] not in self._planned and validators is not None:
            self._planned.add(where[0])
            plan = self._plan(where[0], where[1], validators)
            if plan is not None:
                self._active.append(plan)
        self._active = [p for p in self._active if self._in_progress(p)]
        for plan in self._active:
            if where is not None and where[0] == plan.height:
                return self._round_rule(plan, where[1], src, dst, message)
        if any(self._crosses(plan, src, dst) for plan in self._active):
            return False
        return None

    # ---- planning --------------------------------------------------------------------------

    def _plan(self, height: int, first_round: int, vs: ValidatorSet) -> Plan | None:
        twins = [i for i in range(self.twins) if vs.power_of(self.keys[i]) > 0]
        honest = [i for i in self.honest if vs.power_of(self.keys[i]) > 0]
        if not twins:
            return None
        for r in range(first_round, first_round + MAX_WITHHELD_ROUNDS + 1):
            plan = self._try_round(height, first_round, r, vs, twins, honest)
            if plan is not None:
                self.attacks += 1
                return plan
        return None

    def _try_round(
        self,
        height: int,
        first_round: int,
        r: int,
        vs: ValidatorSet,
        twins: list[int],
        honest: list[int],
    ) -> Plan | None:
        proposer = self.index.get(vs.proposer_for_round(r).public_key)
        next_proposer = self.index.get(vs.proposer_for_round(r + 1).public_key)
        if next_proposer not in honest and next_proposer not in twins:
            return None
        if proposer not in honest:
            return None  # a twin's second copy might build the same batch and lock on it too
        if proposer == next_proposer and proposer in honest:
            return None  # it would propose X again, or be locked on it

        def power(validators: list[int]) -> int:
            return sum(vs.power_of(self.keys[i]) for i in validators)

        locked = [proposer]
        others = [i for i in honest if i not in locked and i != next_proposer]
        self.rng.shuffle(others)
        while not vs.is_quorum(power(locked + twins)) and others:
            locked.append(others.pop())
        outside = [i for i in honest if i not in locked]
        if not locked or not vs.is_quorum(power(locked + twins)) or vs.is_quorum(power(locked)):
            return None
        decider = self.rng.choice(locked)
        rest = [i for i in locked if i != decider]
        if not vs.is_quorum(power(rest + outside + twins)):
            return None
        first = frozenset(twins)  # instance i is twin i's first copy, nodes + i its second
        second = frozenset(self.nodes + t for t in twins)
        return Plan(
            height,
            range(first_round, r),
            r,
            decider,
            frozenset(locked) | first,
            first,
            frozenset(rest + outside) | second,
        )

    # ---- delivery --------------------------------------------------------------------------

    def _in_progress(self, plan: Plan) -> bool:
        """Until every node of the second side is past the split round. A node not running
        (not started yet, or crashed) will come back no further than it was."""
        for idx in plan.split_side:
            where = self.progress(idx)
            if where is None:
                return True
            height, round = where
            if height < plan.height or (height == plan.height and round <= plan.lock_round + 1):
                return True
        return False

    def _round_rule(
        self, plan: Plan, round: int, src: int, dst: int, message: Message
    ) -> bool | None:
        if round in plan.withheld:
            return not isinstance(message, ProposalMessage | ProposalEcho)
        if round == plan.lock_round:
            return self._lock_round(plan, src, dst, message)
        if round == plan.lock_round + 1:
            return not self._crosses(plan, src, dst)
        return None

    def _lock_round(self, plan: Plan, src: int, dst: int, message: Message) -> bool:
        same_side = (src in plan.lock_side) == (dst in plan.lock_side)
        if isinstance(message, ProposalMessage | ProposalEcho):
            return src in plan.lock_side and dst in plan.lock_side
        twin = src < self.twins or src >= self.nodes
        precommit = isinstance(message, Vote) and message.kind is VoteKind.PRECOMMIT
        if precommit and src in plan.first_copies:
            return dst == plan.decider
        return same_side if twin else True

    def _crosses(self, plan: Plan, src: int, dst: int) -> bool:
        return (src in plan.split_side) != (dst in plan.split_side)


def height_round(message: Message) -> tuple[int, int] | None:
    match message:
        case ProposalMessage(proposal) | ProposalEcho(proposal):
            return proposal.height, proposal.round
        case Vote():
            return message.height, message.round
    return None
