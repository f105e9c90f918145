"""The node's wall clock in milliseconds: batch timestamps and timers read it; the replica
itself is given times and never reads a clock."""

from __future__ import annotations

import time


def now_ms() -> int:
    return time.time_ns() // 1_000_000
