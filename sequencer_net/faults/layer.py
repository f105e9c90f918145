"""The fault layer: what a node's replica wants sent, rewritten the way its active faults say.

It sits between the replica's :class:`~sequencer_net.replica.Send` outputs and the peer links,
so the consensus core and the replica stay honest code: a byzantine node is an honest replica
behind a lying layer. The layer is synchronous and does no I/O; the node asks it what to send
(:meth:`FaultLayer.outgoing`), whether to accept a peer's frame, how long to delay, and when to
crash, restart with amnesia or send garbage, and carries that out itself.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any, TypeVar

import structlog

from ..crypto import PrivateKey
from ..messages import Message, ProposalMessage, SignedChunk, SyncResponse, encode_message
from ..replica import Send
from ..types import Vote
from .forge import badly_signed_vote, conflicting_proposal, conflicting_vote, malformed_payload
from .frontrun import Frontrunner
from .spec import (
    BEHAVIOURS,
    Amnesia,
    Censor,
    Crash,
    Delay,
    Drop,
    Equivocate,
    Fault,
    Frontrun,
    Garbage,
    LeakShares,
    Mute,
    Withhold,
)

if TYPE_CHECKING:
    from ..threshold.keys import KeyShare

log = structlog.get_logger()

F = TypeVar("F", bound=Fault)


class FaultLayer:
    """The active faults and partition of one node. ``peers`` maps every other validator's
    public key to its name; random choices are seeded from ``name`` (and ``seed``, which the
    simulator sets to its run's seed so seeds differ) so runs reproduce. ``logger`` replaces
    the module's structlog logger (the simulator's keeps its output free of log lines)."""

    def __init__(
        self,
        key: PrivateKey,
        chain_id: str,
        peers: Mapping[bytes, str],
        name: str,
        faults: Iterable[Fault] = (),
        *,
        seed: str = "",
        logger: Any = None,
    ) -> None:
        self.log = log if logger is None else logger
        self.key = key
        self.chain_id = chain_id
        self.peers = dict(peers)
        self._by_name = {peer_name: peer for peer, peer_name in peers.items()}
        ordered = sorted(peers, key=lambda peer: peers[peer])
        self._first_half = frozenset(ordered[: len(ordered) // 2])
        self._faults: dict[str, Fault] = {}
        self.cut_off: frozenset[bytes] = frozenset()
        self._drop_rng = random.Random(f"{seed}{name}/drop")
        self._garbage_rng = random.Random(f"{seed}{name}/garbage")
        self._equivocated: set[tuple[str, int, int]] = set()
        # For `leak-shares`: this validator's threshold shares (the node sets them) and the
        # height it is deciding, from its own votes.
        self.threshold_share: KeyShare | None = None
        self._deciding = 1
        self.frontrunner: Frontrunner | None = None  # while `frontrun` is active
        for fault in faults:
            self.set(fault)

    # ---- control ---------------------------------------------------------------------------

    def set(self, fault: Fault) -> None:
        """Activate ``fault``, replacing an active fault of the same behaviour."""
        self._faults[fault.behaviour] = fault
        if isinstance(fault, Frontrun):
            self.frontrunner = Frontrunner(bytes.fromhex(fault.prefix))
        self.log.warning("fault_set", fault=str(fault))

    def clear(self, behaviour: str | None = None) -> list[Fault]:
        """Deactivate one behaviour, or every one with None; returns what was active."""
        names = list(self._faults) if behaviour is None else [behaviour]
        cleared = [self._faults.pop(name) for name in names if name in self._faults]
        if Frontrun.behaviour in names:
            self.frontrunner = None
        for fault in cleared:
            self.log.info("fault_cleared", fault=str(fault))
        return cleared

    @property
    def active(self) -> list[Fault]:
        return [self._faults[b] for b in BEHAVIOURS if b in self._faults]

    def get(self, kind: type[F]) -> F | None:
        fault = self._faults.get(kind.behaviour)
        return fault if isinstance(fault, kind) else None

    def partition(self, names: Iterable[str]) -> None:
        """Cut this node off from the named peers (replacing any earlier cut): the links stay
        up, but nothing is sent to them and their frames are ignored."""
        names = sorted(set(names))
        unknown = [n for n in names if n not in self._by_name]
        if unknown:
            raise ValueError(f"not a peer of this node: {', '.join(unknown)}")
        self.cut_off = frozenset(self._by_name[n] for n in names)
        self.log.warning("partitioned", peers=names)

    def heal(self) -> None:
        self.cut_off = frozenset()
        self.log.info("healed")

    @property
    def partitioned_from(self) -> list[str]:
        return sorted(self.peers[peer] for peer in self.cut_off)

    # ---- questions the node asks -----------------------------------------------------------

    def accepts_from(self, peer: bytes) -> bool:
        return peer not in self.cut_off

    @property
    def omit(self) -> Callable[[bytes], bool] | None:
        """What the replica must leave out of its lane and its batches (encoded tx ->
        censored?)."""
        censor = self.get(Censor)
        front = self.frontrunner
        if censor and front:
            return lambda tx: censor.matches(tx) or front.omit(tx)
        if front:
            return front.omit
        return censor.matches if censor else None

    @property
    def delay_ms(self) -> int:
        delay = self.get(Delay)
        return delay.ms if delay else 0

    def crash_due(self, height: int) -> bool:
        crash = self.get(Crash)
        return crash is not None and height >= crash.height

    def amnesia_due(self, message: Message) -> bool:
        """True when the node sends its own proposal under amnesia. The fault fires once, so
        it is dropped here: `fault list` must not show a fault that no longer acts."""
        amnesia = self.get(Amnesia)
        if amnesia is None or not self._own_proposal(message):
            return False
        del self._faults[amnesia.behaviour]
        self.log.warning("fault_fired", fault=str(amnesia))
        return True

    # ---- rewriting -------------------------------------------------------------------------

    def outgoing(self, send: Send) -> list[Send]:
        """The sends that really leave, each to one peer (or ``send`` itself when no fault or
        partition is active, so an honest node pays nothing)."""
        if not self._faults and not self.cut_off:
            return [send]
        message = send.message
        if self.get(Mute) and not Mute.lets_out(message):
            return []
        if self.get(Withhold) and (self._own_vote(message) or isinstance(message, SyncResponse)):
            return []  # a sync answer carries our commit certificates, our precommits in them
        targets = [
            peer
            for peer in (self.peers if send.to is None else [send.to])
            if peer not in self.cut_off
        ]
        if self.get(Equivocate):
            sends = self._equivocate(targets, message)
        else:
            sends = [Send(peer, message) for peer in targets]
        if self.get(LeakShares):
            sends += [Send(peer, leak) for leak in self._leak(message) for peer in targets]
        drop = self.get(Drop)
        if drop:
            sends = [s for s in sends if self._drop_rng.random() >= drop.fraction]
        return sends

    def garbage(self, height: int, round: int) -> list[tuple[bytes, bytes]]:
        """(peer, payload) pairs to send now under ``garbage``: to every reachable peer, one
        payload no decoder accepts and one well-formed vote whose signature fails."""
        if self.get(Garbage) is None or self.get(Mute) is not None:
            return []
        rng = self._garbage_rng
        vote = encode_message(badly_signed_vote(rng, self.key.public_key, height, round))
        return [
            (peer, payload)
            for peer in self.peers
            if peer not in self.cut_off
            for payload in (malformed_payload(rng), vote)
        ]

    def _equivocate(self, targets: list[bytes], message: Message) -> list[Send]:
        """Own proposal: the original to the first half of the peers (by name), a conflicting
        one to the second half. Own vote: both votes to everyone, in an order that differs
        between the halves."""
        if self._own_proposal(message):
            assert isinstance(message, ProposalMessage)
            twin = conflicting_proposal(self.key, self.chain_id, message)
            self._note("proposal", message.proposal.height, message.proposal.round)
            return [Send(p, message if p in self._first_half else twin) for p in targets]
        if self._own_vote(message):
            assert isinstance(message, Vote)
            other = conflicting_vote(self.key, self.chain_id, message)
            self._note(message.kind.name.lower(), message.height, message.round)
            sends: list[Send] = []
            for peer in targets:
                pair = (message, other) if peer in self._first_half else (other, message)
                sends.extend(Send(peer, m) for m in pair)
            return sends
        return [Send(peer, message) for peer in targets]

    def _leak(self, message: Message) -> list[Message]:
        """Under `leak-shares`: our shares of our own chunk's ciphertexts, right now."""
        if self._own_vote(message):
            assert isinstance(message, Vote)
            self._deciding = max(self._deciding, message.height)
        share = self.threshold_share
        if share is None or not isinstance(message, SignedChunk):
            return []
        if message.chunk.author != self.key.public_key:
            return []
        from .leak import early_shares

        leak = early_shares(share, self.key, self.chain_id, self._deciding - 1, message.chunk)
        if leak is None:
            return []
        self.log.warning("leaked_shares", txs=len(leak.sets), claimed_height=leak.height)
        return [leak]

    def _note(self, kind: str, height: int, round: int) -> None:
        """Log each equivocation once, not at every re-broadcast of the same message."""
        if (kind, height, round) in self._equivocated:
            return
        self._equivocated = {e for e in self._equivocated if e[1] >= height}
        self._equivocated.add((kind, height, round))
        self.log.warning("equivocated", kind=kind, height=height, round=round)

    def _own_proposal(self, message: Message) -> bool:
        return (
            isinstance(message, ProposalMessage)
            and message.proposal.proposer == self.key.public_key
        )

    def _own_vote(self, message: Message) -> bool:
        return isinstance(message, Vote) and message.validator == self.key.public_key
