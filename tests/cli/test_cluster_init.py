"""The cluster tool: `init` writes a loadable cluster dir, and process control really starts,
stops, pauses and kills processes. Real nodes are replaced by a stand-in child (a sleeping
Python process) so these tests exercise the launcher alone; every test kills what it started."""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable, Iterator
from functools import partial
from pathlib import Path

import pytest
import trio
from helpers.paths import CONFIGS
from rich.console import Console

from sequencer_net.api_protocol import MAX_REQUEST_FRAME, pack, unpack
from sequencer_net.cluster import Cluster, ClusterError, init_cluster, procs, registry, state
from sequencer_net.cluster.control import NodeProcess
from sequencer_net.cluster.init import fresh_dir
from sequencer_net.cluster.layout import Layout
from sequencer_net.cluster.ports import free_ports
from sequencer_net.cluster.probe import probe, probe_all
from sequencer_net.cluster.procs import Proc, ProcState
from sequencer_net.cluster.status import combine, gather_sync, table
from sequencer_net.commands import cluster as cluster_cli
from sequencer_net.commands.cluster import up as cluster_up
from sequencer_net.commands.errors import Failure, UsageError
from sequencer_net.config import ClusterSpec, ConfigError, load_genesis, load_node_config
from sequencer_net.net import FrameReader, send_frame

SLEEPER = "import time; time.sleep(60)"  # bounded, should a finalizer ever miss one
# A stand-in that answers every client API request with an empty result, so `cluster up` sees
# it start; bounded like SLEEPER. Takes the node.toml path as its argument.
ANSWERING = textwrap.dedent(
    """
    import sys, trio
    from sequencer_net.api_protocol import MAX_REQUEST_FRAME, pack, unpack
    from sequencer_net.client import parse_address
    from sequencer_net.config import load_node_config
    from sequencer_net.net import FrameReader, send_frame

    config = load_node_config(sys.argv[1])
    host, port = parse_address(config.addresses[config.name].client)

    async def answer(stream):
        reader = FrameReader(stream, MAX_REQUEST_FRAME)
        try:
            while True:
                request = unpack(await reader.receive())
                await send_frame(stream, pack({"id": request["id"], "result": {}}))
        except Exception:
            pass

    async def main():
        with trio.move_on_after(60):
            await trio.serve_tcp(answer, port, host=host)

    trio.run(main)
    """
)


def stand_in(code: str = SLEEPER) -> Callable[[Path], list[str]]:
    return lambda config: [sys.executable, "-c", code, str(config)]


def proc_state(pid: int) -> str | None:
    """The state letter from /proc/PID/stat, None when the process is gone."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return None
    return text[text.rindex(")") + 2]


def catches(pid: int, signum: int) -> bool:
    """Whether process ``pid`` has a handler installed for ``signum`` (SigCgt in its status)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return False
    [mask] = [line.split()[1] for line in status.splitlines() if line.startswith("SigCgt:")]
    return bool(int(mask, 16) >> (signum - 1) & 1)


def gone(pid: int) -> bool:
    """Dead and reaped (ours), or a zombie awaiting a parent that is not this test."""
    return proc_state(pid) in (None, "Z")


