"""`sequencer-net cluster ...` as a user types it, with real node processes on 127.0.0.1: a
start waits for every node, a node that cannot start fails the whole `up` in one line, and no
command leaves a node running that it did not report. Every test stops what it started."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from sequencer_net.client import parse_address
from sequencer_net.cluster.control import Cluster
from sequencer_net.config import load_genesis

CLI_TIMEOUT_S = 180  # bounds a hung command; the commands finish far sooner


def node_processes(root: Path) -> list[int]:
    """Pids of live processes whose command line mentions ``root`` (its nodes' node.toml)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ")
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if str(root).encode() in cmdline and state != "Z":
            found.append(int(entry.name))
    return found


def sequencer_net(*argv: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "sequencer_net", *argv],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=CLI_TIMEOUT_S,
        env={**os.environ, "COLUMNS": "250"},  # tables of long tmp paths stay one row a line
    )


@pytest.fixture
def stop_all(tmp_path: Path) -> Iterator[None]:
    """Whatever a test leaves running under tmp_path is stopped, and then counted as a failure."""
    yield
    leftover = node_processes(tmp_path)
    for root in tmp_path.rglob("genesis.toml"):
        Cluster(root.parent).down()
    assert not leftover, f"node processes left running: {leftover}"


def test_detached_up_with_a_busy_port_exits_1_naming_node_and_port(
    tmp_path: Path, stop_all: None
) -> None:
    init = sequencer_net("cluster", "init", "--nodes", "4", "--dir", "c", cwd=tmp_path)
    assert init.returncode == 0, init.stderr
    root = tmp_path / "c"
    host, port = parse_address(load_genesis(root / "genesis.toml").addresses["n3"].client)
    with socket.socket() as blocker:
        blocker.bind((host, port))
        up = sequencer_net("cluster", "up", "c", "--detach", cwd=tmp_path)
    assert up.returncode == 1, up.stderr
    assert "Traceback" not in up.stderr and up.stdout == ""
    [error] = [line for line in up.stderr.splitlines() if "error:" in line]
    assert f"n3 (client {host}:{port}) exited at start-up" in error
    assert f"in use by another program: client {host}:{port}" in error
    assert "already in use" in error
    assert node_processes(root) == []


LATE_N4 = textwrap.dedent(
    """
    import runpy, sys, trio
    from sequencer_net.cluster.probe import probe
    from sequencer_net.config import load_node_config

    async def committing(address):
        for _ in range(600):
            status = await probe(address, timeout=1)
            if status is not None and status["height"] >= 2:
                return
            await trio.sleep(0.1)

    config = load_node_config(sys.argv[1])
    if config.name == "n4":  # start only once n1 answers and commits, as a slow first start would
        trio.run(committing, config.addresses["n1"].client)
    sys.argv = ["sequencer-net", "node", "--config", sys.argv[1]]
    runpy.run_module("sequencer_net", run_name="__main__")
    """
)


def test_foreground_up_with_load_waits_for_a_late_node(tmp_path: Path, stop_all: None) -> None:
    """The old `up --load` connected to every node as soon as n1 answered and died with an
    ExceptionGroup ('cannot reach node') when another node was slower to start."""
    script = tmp_path / "up.py"
    script.write_text(
        textwrap.dedent(
            f"""
            import sys
            from sequencer_net import cli
            from sequencer_net.commands.cluster import up
            up.node_command = lambda config: [
                sys.executable, "-c", {LATE_N4!r}, str(config)
            ]
            sys.exit(cli.main(sys.argv[1:]))
            """
        )
    )
    argv = ["cluster", "up", "--nodes", "4", "--dir", "c", "--load", "50", "--duration", "8"]
    up = subprocess.run(
        [sys.executable, str(script), *argv],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=CLI_TIMEOUT_S,
        env={**os.environ, "COLUMNS": "120"},
    )
    assert up.returncode == 0, up.stderr
    assert "Traceback" not in up.stderr and "all 4 nodes answer" in up.stderr
    assert "load: " in up.stdout and "stopped n1, n2, n3, n4" in up.stdout
    assert node_processes(tmp_path / "c") == []


