"""What the simulator's event heap holds, and how an instance is named to the replicas."""

from __future__ import annotations

from dataclasses import dataclass

from ..replica import PeerId, TimerKey


@dataclass(frozen=True)
class Deliver:
    dst: int
    src: int
    data: bytes


@dataclass(frozen=True)
class Timer:
    idx: int
    epoch: int  # the instance's incarnation that set it: a restart voids older timers
    key: TimerKey


@dataclass(frozen=True)
class Crash:
    idx: int


@dataclass(frozen=True)
class Restart:
    idx: int


@dataclass(frozen=True)
class Partition:
    groups: list[int]


@dataclass(frozen=True)
class Gst:
    pass


@dataclass(frozen=True)
class Txs:
    pass


Event = Deliver | Timer | Crash | Restart | Partition | Gst | Txs


def peer_id(idx: int) -> PeerId:
    """How a replica knows the instance ``idx`` (the runtime uses the peer's public key)."""
    return idx.to_bytes(2, "big")


def instance_of(peer: PeerId) -> int:
    return int.from_bytes(peer, "big")
