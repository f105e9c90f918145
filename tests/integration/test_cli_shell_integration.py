"""The `sequencer-net` command against a real cluster, as a user's shell runs it: a payload from
stdin, a repeated payload, `--wait` that times out, a dead node in `cluster status`, and
`--json` piped into a reader that stops early. Exit codes: 0 done, 1 not done, 2 usage."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable

import pytest
from helpers.cluster import addresses, wait_for_height

from sequencer_net.cluster.control import Cluster
from sequencer_net.config import ClusterSpec

CLI = [sys.executable, "-m", "sequencer_net"]


@pytest.fixture
def four(start: Callable[[ClusterSpec], Cluster]) -> Cluster:
    return start(ClusterSpec(name="cli", nodes=4))


def run(cluster: Cluster, *argv: str, stdin: bytes = b"") -> subprocess.CompletedProcess[str]:
    where = [str(cluster.root)] if argv[0] == "cluster" else ["--dir", str(cluster.root)]
    return subprocess.run(
        [*CLI, *argv, *where],
        input=stdin.decode(),
        capture_output=True,
        text=True,
        timeout=120,
    )


async def test_send_from_stdin_twice_then_wait_in_vain(four: Cluster) -> None:
    await wait_for_height(addresses(four)["n1"], 2)
    first = run(four, "tx", "send", "-", "--wait", "--json", stdin=b"from stdin")
    assert first.returncode == 0, first.stderr
    committed = json.loads(first.stdout)
    assert committed["status"] == "committed"

    again = run(four, "tx", "send", "-", "--wait", "--json", stdin=b"from stdin")
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout)["txid"] == committed["txid"]

    for name in ("n2", "n3"):  # half the stake gone: nothing commits
        four.pause(name)
    late = run(four, "tx", "send", "never", "--wait", "--timeout", "3")
    assert late.returncode == 1, (late.stdout, late.stderr)
    assert "pending" in late.stdout and "Traceback" not in late.stderr
    bad = run(four, "tx", "send", "x", "--wait", "--timeout", "0")
    assert bad.returncode == 2 and "--timeout must be positive" in bad.stderr


async def test_status_exits_1_naming_a_dead_node_and_json_survives_a_closed_pipe(
    four: Cluster,
) -> None:
    await wait_for_height(addresses(four)["n1"], 2)
    assert run(four, "cluster", "status").returncode == 0
    four.kill("n4")
    status = run(four, "cluster", "status")
    assert status.returncode == 1 and "n4" in status.stdout + status.stderr

    piped = subprocess.run(
        f"{' '.join(CLI)} status --all --json --dir {four.root} | true",
        shell=True,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert "Traceback" not in piped.stderr and "BrokenPipe" not in piped.stderr