def test_list_shows_every_cluster_and_a_second_up_of_a_running_config_is_refused(
    tmp_path: Path, stop_all: None
) -> None:
    work = tmp_path / "work"
    work.mkdir()
    spec = work / "pair.toml"
    spec.write_text('[cluster]\nname = "pair"\nnodes = 2\n')
    first = sequencer_net("cluster", "up", "pair.toml", "--detach", cwd=work)
    assert first.returncode == 0, first.stderr
    root = Path(first.stdout.strip())
    assert root == work / "runs" / "pair"

    again = sequencer_net("cluster", "up", "pair.toml", "--detach", cwd=work)
    assert again.returncode == 1 and "Traceback" not in again.stderr
    assert f"already running in {root}" in again.stderr
    assert f"sequencer-net cluster down {root}" in again.stderr
    assert not (work / "runs" / "pair-2").exists()  # refused before creating anything

    elsewhere = tmp_path / "elsewhere"
    other = sequencer_net(
        "cluster", "up", "--nodes", "1", "--dir", str(elsewhere), "--detach", cwd=work
    )
    assert other.returncode == 0, other.stderr
    assert sequencer_net("cluster", "down", str(root), cwd=work).returncode == 0

    listed = sequencer_net("cluster", "list", "--json", cwd=work)
    assert listed.returncode == 0, listed.stderr
    assert json.loads(listed.stdout)["clusters"] == [
        {
            "dir": str(root),
            "config": str(spec),
            "alive": 0,
            "total": 2,
            "state": "stopped",
            "current": False,
        },
        {
            "dir": str(elsewhere),
            "config": "--nodes 1",
            "alive": 1,
            "total": 1,
            "state": "running",
            "current": True,
        },
    ]
    table = sequencer_net("cluster", "list", cwd=work)
    assert table.returncode == 0, table.stderr
    [pair_row] = [line for line in table.stdout.splitlines() if "runs/pair " in line]
    assert "pair.toml" in pair_row and "0/2" in pair_row and "stopped" in pair_row
    [other_row] = [line for line in table.stdout.splitlines() if str(elsewhere) in line]
    assert "*" in other_row and "1/1" in other_row and "running" in other_row

    # Once the first is down, the same config starts again, in a fresh dir.
    second = sequencer_net("cluster", "up", "pair.toml", "--detach", cwd=work)
    assert second.returncode == 0, second.stderr
    assert Path(second.stdout.strip()) == work / "runs" / "pair-2"
    for running in (elsewhere, work / "runs" / "pair-2"):
        assert sequencer_net("cluster", "down", str(running), cwd=work).returncode == 0


def test_a_node_lost_under_load_is_reported_and_the_load_goes_on(
    tmp_path: Path, stop_all: None
) -> None:
    """The load once died with the node it lost ("load stopped"); now the node's requests
    count as unanswered and the others carry the load to its end."""
    argv = ["cluster", "up", "--nodes", "4", "--dir", "c", "--load", "50", "--duration", "12"]
    up = subprocess.Popen(
        [sys.executable, "-m", "sequencer_net", *argv],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert up.stderr is not None
        lines = iter(up.stderr.readline, "")
        assert any(line.startswith("all 4 nodes answer") for line in lines)
        killed = sequencer_net("cluster", "kill", "n2", "--dir", "c", cwd=tmp_path)
        assert killed.returncode == 0, killed.stderr
        out, err = up.communicate(timeout=CLI_TIMEOUT_S)
    finally:
        up.kill()
        up.wait()
    n2 = load_genesis(tmp_path / "c" / "genesis.toml").addresses["n2"].client
    assert up.returncode == 1, err
    assert "Traceback" not in err and "load stopped" not in err, err
    assert f"stopped answering: {n2}" in " ".join(out.split()), out[-2000:]
    assert node_processes(tmp_path / "c") == []
