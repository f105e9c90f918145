"""What makes a halted chain visible: when each peer was last heard and when this node last
committed. Sans-IO; the node feeds it times and logs what it reports.

A link can stay up while nothing useful crosses it (a partition drops frames, a paused peer
holds its socket open), so connectivity is "heard from lately", not "socket open". Live peers
are heard at least every rebroadcast interval even while a round waits on its timeouts.
"""

from __future__ import annotations


class Liveness:
    """``heard_within_ms``: how recent a frame must be for its peer to count as connected.
    ``stall_after_ms``: how long without a commit before a stall is reported; it is reported
    again each time the stall doubles, so a long halt keeps showing in the log without
    flooding it."""

    def __init__(self, now_ms: int, heard_within_ms: int, stall_after_ms: int) -> None:
        self.heard_within_ms = heard_within_ms
        self.stall_after_ms = stall_after_ms
        self.last_commit_ms = now_ms
        self._heard: dict[bytes, int] = {}
        self._next_report_ms = now_ms + stall_after_ms
        self._reported = False

    def heard(self, peer: bytes, now_ms: int) -> None:
        self._heard[peer] = now_ms

    def heard_peers(self, now_ms: int) -> set[bytes]:
        return {p for p, at in self._heard.items() if now_ms - at <= self.heard_within_ms}

    def commit_age_ms(self, now_ms: int) -> int:
        return max(0, now_ms - self.last_commit_ms)

    def committed(self, now_ms: int) -> int | None:
        """Record a commit; the length of the stall it ends, if one was reported."""
        stalled = self.commit_age_ms(now_ms) if self._reported else None
        self.last_commit_ms = now_ms
        self._next_report_ms = now_ms + self.stall_after_ms
        self._reported = False
        return stalled

    def stall_due(self, now_ms: int) -> bool:
        """True when a (first or doubled) stall report is due now; each is due once."""
        if now_ms < self._next_report_ms:
            return False
        self._reported = True
        self._next_report_ms = self.last_commit_ms + 2 * self.commit_age_ms(now_ms)
        return True
