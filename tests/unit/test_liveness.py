"""Liveness bookkeeping: peers count as connected only while heard, and a stall is reported
once it passes the threshold, again each time it doubles, and ends with the next commit."""

from __future__ import annotations

from sequencer_net.runtime.liveness import Liveness


def test_a_peer_counts_as_connected_only_while_it_is_heard() -> None:
    live = Liveness(0, heard_within_ms=5_000, stall_after_ms=6_000)
    live.heard(b"a", 1_000)
    live.heard(b"b", 4_000)
    assert live.heard_peers(5_000) == {b"a", b"b"}
    assert live.heard_peers(7_000) == {b"b"}
    assert live.heard_peers(10_000) == set()


def test_a_stall_is_reported_at_the_threshold_then_each_time_it_doubles() -> None:
    live = Liveness(0, heard_within_ms=5_000, stall_after_ms=6_000)
    reports = [t for t in range(0, 60_000, 500) if live.stall_due(t)]
    assert reports == [6_000, 12_000, 24_000, 48_000]
    assert live.commit_age_ms(50_000) == 50_000
    assert live.committed(50_000) == 50_000  # the stall it ended
    assert live.committed(50_100) is None  # no stall was reported before this one
    assert not live.stall_due(56_000) and live.stall_due(56_100)


def test_commits_in_time_never_report_a_stall() -> None:
    live = Liveness(0, heard_within_ms=5_000, stall_after_ms=6_000)
    for t in range(0, 100_000, 1_000):
        assert not live.stall_due(t)
        assert live.committed(t) is None
