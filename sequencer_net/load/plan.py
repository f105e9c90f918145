"""What a load run offers, checked once, and the transactions made for it before the clock."""

from __future__ import annotations

import math
import os
from dataclasses import asdict, dataclass

from ..types import MAX_PAYLOAD, Tx

INTERVAL_S = 0.02  # each submitter sends one bulk request per interval, on a fixed schedule
SUBMITTERS_PER_NODE = 4  # concurrent connections (requests in flight) per node and process
MAX_TXS_PER_REQUEST = 4_000  # a request larger than this is split (the API takes 20,000)
MAX_PREMADE = 500_000  # transactions made before the clock, per process; later ones on the fly
PREMADE_S = 60.0  # ... and at most this many seconds' worth (`cluster up --load` runs for days)
MAX_CLIENTS = 16
MAX_RATE = 10_000_000


@dataclass(frozen=True)
class LoadPlan:
    """``rate`` tx/s for ``duration_s`` over ``addresses``, by ``clients`` processes with
    ``submitters`` connections per node each; busy answers are retried until ``drain_s``
    after the load ends."""

    addresses: tuple[str, ...]
    rate: int
    duration_s: float
    size: int = 100
    drain_s: float = 10.0
    clients: int = 1
    submitters: int = SUBMITTERS_PER_NODE
    interval_s: float = INTERVAL_S
    # Hex of the set's threshold public key: payloads are encrypted to it (docs/private.md).
    encrypt_key: str = ""

    def __post_init__(self) -> None:
        if not self.addresses:
            raise ValueError("load needs at least one node address")
        if not (0 < self.rate <= MAX_RATE and 0 < self.duration_s < math.inf):
            raise ValueError(f"rate must be 1..{MAX_RATE} tx/s and duration a positive number")
        if not 0 < self.size <= MAX_PAYLOAD:
            raise ValueError(f"size must be 1..{MAX_PAYLOAD} bytes (the payload limit)")
        if not 1 <= self.clients <= MAX_CLIENTS:
            raise ValueError(f"clients must be 1..{MAX_CLIENTS}")
        if not 1 <= self.submitters <= 64:
            raise ValueError("submitters per node must be 1..64")
        if not (0.001 <= self.interval_s <= 1.0 and 0 <= self.drain_s < math.inf):
            raise ValueError("the request interval must be 1 ms..1 s and the drain not negative")

    def share(self, client: int) -> LoadPlan:
        """The part of the rate client process ``client`` (0-based) offers, as a one-client
        plan: the rate is split as evenly as whole transactions allow."""
        rate = self.rate // self.clients + (1 if client < self.rate % self.clients else 0)
        return LoadPlan(
            self.addresses,
            max(rate, 1),
            self.duration_s,
            self.size,
            self.drain_s,
            1,
            self.submitters,
            self.interval_s,
            self.encrypt_key,
        )

    @property
    def premade(self) -> int:
        """How many transactions to make before the clock starts."""
        return math.ceil(self.rate * min(self.duration_s, PREMADE_S))

    def to_json(self) -> dict[str, object]:
        return {**asdict(self), "addresses": list(self.addresses)}

    @classmethod
    def from_json(cls, data: dict[str, object]) -> LoadPlan:
        addresses = data.get("addresses")
        if not isinstance(addresses, list):
            raise ValueError("a load plan needs a list of addresses")
        return cls(**{**data, "addresses": tuple(map(str, addresses))})  # type: ignore[arg-type]


class TxSource:
    """Distinct transactions of ``size`` payload bytes; the first ``premade`` are made now,
    before the clock starts, so making them costs the measured run nothing."""

    def __init__(self, size: int, premade: int, encrypt_key: str = "") -> None:
        self._size = size
        self._key = bytes.fromhex(encrypt_key)
        self._tag = os.urandom(8)  # distinct per process and run: no id repeats another run's
        self._next = 0
        self._made = [self._make(n) for n in range(min(premade, MAX_PREMADE))]
        self._taken = 0

    def _make(self, n: int) -> bytes:
        payload = self._tag + n.to_bytes(8, "big")
        payload += bytes(max(0, self._size - len(payload)))
        sender = f"load-{n % 64}"
        if self._key:
            from ..threshold.envelope import seal

            payload = seal(self._key, "load", sender, payload)
        return Tx("load", sender, payload).encoded

    def take(self, count: int) -> list[bytes]:
        if self._taken + count <= len(self._made):
            chunk = self._made[self._taken : self._taken + count]
            self._taken += count
            return chunk
        chunk = self._made[self._taken :]
        self._made, self._taken = [], 0
        start = max(self._next, MAX_PREMADE)
        self._next = start + count - len(chunk)
        return chunk + [self._make(n) for n in range(start, self._next)]


def process_cpu_s() -> float:
    """User + system CPU seconds of this process (the load generator's own cost)."""
    times = os.times()
    return times.user + times.system
