"""LinkLatency: the one-way delay and jitter of one direction of an emulated WAN link.

A leaf module (like ``node_params``), so the config that reads it, the link layer that applies
it and the simulator that models it share one definition without importing each other.
"""

from __future__ import annotations

import random
from dataclasses import dataclass


@dataclass(frozen=True)
class LinkLatency:
    """One direction of a link: the least one-way delay and the most extra jitter, in ms."""

    delay_ms: int
    jitter_ms: int = 0

    def __post_init__(self) -> None:
        if self.delay_ms < 0 or self.jitter_ms < 0:
            raise ValueError(f"delay and jitter cannot be negative, got {self}")

    def draw(self, rng: random.Random) -> float:
        """One frame's one-way delay in ms: delay_ms plus a uniform draw from [0, jitter_ms]."""
        if not self.jitter_ms:
            return float(self.delay_ms)
        return self.delay_ms + rng.uniform(0, self.jitter_ms)


NO_LATENCY = LinkLatency(0, 0)
