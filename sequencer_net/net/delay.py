"""Emulated one-way latency of a link: when each outbound frame may go on the wire.

This machine's kernel has no netem, so a WAN is emulated by the sender: a frame queued at
time t leaves at t + delay + jitter. Due times never go backwards (a frame with less jitter
waits behind the one before it), so a link delivers its frames in order like TCP, and the
sender's queue keeps working while frames wait, so the delay costs latency, not throughput.
"""

from __future__ import annotations

import random

from ..latency import LinkLatency


class DelayLine:
    """Due times of one link's frames, in seconds of the caller's clock; never decreasing."""

    def __init__(self, latency: LinkLatency, rng: random.Random) -> None:
        self.latency = latency
        self._rng = rng
        self._last = float("-inf")

    def due(self, now: float) -> float:
        """When a frame queued at ``now`` may be sent: not before any frame queued earlier."""
        self._last = max(self._last, now + self.latency.draw(self._rng) / 1000)
        return self._last
