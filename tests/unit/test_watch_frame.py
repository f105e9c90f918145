"""`sequencer-net watch`'s frame, from hand-made polls: a running chain and a halted one
render as such, the cluster figures come from the commits seen, and the events between two
polls are named."""

from __future__ import annotations

import io
from collections.abc import Sequence
from typing import Any

from rich.console import Console

from sequencer_net.cluster.frame import (
    DOWN,
    HALTED,
    LIVE,
    Commit,
    Sample,
    changes,
    commit_event,
    frame,
    view,
)
from sequencer_net.cluster.procs import ProcState

NOW = 1_000_000
HALT_AFTER = 6_000
ALIVE, DEAD = ProcState.ALIVE, ProcState.DEAD


def status(height: int, age_ms: int, round: int = 0, evidence: int = 0) -> dict[str, Any]:
    return {
        "height": height,
        "round": round,
        "step": "prevote",
        "peers": ["a", "b"],
        "mempool": 3,
        "last_commit_age_ms": age_ms,
        "validators": [{"name": "n1", "power": 10 - 5 * evidence, "evidence": evidence}],
    }


def render(
    samples: list[Sample], commits: Sequence[Commit] = (), events: Sequence[str] = ()
) -> str:
    out = io.StringIO()
    v = view("cluster x", samples, commits, list(events), NOW, HALT_AFTER)
    Console(file=out, width=120, color_system=None).print(frame(v))
    return out.getvalue()


def running() -> list[Sample]:
    return [
        Sample("n1", ALIVE, 11, status(40, 200), ["equivocate"], []),
        Sample("n2", ALIVE, 12, status(41, 100), [], ["n3"]),
        Sample("n3", ALIVE, 13, status(41, 150), [], []),
    ]


def test_a_running_chain_shows_live_with_its_rates_and_rows() -> None:
    commits = [
        Commit(h, 0, 5, NOW - 5_000 + 100 * h - 40, NOW - 5_000 + 100 * h) for h in range(1, 41)
    ]
    commits += commits[:10]  # another node reports the same heights: counted once
    commits.append(Commit(0, 0, 999, NOW - 60_000, NOW - 60_000))  # outside the window
    v = view("cluster x", running(), commits, [], NOW, HALT_AFTER)
    assert v.chain == LIVE and v.height == 41
    assert v.tx_per_s == 40 * 5 / 10 and v.heights_per_s == 4.0
    assert v.latency_p50_ms == 40 and v.latency_max_ms == 40
    text = render(running(), commits, ["12:00:00 n2 partitioned from n3"])
    assert "LIVE" in text and "HALTED" not in text
    assert "equivocate" in text and "cut off from n3" in text
    assert "2/2" in text and "20 tx/s" in text and "n2 partitioned from n3" in text


def test_a_halted_chain_shows_halted_at_a_glance() -> None:
    samples = [
        Sample("n1", ALIVE, 11, status(40, 9_000)),
        Sample("n2", DEAD, 12),
        Sample("n3", DEAD, 13),
        Sample("n4", ALIVE, 14, status(40, 9_100)),
    ]
    v = view("cluster x", samples, [], [], NOW, HALT_AFTER)
    assert v.chain == HALTED and "9.0 s" in v.reason
    text = render(samples)
    assert text.lstrip().startswith("HALTED")
    assert "no node committed for 9.0 s" in text and "dead" in text
    # One node still committing is enough to be live; no running node at all is down.
    samples[0] = Sample("n1", ALIVE, 11, status(41, 10))
    assert view("x", samples, [], [], NOW, HALT_AFTER).chain == LIVE
    gone = [Sample(s.name, DEAD, s.pid) for s in samples]
    assert view("x", gone, [], [], NOW, HALT_AFTER).chain == DOWN
    silent = [Sample("n1", ALIVE, 11, None)]  # alive but answering nothing
    assert view("x", silent, [], [], NOW, HALT_AFTER).chain == HALTED


def test_rates_are_over_the_time_watched_when_shorter_than_the_window() -> None:
    commits = [Commit(h, 0, 2, NOW - 900, NOW - 100 * h) for h in range(1, 6)]
    v = view("x", running(), commits, [], NOW, HALT_AFTER, since_ms=NOW - 1_000)
    assert v.heights_per_s == 5.0 and v.tx_per_s == 10.0


def test_changes_name_deaths_restarts_faults_partitions_slashes_rounds_and_halts() -> None:
    before = running()
    after = [
        Sample("n1", ALIVE, 11, status(40, 200, evidence=1), [], []),
        Sample("n2", ALIVE, 22, status(41, 100, round=2), ["delay:200"], []),
        Sample("n3", DEAD, 13),
    ]
    found = changes(before, after, LIVE, HALTED, "12:00:00")
    assert all(line.startswith("12:00:00 ") for line in found)
    lines = {line.removeprefix("12:00:00 ") for line in found}
    assert lines == {
        "chain HALTED",
        "n1 fault cleared: equivocate",
        "n2 restarted (pid 22)",
        "n2 fault set: delay:200",
        "n2 healed",
        "n2 in round 2 of height 42",
        "n3 dead (crashed or killed)",
        "n1 slashed (evidence #1, power now 5)",
    }
    assert changes(after, after, HALTED, HALTED, "t") == []
    assert changes(None, after, None, HALTED, "t") == []


def test_a_height_past_round_0_is_an_event() -> None:
    assert commit_event(Commit(7, 0, 1, NOW, NOW), "t") is None
    assert commit_event(Commit(8, 2, 1, NOW, NOW), "t") == "t height 8 committed in round 2"