def wait_until(condition: Callable[[], bool], timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


@pytest.fixture
def started(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[Proc]]:
    """Every process the launcher starts in this test; all are SIGKILLed at the end."""
    procs_started: list[Proc] = []
    real_spawn = procs.spawn

    def spawn(argv: list[str], output: Path) -> Proc:
        proc = real_spawn(argv, output)
        procs_started.append(proc)
        return proc

    monkeypatch.setattr(procs, "spawn", spawn)
    yield procs_started
    for proc in procs_started:
        procs.send(proc, signal.SIGKILL)
    assert not procs.wait_dead(procs_started, 5.0), "a started process survived SIGKILL"


@pytest.fixture
def cluster_dir(tmp_path: Path) -> Path:
    return init_cluster(ClusterSpec("test", 3, (10, 20, 5)), tmp_path / "cluster")


# ---- init ------------------------------------------------------------------------------------


def test_init_writes_a_loadable_cluster(tmp_path: Path) -> None:
    spec = ClusterSpec("weighted", 4, (30, 20, 15, 5), chain_id="chain-w")
    root = init_cluster(spec, tmp_path / "c")
    assert root == (tmp_path / "c").absolute()
    genesis = load_genesis(root / "genesis.toml")
    assert genesis.genesis.chain_id == "chain-w"
    assert [(v.name, v.power) for v in genesis.genesis.validators] == [
        ("n1", 30),
        ("n2", 20),
        ("n3", 15),
        ("n4", 5),
    ]
    for name in ("n1", "n2", "n3", "n4"):
        config = load_node_config(root / name / "node.toml")  # also checks key vs genesis
        assert config.name == name
        assert config.data_dir == (root / name / "data").resolve() and config.data_dir.is_dir()
        assert (root / name / "key").stat().st_mode & 0o777 == 0o600
    addresses = [a for pair in genesis.addresses.values() for a in pair]
    assert len(set(addresses)) == 8
    assert all(a.startswith("127.0.0.1:") for a in addresses)
    keys = {v.public_key for v in genesis.genesis.validators}
    assert len(keys) == 4


def test_init_gives_every_node_a_metrics_port_and_lists_them_in_prometheus_yml(
    tmp_path: Path,
) -> None:
    root = init_cluster(ClusterSpec("m", 3, log_level="debug"), tmp_path / "c")
    genesis = load_genesis(root / "genesis.toml")
    configs = {n: load_node_config(root / n / "node.toml") for n in ("n1", "n2", "n3")}
    metrics = {n: c.metrics_address for n, c in configs.items()}
    assert all(a is not None and a.startswith("127.0.0.1:") for a in metrics.values())
    taken = [a for pair in genesis.addresses.values() for a in pair]
    taken += [c.admin_address for c in configs.values()] + list(metrics.values())
    assert len(set(taken)) == len(taken) == 12  # peer, client, admin and metrics, per node
    assert {c.log.level for c in configs.values()} == {"debug"}
    text = (root / "prometheus.yml").read_text()
    for name, address in metrics.items():
        assert f'- targets: ["{address}"]' in text and f'node: "{name}"' in text
    assert "job_name: sequencer-net" in text and "metrics_path: /metrics" in text
    # `cluster status` shows them: in --json per row, under the table in its caption.
    cluster = Cluster(root)
    rows = combine(cluster, cluster.processes(), {})
    assert {r.name: r.metrics_address for r in rows} == metrics
    assert {r.name: r.to_json()["metrics_address"] for r in rows} == metrics
    console = Console(width=200, record=True)
    console.print(table(rows, "t"))
    shown = " ".join(console.export_text().split())  # the caption wraps at the table width
    assert all(f"{name} {address}" in shown for name, address in metrics.items())


def test_the_cluster_commands_offer_the_node_config_log_levels() -> None:
    from sequencer_net.config import LOG_LEVELS

    assert cluster_up.LOG_LEVELS == LOG_LEVELS  # a copy, so `cluster --help` stays fast


def test_init_uses_an_existing_empty_dir_and_refuses_a_non_empty_one(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    init_cluster(ClusterSpec("a", 1), tmp_path / "empty")
    before = (tmp_path / "empty" / "genesis.toml").read_text()
    with pytest.raises(ClusterError, match="not empty; refusing to overwrite"):
        init_cluster(ClusterSpec("a", 1), tmp_path / "empty")
    assert (tmp_path / "empty" / "genesis.toml").read_text() == before
    (tmp_path / "file").write_text("x")
    with pytest.raises(ClusterError, match="not a directory"):
        init_cluster(ClusterSpec("a", 1), tmp_path / "file")


def test_free_ports_are_distinct_and_bindable() -> None:
    ports = free_ports(20)
    assert len(set(ports)) == 20
    assert all(1024 <= port <= 65535 for port in ports)


def test_fresh_dir_never_reuses_a_taken_name(tmp_path: Path) -> None:
    assert fresh_dir("local-4", tmp_path) == tmp_path / "local-4"
    (tmp_path / "local-4").mkdir()
    (tmp_path / "local-4-2").mkdir()
    assert fresh_dir("local-4", tmp_path) == tmp_path / "local-4-3"


def test_a_dir_without_genesis_is_not_a_cluster(tmp_path: Path) -> None:
    with pytest.raises(ClusterError, match="not a cluster dir"):
        Cluster(tmp_path)


# ---- process control -------------------------------------------------------------------------


def test_up_status_pause_resume_kill_restart_down(cluster_dir: Path, started: list[Proc]) -> None:
    cluster = Cluster(cluster_dir, command=stand_in())
    pids = cluster.up()
    assert sorted(pids) == ["n1", "n2", "n3"]
    for pid in pids.values():
        os.kill(pid, 0)  # exists
        assert os.getpgid(pid) == pid  # leads its own process group
    recorded = json.loads((cluster_dir / "cluster.json").read_text())["nodes"]
    assert {name: entry["pid"] for name, entry in recorded.items()} == pids
    assert all(entry["started_at"].endswith("+00:00") for entry in recorded.values())
    assert [p.state for p in cluster.processes()] == [ProcState.ALIVE] * 3
    with pytest.raises(ClusterError, match=r"already up .* cluster down /"):
        cluster.up()

    assert cluster.pause("n2") == pids["n2"]
    assert wait_until(lambda: proc_state(pids["n2"]) == "T")
    assert {p.name: p.state for p in cluster.processes()}["n2"] is ProcState.PAUSED
    cluster.resume("n2")
    assert wait_until(lambda: proc_state(pids["n2"]) not in ("T", None))
    assert {p.name: p.state for p in cluster.processes()}["n2"] is ProcState.ALIVE

    cluster.kill("n1")
    with pytest.raises(ProcessLookupError):
        os.kill(pids["n1"], 0)  # dead and reaped: no zombie left behind
    assert {p.name: (p.pid, p.state) for p in cluster.processes()}["n1"] == (
        pids["n1"],
        ProcState.DEAD,
    )
    with pytest.raises(ClusterError, match="n1 is not running"):
        cluster.kill("n1")
    with pytest.raises(ClusterError, match="n1 is not running"):
        cluster.pause("n1")

    new_n1 = cluster.restart("n1")  # dead: just starts it
    new_n3 = cluster.restart("n3")  # alive: killed first
    assert new_n1 != pids["n1"] and new_n3 != pids["n3"]
    os.kill(new_n1, 0)
    os.kill(new_n3, 0)
    with pytest.raises(ProcessLookupError):
        os.kill(pids["n3"], 0)
    assert [p.state for p in cluster.processes()] == [ProcState.ALIVE] * 3

    cluster.pause("n2")  # down must stop paused nodes too
    running, killed = cluster.down()
    assert running == ["n1", "n2", "n3"] and killed == []
    for pid in (new_n1, pids["n2"], new_n3):
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)
    assert json.loads((cluster_dir / "cluster.json").read_text()) == {"nodes": {}}
    assert [(p.pid, p.state) for p in cluster.processes()] == [(None, ProcState.STOPPED)] * 3
    assert cluster.down() == ([], [])

    out = (cluster_dir / "n1" / "node.out").read_text()
    assert out.count("---") == 2 and str(cluster_dir / "n1" / "node.toml") in out


def test_unknown_node_names_the_known_ones(cluster_dir: Path) -> None:
    with pytest.raises(ClusterError, match=r"no node 'n7'.*n1, n2, n3"):
        Cluster(cluster_dir).kill("n7")


def test_down_escalates_to_sigkill(cluster_dir: Path, started: list[Proc]) -> None:
    stubborn = (
        "import signal, sys, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
        "print('ready'.upper(), flush=True); time.sleep(60)"
    )
    cluster = Cluster(cluster_dir, command=stand_in(stubborn))
    pids = cluster.up()
    for name in pids:
        output = cluster_dir / name / "node.out"
        # READY, not the "ready" of the command line node.out starts with
        assert wait_until(lambda output=output: "READY" in output.read_text())
    began = time.monotonic()
    running, killed = cluster.down(timeout=0.5)
    assert 0.5 <= time.monotonic() - began < 4
    assert running == killed == ["n1", "n2", "n3"]
    assert all(gone(pid) for pid in pids.values())


def test_a_failed_start_leaves_no_process_behind(
    cluster_dir: Path, started: list[Proc], monkeypatch: pytest.MonkeyPatch
) -> None:
    def command(config: Path) -> list[str]:
        if config.parent.name == "n3":
            return [str(cluster_dir / "no-such-program")]
        return stand_in()(config)

    with pytest.raises(ClusterError, match="cannot start"):
        Cluster(cluster_dir, command=command).up()
    assert len(started) == 2
    assert all(gone(proc.pid) for proc in started)
    assert state.load(cluster_dir / "cluster.json") == {}


def test_a_reused_pid_is_never_signalled(cluster_dir: Path, started: list[Proc]) -> None:
    cluster = Cluster(cluster_dir, command=stand_in())
    pids = cluster.up()
    # Pretend n1's record is from an older process that happened to have the same pid.
    records = state.load(cluster_dir / "cluster.json")
    records["n1"] = Proc(pids["n1"], records["n1"].start_ticks - 1, records["n1"].started_at)
    state.save(cluster_dir / "cluster.json", records)
    assert {p.name: p.state for p in cluster.processes()}["n1"] is ProcState.DEAD
    with pytest.raises(ClusterError, match="not running"):
        cluster.kill("n1")
    os.kill(pids["n1"], 0)  # untouched
    cluster.down()


def test_up_refuses_a_broken_node_config_before_starting_anything(
    cluster_dir: Path, started: list[Proc]
) -> None:
    (cluster_dir / "n2" / "key").chmod(0o644)
    with pytest.raises(ConfigError, match="chmod 600"):
        Cluster(cluster_dir, command=stand_in()).up()
    assert started == []


# ---- status ----------------------------------------------------------------------------------


def test_status_shows_dash_for_nodes_that_do_not_answer(
    cluster_dir: Path, started: list[Proc]
) -> None:
    cluster = Cluster(cluster_dir, command=stand_in())
    cluster.up()
    cluster.pause("n2")
    cluster.kill("n3")
    began = time.monotonic()
    rows = gather_sync(cluster)
    assert time.monotonic() - began < 2.5
    assert [(r.name, r.state) for r in rows] == [
        ("n1", ProcState.ALIVE),
        ("n2", ProcState.PAUSED),
        ("n3", ProcState.DEAD),
    ]
    assert all(r.height is None and r.peers is None for r in rows)
    rendered = table(rows, "t")
    assert rendered.row_count == 3
    json.dumps([r.to_json() for r in rows])
    cluster.down()


async def test_probe_reads_a_status_answer_and_gives_up_on_a_silent_node() -> None:
    status = {"name": "n1", "height": 7, "round": 1, "step": "prevote", "peers": ["n2"]}

    async def answering(stream: trio.SocketStream) -> None:
        request = unpack(await FrameReader(stream, MAX_REQUEST_FRAME).receive())
        await send_frame(stream, pack({"id": request["id"], "result": {**status, "mempool": 3}}))

    async def silent(stream: trio.SocketStream) -> None:
        await trio.sleep_forever()

    async with trio.open_nursery() as nursery:
        good = await nursery.start(partial(trio.serve_tcp, answering, 0, host="127.0.0.1"))
        hung = await nursery.start(partial(trio.serve_tcp, silent, 0, host="127.0.0.1"))
        good_address = f"127.0.0.1:{good[0].socket.getsockname()[1]}"
        hung_address = f"127.0.0.1:{hung[0].socket.getsockname()[1]}"
        closed_address = f"127.0.0.1:{free_ports(1)[0]}"
        began = trio.current_time()
        answers = await probe_all(
            {"n1": good_address, "n2": hung_address, "n3": closed_address}, timeout=0.5
        )
        assert trio.current_time() - began < 1.5
        assert answers == {"n1": {**status, "mempool": 3}, "n2": None, "n3": None}
        assert await probe(hung_address, timeout=0.1) is None
        nursery.cancel_scope.cancel()


def test_reports_only_count_for_running_nodes(cluster_dir: Path) -> None:
    cluster = Cluster(cluster_dir)
    processes = [
        NodeProcess("n1", 100, ProcState.ALIVE),
        NodeProcess("n2", 101, ProcState.DEAD),
        NodeProcess("n3", 102, ProcState.ALIVE),
    ]
    report = {"height": 9, "round": 0, "step": "propose", "peers": ["n2", "n3"], "mempool": 4}
    rows = combine(cluster, processes, {"n1": report, "n2": report, "n3": {"height": "x"}})
    assert (rows[0].height, rows[0].peers, rows[0].mempool) == (9, ["n2", "n3"], 4)
    assert rows[1].height is None  # a stale report from a node that died
    assert rows[2].height is None  # malformed fields show as unknown, not as a crash


# ---- the `cluster` commands ------------------------------------------------------------------


def cluster_command(*argv: str) -> int:
    parser = argparse.ArgumentParser(prog="sequencer-net")
    add = parser.add_subparsers(dest="command")
    cluster_cli.add_cluster_commands(add)
    args = parser.parse_args(["cluster", *argv])
    return args.run(args)


def test_cli_init_from_flags_and_from_a_spec(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)  # runs/.clusters goes here, not into the repo
    assert (
        cluster_command("init", "--nodes", "3", "--stake", "10,10,5", "--dir", str(tmp_path / "a"))
        == 0
    )
    assert capsys.readouterr().out.strip() == str(tmp_path / "a")
    genesis = load_genesis(tmp_path / "a" / "genesis.toml").genesis
    assert [v.power for v in genesis.validators] == [10, 10, 5]
    assert genesis.chain_id == "local-3"
    spec = CONFIGS / "weighted-7.toml"
    assert cluster_command("init", str(spec), "--dir", str(tmp_path / "b")) == 0
    assert len(load_genesis(tmp_path / "b" / "genesis.toml").genesis.validators) == 7
    # Each dir remembers what it was made from, and `cluster list` finds both.
    assert registry.read_origin(Layout(tmp_path / "a")) == "--nodes 3 --stake 10,10,5"
    assert registry.read_origin(Layout(tmp_path / "b")) == str(spec)
    assert registry.known() == [tmp_path / "a", tmp_path / "b"]
    assert load_node_config(tmp_path / "a" / "n1" / "node.toml").log.level == "info"
    argv = ("init", "--nodes", "1", "--log-level", "debug", "--dir", str(tmp_path / "d"))
    assert cluster_command(*argv) == 0
    assert load_node_config(tmp_path / "d" / "n1" / "node.toml").log.level == "debug"


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["init"], "give a spec file"),
        (["init", "configs/local-4.toml", "--nodes", "3"], "not both"),
        (["init", "--nodes", "4", "--stake", "10,10"], "stakes: 2 stakes for 4 nodes"),
        (["init", "--nodes", "0"], "nodes: must be 1..100"),
        (["init", "missing.toml"], "missing.toml: file not found"),
        (["up", "--log-level", "debug"], "--log-level applies to a new cluster"),
        (["down", "."], "not a cluster dir"),  # a dir the user named
    ],
)
def test_cli_errors_are_usage_errors(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, argv: list[str], message: str
) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(UsageError, match=message):
        cluster_command(*argv)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["status"], "no cluster started from here yet"),
        (["kill", "n1"], "no cluster started from here yet"),
    ],
)
def test_cli_missing_clusters_are_failures_not_usage_errors(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, argv: list[str], message: str
) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(Failure, match=message):
        cluster_command(*argv)


