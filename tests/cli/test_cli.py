"""The `sequencer-net` command as a user runs it: output, exit codes and error messages."""

from __future__ import annotations

import argparse
import json
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from sequencer_net.cli import _parser, main
from sequencer_net.commands.sim import replay_command


def test_sim_json_summary_for_several_seeds(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["sim", "--nodes", "4", "--twins", "1", "--seeds", "3", "--heights", "8", "--json"])
    out = json.loads(capsys.readouterr().out)
    assert code == 0
    assert out["seeds"] == 3 and out["violations"] == 0 and out["failed_seeds"] == []
    assert out["heights_min"] >= 8
    assert out["scenario"]["twins"] == 1


def test_single_seed_prints_the_committed_chain(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["sim", "--heights", "5"]) == 0
    out = capsys.readouterr().out
    assert "committed chain" in out and "seeds passed" in out
    assert "1 / 1" in out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["sim", "--nodes", "4", "--stake", "10,10"], "2 stakes for 4 nodes"),
        (["sim", "--nodes", "4", "--twins", "2"], "--allow-unsafe"),
        (["sim", "--drop", "1.5"], "probabilities"),
        (["sim", "--seeds", "0"], "--seeds: must be an integer from 1"),
    ],
)
def test_bad_arguments_give_one_clear_line(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_failing_invariant_exits_nonzero_and_names_the_seed() -> None:
    argv = ["sim", "--nodes", "4", "--mute", "2", "--allow-unsafe"]  # half the stake silent
    found = None
    for seed in range(40):
        proc = subprocess.run(
            [sys.executable, "-m", "sequencer_net", *argv, "--seed", str(seed), "--json"],
            capture_output=True,
            text=True,
            timeout=120,
        )
        if proc.returncode == 1:
            found = json.loads(proc.stdout)
            break
    assert found is not None, "half the stake silent never broke an invariant in 40 seeds"
    assert found["failed_seeds"][0]["seed"] == seed


def test_replay_command_keeps_a_non_default_schedule() -> None:
    args = _parser().parse_args(["sim", "--twins", "1", "--schedule", "random"])
    assert "--twins 1 --schedule random" in replay_command(args, 5)
    args = _parser().parse_args(["sim", "--twins", "1"])
    assert "--schedule" not in replay_command(args, 5)


@pytest.mark.parametrize(
    ("faults", "message"),
    [
        (["n5=mute"], "no node 'n5'; the nodes are n1..n4"),
        (["x=mute"], "no node 'x'"),
        (["n1"], "expected NODE=SPEC"),
        (["n1="], "expected NODE=SPEC"),
        (["n1=explode"], "unknown fault behaviour 'explode'"),
        (["n1=drop 2"], "FRACTION must be a number"),
        (["n1=amnesia"], "the simulator cannot run the 'amnesia' fault"),
        (["n1=crash 3"], "for crashes use --crash"),
        (["n1=garbage"], "the simulator cannot run the 'garbage' fault"),
        (["n1=withhold", "n2=censor sender=a"], "--allow-unsafe"),
    ],
)
def test_bad_faults_are_refused_in_one_line(
    faults: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["sim", "--heights", "3"] + [a for f in faults for a in ("--fault", f)]
    try:
        code = main(argv)
    except SystemExit as exc:  # argparse's own usage errors (NODE=SPEC not even split)
        code = exc.code
    assert code == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_a_fault_on_a_twin_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["sim", "--twins", "1", "--fault", "n1=drop 0.1"]) == 2
    assert "--fault n1: it is already a twin" in capsys.readouterr().err


def test_faulty_runs_print_clean_json_and_count_only_byzantine_faults(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The fault layer logs (``equivocated`` ...); none of it may land in the output."""
    argv = ["sim", "--heights", "5", "--json", "--fault", "n1=equivocate"]
    argv += ["--fault", "n2=drop 0.2", "--fault", "n3=delay 20"]  # a third of the stake, honest
    assert main(argv) == 0
    captured = capsys.readouterr()
    out = json.loads(captured.out)
    assert out["offenders"] == ["n1"] and out["violations"] == 0
    assert out["scenario"]["faults"] == ["n1=equivocate", "n2=drop 0.2", "n3=delay 20"]
    assert "equivocated" not in captured.err


def test_replay_command_repeats_the_faults() -> None:
    argv = ["sim", "--fault", "n3=withhold", "--fault", "n4=drop 0.2"]
    command = replay_command(_parser().parse_args(argv), 9)
    assert "--fault n3=withhold --fault 'n4=drop 0.2'" in command
    replayed = _parser().parse_args(shlex.split(command)[1:])
    assert replayed.faults == [("n3", "withhold"), ("n4", "drop 0.2")] and replayed.seed == 9


def test_the_cli_offers_exactly_the_simulator_schedules() -> None:
    from sequencer_net.commands import sim as sim_command
    from sequencer_net.sim import scenario

    assert sim_command.SCHEDULES == scenario.SCHEDULES


# ---- which cluster: --dir everywhere ---------------------------------------------------------

NO_CLUSTER_COMMANDS = {("sim",), ("node",), ("cluster", "init"), ("cluster", "list")}
NO_CLUSTER_COMMANDS |= {("evidence", "verify")}  # a log file and a genesis file, no cluster
NO_CLUSTER_COMMANDS |= {("namespace", "verify")}  # a proof file and a genesis file, no cluster
NO_CLUSTER_COMMANDS |= {("risk",)}  # a scenario file; `risk calibrate DIR` names a finished run


def _leaves(parser: argparse.ArgumentParser, path: tuple[str, ...] = ()):
    subcommands = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    if not subcommands:
        yield path, parser
    for action in subcommands:
        for name, sub in action.choices.items():
            yield from _leaves(sub, (*path, name))


def test_every_command_on_a_cluster_accepts_dir() -> None:
    leaves = dict(_leaves(_parser()))
    assert set(leaves) >= NO_CLUSTER_COMMANDS
    lacking = [
        " ".join(path)
        for path, parser in leaves.items()
        if path not in NO_CLUSTER_COMMANDS and "--dir" not in parser._option_string_actions
    ]
    assert lacking == []
    assert "--dir" in leaves[("cluster", "init")]._option_string_actions  # where to create it


@pytest.mark.parametrize("action", ["status", "down"])
def test_cluster_actions_take_dir_as_positional_or_option(
    action: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from sequencer_net.cluster import init_cluster
    from sequencer_net.config import ClusterSpec

    root = init_cluster(ClusterSpec("d", 2), tmp_path / "c")  # initialised, never started
    monkeypatch.chdir(tmp_path)  # no runs/.current here: only the dir given can be used
    json_flag = ["--json"] if action == "status" else []
    for where in ([str(root)], ["--dir", str(root)], [str(root), "--dir", str(root)]):
        assert main(["cluster", action, *where, *json_flag]) == 0
        out = capsys.readouterr().out
        if action == "status":
            assert json.loads(out)["dir"] == str(root)
    assert main(["cluster", action, str(root), "--dir", str(tmp_path)]) == 2
    assert "two cluster dirs given" in capsys.readouterr().err
