"""`risk calibrate` on hand-written logs: what each parameter is measured from, torn lines
from a SIGKILL, and a directory without logs."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from helpers.paths import CONFIGS

from sequencer_net.cli import main
from sequencer_net.risk.calibrate import calibrate
from sequencer_net.risk.runlog import read_run


def stamp(seconds: float) -> str:
    return datetime.fromtimestamp(1_800_000_000 + seconds, UTC).isoformat().replace("+00:00", "Z")


def write_log(
    root: Path, name: str, records: list[tuple[float, str, dict]], torn: bool = False
) -> None:
    path = root / name / "data" / "node.log"
    path.parent.mkdir(parents=True)
    lines = [
        json.dumps({**fields, "event": event, "node": name, "timestamp": stamp(t)})
        for t, event, fields in records
    ]
    path.write_text("\n".join(lines) + ('\n{"event": "comm' if torn else "\n"))


def commit(t: float, height: int, rnd: int = 0) -> tuple[float, str, dict]:
    return (t, "committed", {"height": height, "round": rnd})


def recorded_run(root: Path) -> None:
    # n1 commits a height a second; n2 dies after height 3 and restarts at t=10; height 6
    # (n2's turn) needs a second round; n2 catches up on 1..9 at t=11 and commits 10 at 12.
    n1 = [(0, "node_started", {"height": 1})]
    n1 += [commit(h, h) for h in range(1, 6)]
    n1 += [commit(7.5, 6, 1), *(commit(h + 1.5, h) for h in range(7, 12))]
    n2 = [(0, "node_started", {"height": 1}), *(commit(h, h) for h in range(1, 4))]
    n2 += [(10, "node_started", {"height": 4})]
    n2 += [commit(11, h) for h in range(4, 10)] + [commit(11.5, 10), commit(12.5, 11)]
    write_log(root, "n1", n1)
    write_log(root, "n2", n2, torn=True)
    delays = {
        "count": 3,
        "heights": {"p50": 1, "p99": 2, "max": 2},
        "ms": {"p50": 900, "p99": 2500, "max": 2500},
    }
    document = {
        "forced_inclusion": True,
        "inclusion_deadline": 1,
        "inclusion_grace_ms": 50,
        "inclusion_delay": delays,
        "proposers": {},
        "inclusion_nil_prevotes": 0,
        "excluded_proposers": [],
    }
    (root / "n1" / "data" / "censorship.json").write_text(json.dumps(document))
    (root / "n2" / "data" / "censorship.json").write_text('{"inclusion_de')  # torn
    write_log(
        root,
        "n3",
        [(0, "node_started", {}), (9, "commit_resumed", {"height": 9, "stalled_ms": 4000})],
    )


def test_parameters_come_from_the_logs(tmp_path: Path) -> None:
    recorded_run(tmp_path)
    found = calibrate(read_run(tmp_path))
    assert found["unreadable_lines"] == 1
    assert found["reference_node"] == "n1"
    (restart,) = found["restarts"]
    assert restart["node"] == "n2" and restart["down_s"] == pytest.approx(7.0)
    assert restart["first_commit_s"] == pytest.approx(1.0)
    assert restart["rounds_lost"] == 1 and restart["model_rounds_lost"] is None  # no genesis
    # When n2 started (t=10) the others had committed up to height 8 (9 came at t=10.5).
    p = found["parameters"]
    assert p["recovery_s"]["value"] == pytest.approx(1.0)  # height 9 at t=11
    assert p["block_time_s"]["value"] == pytest.approx(1.0)
    assert p["round_timeout_s"]["value"] == pytest.approx(1.5)  # height 6 took 2.5 s
    assert p["rounds_lost_per_outage"]["value"] == 1
    assert p["halt_s"]["value"] == pytest.approx(4.0)
    assert not p["forced_inclusions"]["measured"]
    assert p["inclusion_delay_p99_s"]["value"] == 2.5
    assert all(v["measured"] for k, v in p.items() if k != "forced_inclusions")


def test_a_run_without_restarts_says_so(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write_log(tmp_path, "n1", [(0, "node_started", {}), *(commit(h, h) for h in range(1, 5))])
    assert main(["risk", "calibrate", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "no node restarted in this run" in out
    assert "block_time_s = 1.0" in out and "recovery_s =" not in out


def test_a_directory_without_logs_is_a_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["risk", "calibrate", str(tmp_path)]) == 2
    assert "no node logs" in capsys.readouterr().err
    assert main(["risk", "calibrate", str(tmp_path / "missing")]) == 2
    assert "not a directory" in capsys.readouterr().err


def test_a_scenario_runs_with_the_measured_numbers(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    recorded_run(tmp_path)
    argv = ["risk", str(CONFIGS / "risk-4.toml"), "--trials", "500", "--json"]
    assert main([*argv, "--calibrated", str(tmp_path)]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["measured"] == {"recovery_s": 1.0, "block_time_s": 1.0, "round_timeout_s": 1.5}
    assert main(argv) == 0
    assert json.loads(capsys.readouterr().out)["measured"] == {}


def test_rotated_logs_are_read_oldest_first(tmp_path: Path) -> None:
    """A long run's node.log rotated into node.log.1, node.log.2: every height still counts."""
    write_log(tmp_path, "n1", [(0, "node_started", {}), *(commit(h, h) for h in range(1, 4))])
    data = tmp_path / "n1" / "data"
    (data / "node.log").rename(data / "node.log.2")
    lines = [
        json.dumps({"event": "committed", "height": h, "round": 0, "timestamp": stamp(h)})
        for h in range(4, 7)
    ]
    (data / "node.log.1").write_text("\n".join(lines[:2]) + "\n")
    (data / "node.log").write_text(lines[2] + "\n")
    found = calibrate(read_run(tmp_path))
    assert found["heights"] == 6
    assert found["parameters"]["block_time_s"]["value"] == pytest.approx(1.0)


def test_logs_without_per_height_lines_say_how_to_get_them(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """At log level info a node writes summaries, not `committed` lines."""
    summary = {"height": 9, "heights": 9, "txs": 0, "extra_rounds": 0, "interval_s": 10.0}
    write_log(tmp_path, "n1", [(0, "node_started", {}), (10, "summary", summary)])
    assert main(["risk", "calibrate", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "no per-height `committed` records" in err and "--log-level debug" in err


def test_the_reference_node_is_one_that_never_restarted(tmp_path: Path) -> None:
    """n2 restarts and catches up on every height, ending one ahead of n1 (stopped first):
    the rounds lost in its outage are still read from n1, which saw them."""
    n1 = [(0, "node_started", {}), *(commit(h, h) for h in range(1, 6)), commit(7, 6, 1)]
    n2 = [(0, "node_started", {}), commit(1, 1), (8, "node_started", {})]
    n2 += [commit(8.5, h, 1 if h == 6 else 0) for h in range(2, 8)]
    write_log(tmp_path, "n1", n1)
    write_log(tmp_path, "n2", n2)
    found = calibrate(read_run(tmp_path))
    assert found["reference_node"] == "n1"
    assert found["restarts"][0]["rounds_lost"] == 1