def test_cli_init_refuses_a_non_empty_dir(tmp_path: Path) -> None:
    (tmp_path / "x").mkdir()
    (tmp_path / "x" / "keep").write_text("mine")
    with pytest.raises(Failure, match="not empty"):
        cluster_command("init", "--nodes", "2", "--dir", str(tmp_path / "x"))


def test_cli_detached_up_then_node_actions_and_down(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    started: list[Proc],
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(cluster_up, "node_command", stand_in(ANSWERING))
    assert cluster_command("up", "--nodes", "2", "--detach") == 0
    root = Path(capsys.readouterr().out.strip())
    assert root == tmp_path / "runs" / "local-2"
    assert (tmp_path / "runs" / ".current").read_text().strip() == str(root)
    assert cluster_command("status", "--json") == 0
    report = json.loads(capsys.readouterr().out)
    assert report["dir"] == str(root)
    assert [(n["name"], n["state"], n["height"]) for n in report["nodes"]] == [
        ("n1", "alive", None),
        ("n2", "alive", None),
    ]
    assert cluster_command("pause", "n1") == 0
    assert wait_until(lambda: proc_state(started[0].pid) == "T")
    assert cluster_command("resume", "n1") == 0
    assert cluster_command("kill", "n2", "--dir", str(root)) == 0
    assert "n2: killed" in capsys.readouterr().out
    assert gone(started[1].pid)
    assert cluster_command("status") == 1  # a node that should run is dead
    assert "dead (should run, but exited or was killed): n2" in capsys.readouterr().err
    assert cluster_command("restart", "n2") == 0
    assert cluster_command("status") == 0
    out = capsys.readouterr().out
    assert "alive" in out and "dead" not in out
    assert cluster_command("down") == 0
    assert "stopped n1, n2" in capsys.readouterr().out
    assert all(gone(proc.pid) for proc in started)
    assert cluster_command("status") == 0  # stopped cleanly: not dead
    out = capsys.readouterr().out
    assert "stopped" in out and "dead" not in out
    # A second `up` from the same spec gets a fresh dir (new keys, new ports).
    assert cluster_command("up", "--nodes", "2", "--detach") == 0
    assert Path(capsys.readouterr().out.strip()) == tmp_path / "runs" / "local-2-2"
    assert cluster_command("down") == 0


def test_cli_detached_up_reports_nodes_that_die_at_start(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    started: list[Proc],
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(cluster_up, "node_command", stand_in("raise SystemExit('boom: bad port')"))
    with pytest.raises(Failure, match=r"n1 \(client 127\.0\.0\.1:\d+\) exited at start-up.*boom"):
        cluster_command("up", "--nodes", "1", "--detach")
    assert capsys.readouterr().out == ""  # no dir printed: nothing was started


def test_cli_up_stops_every_node_when_one_never_answers(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    started: list[Proc],
) -> None:
    monkeypatch.chdir(tmp_path)
    silent_n2 = (
        f"import sys; exec({SLEEPER!r} if sys.argv[1].endswith('n2/node.toml') else {ANSWERING!r})"
    )
    monkeypatch.setattr(cluster_up, "node_command", stand_in(silent_n2))
    with pytest.raises(Failure, match="did not answer a status request within 10 s") as failed:
        cluster_command("up", "--nodes", "3", "--detach", "--startup-timeout", "10")
    client = load_genesis(tmp_path / "runs" / "local-3" / "genesis.toml").addresses["n2"].client
    assert f"n2 (client {client})" in str(failed.value)
    assert len(started) == 3
    assert all(gone(proc.pid) for proc in started)
    assert "stopping the cluster" in capsys.readouterr().err


def test_cli_foreground_up_stops_every_node_on_ctrl_c(tmp_path: Path) -> None:
    """Runs `cluster up` in a child process, as a user would, and interrupts it."""
    script = tmp_path / "up.py"
    script.write_text(
        textwrap.dedent(
            f"""
            import argparse, sys
            from sequencer_net.commands import cluster as cli
            from sequencer_net.commands.cluster import up
            up.node_command = lambda config: [sys.executable, "-c", {ANSWERING!r}, str(config)]
            parser = argparse.ArgumentParser()
            cli.add_cluster_commands(parser.add_subparsers())
            args = parser.parse_args(["cluster", "up", "--nodes", "3", "--dir", "c"])
            sys.exit(args.run(args))
            """
        )
    )
    child = subprocess.Popen(
        [sys.executable, str(script)],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    recorded: dict[str, Proc] = {}
    try:

        def all_started() -> bool:
            recorded.update(state.load(tmp_path / "c" / "cluster.json"))
            return len(recorded) == 3

        assert wait_until(all_started, timeout=20)
        assert child.stdout is not None
        lines = iter(child.stdout.readline, "")
        assert any(line.startswith("all 3 nodes answer") for line in lines)
        # Only the live view's signal receiver catches SIGHUP: once it does, Ctrl-C ends the view.
        assert wait_until(lambda: catches(child.pid, signal.SIGHUP), timeout=20)
        child.send_signal(signal.SIGINT)
        output, _ = child.communicate(timeout=20)
        assert child.returncode == 0, output
        assert "stopped n1, n2, n3" in output and "height" in output
        assert all(gone(proc.pid) for proc in recorded.values())
    finally:
        child.kill()
        child.wait()
        for proc in recorded.values():
            procs.send(proc, signal.SIGKILL)
