"""Client fan-out (`tx send --fanout`, `submit_fanout`) against stand-in nodes and one real
censoring cluster, and `censorship report` on canned metrics: rendering, the suspect rule,
live versus file sources, and the error paths."""

from __future__ import annotations

import json
import queue
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from functools import partial
from pathlib import Path
from typing import Any

import pytest
import trio
from helpers.cli import run
from helpers.paths import CONFIGS

from sequencer_net.api_protocol import MAX_REQUEST_FRAME, pack, unpack
from sequencer_net.censorship.metrics import FILENAME
from sequencer_net.censorship.suspects import NodeMetrics, Report
from sequencer_net.client import submit_fanout
from sequencer_net.cluster import probe as probe_module
from sequencer_net.cluster.control import Cluster
from sequencer_net.cluster.init import init_cluster
from sequencer_net.cluster.ports import free_ports
from sequencer_net.cluster.probe import probe
from sequencer_net.config import ClusterSpec, load_cluster_spec, load_genesis
from sequencer_net.net import FrameReader, NetError, send_frame
from sequencer_net.types import Tx, tx_id

NODES = ["n1", "n2", "n3", "n4"]
CENSOR_SPEC = CONFIGS / "censor-4.toml"


pytestmark = pytest.mark.usefixtures("wide_terminal")


@pytest.fixture
def cluster_dir(tmp_path: Path) -> Path:
    """An initialised 4-node cluster dir whose nodes never run (their ports refuse)."""
    return init_cluster(ClusterSpec(name="c", nodes=4), tmp_path / "c")


def client_ports(root: Path) -> dict[str, int]:
    addresses = load_genesis(root / "genesis.toml").addresses
    return {name: int(a.client.rpartition(":")[2]) for name, a in addresses.items()}


# ---- stand-in nodes --------------------------------------------------------------------------


async def fake_node(refusal: str | None, stream: trio.SocketStream) -> None:
    """Answers `submit` (accepting, or refusing with ``refusal``) and `tx_status` (pending)."""
    reader = FrameReader(stream, MAX_REQUEST_FRAME)
    try:
        while True:
            request = unpack(await reader.receive())
            if request["method"] == "submit":
                txs = request["params"]["txs"]
                result: Any = [[None, refusal] if refusal else [tx_id(t), None] for t in txs]
            else:
                result = {"status": "pending"}
            await send_frame(stream, pack({"id": request["id"], "result": result}))
    except (NetError, trio.BrokenResourceError, trio.ClosedResourceError):
        pass


async def silent_node(stream: trio.SocketStream) -> None:
    """Accepts the connection and never answers (a paused node)."""
    await trio.sleep_forever()


@contextmanager
def fake_nodes(refusals: Mapping[int, str | None]) -> Iterator[None]:
    """Stand-in nodes on the given ports, in a thread with its own trio loop (the CLI under test
    runs its own); ``None`` accepts every submission, a string refuses with it. Stopped on exit."""
    ready: queue.Queue[tuple[trio.lowlevel.TrioToken, trio.Event] | BaseException] = queue.Queue()

    async def serve() -> None:
        stop = trio.Event()
        async with trio.open_nursery() as nursery:
            for port, refusal in refusals.items():
                listeners = await trio.open_tcp_listeners(port, host="127.0.0.1")
                nursery.start_soon(trio.serve_listeners, partial(fake_node, refusal), listeners)
            ready.put((trio.lowlevel.current_trio_token(), stop))
            await stop.wait()
            nursery.cancel_scope.cancel()

    def thread_main() -> None:
        try:
            trio.run(serve)
        except BaseException as exc:
            ready.put(exc)

    thread = threading.Thread(target=thread_main, daemon=True)
    thread.start()
    started = ready.get(timeout=10)
    if isinstance(started, BaseException):
        raise started
    token, stop = started
    try:
        yield
    finally:
        trio.from_thread.run_sync(stop.set, trio_token=token)
        thread.join(timeout=10)
        assert not thread.is_alive(), "the stand-in nodes did not stop"


@pytest.fixture
def half_up(cluster_dir: Path) -> Iterator[Path]:
    """n2 accepts submissions, n3 refuses them (mempool full), n1 and n4 are down."""
    ports = client_ports(cluster_dir)
    with fake_nodes({ports["n2"]: None, ports["n3"]: "mempool full"}):
        yield cluster_dir


# ---- submit_fanout ---------------------------------------------------------------------------


async def test_submit_fanout_reports_every_node_in_order() -> None:
    tx = Tx("rollup-a", "alice", b"hello")
    [dead] = free_ports(1)
    async with trio.open_nursery() as nursery:
        listeners = [
            (await nursery.start(partial(trio.serve_tcp, handler, 0, host="127.0.0.1")))[0]
            for handler in (
                partial(fake_node, None),
                partial(fake_node, "mempool full"),
                silent_node,
            )
        ]
        accepting, refusing, silent = [f"127.0.0.1:{s.socket.getsockname()[1]}" for s in listeners]
        addresses = [accepting, refusing, f"127.0.0.1:{dead}"]
        results = await submit_fanout(addresses, tx.encoded)
        [hung] = await submit_fanout([silent], tx.encoded, timeout=0.2)
        nursery.cancel_scope.cancel()
    assert [r.address for r in results] == addresses
    assert [r.txid for r in results] == [tx.id, None, None]
    assert results[0].error is None
    assert results[1].error == "mempool full"
    assert results[2].error is not None and "cannot reach node" in results[2].error
    assert hung.txid is None and hung.error == "no answer within 0.2 s"


# ---- tx send --fanout ------------------------------------------------------------------------


def test_fanout_picks_k_nodes_in_order_and_succeeds_if_one_accepts(
    half_up: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(capsys, "tx", "send", "hi", "--dir", half_up, "--fanout", "3", "--json")
    assert code == 0
    result = json.loads(out)
    assert result["node"] == "n2" and result["status"] == "pending"
    assert result["txid"] == Tx("rollup-a", "cli", b"hi").id.hex()
    assert list(result["fanout"]) == ["n1", "n2", "n3"]
    assert [f["accepted"] for f in result["fanout"].values()] == [False, True, False]
    assert "cannot reach node" in result["fanout"]["n1"]["error"]
    assert result["fanout"]["n3"]["error"] == "mempool full"


def test_fanout_starts_with_the_given_node_and_says_who_accepted(
    half_up: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(
        capsys, "tx", "send", "hi", "--dir", half_up, "--node", "n2", "--fanout", "2"
    )
    assert code == 0
    lines = out.splitlines()
    assert lines[0] == "n2: accepted"
    assert lines[1].startswith("n1: refused: cannot reach node")
    assert lines[2].endswith("pending (via n2), accepted by 1 of 2")


def test_fanout_fails_when_no_node_accepts(
    half_up: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run(
        capsys, "tx", "send", "hi", "--dir", half_up, "--node", "n3", "--fanout", "2"
    )
    assert code == 1
    assert "no node accepted the transaction (n3: mempool full; n1: cannot reach node" in err
    assert len(err.splitlines()) == 1 and "Traceback" not in err


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--fanout", "5"], "--fanout 5, but the cluster has 4 nodes"),
        (["--fanout", "0"], "--fanout must be at least 1"),
        (["--fanout", "2", "--node", "127.0.0.1:1"], "127.0.0.1:1 is not one of them"),
        (["--fanout", "2", "--node", "n9"], "no node 'n9' in the cluster"),
        (["--node", "n4"], "cannot reach node at"),  # K = 1 keeps plain send's error
    ],
)
def test_fanout_bad_input_is_one_line(
    cluster_dir: Path, extra: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run(capsys, "tx", "send", "hi", "--dir", cluster_dir, *extra)
    assert code == (1 if message == "cannot reach node at" else 2)  # not done vs usage
    assert message in err and len(err.splitlines()) == 1


def test_fanout_without_a_cluster(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    code, _, err = run(capsys, "tx", "send", "hi", "--fanout", "2")
    assert code == 2 and "no cluster given" in err


@pytest.fixture
def censor_cluster(start: Callable[[ClusterSpec], Cluster]) -> Cluster:
    """configs/censor-4.toml for real: n1 omits and does not relay alice's transactions."""
    return start(load_cluster_spec(CENSOR_SPEC))


def test_fanout_through_the_censor_and_an_honest_node_commits(
    censor_cluster: Cluster, capsys: pytest.CaptureFixture[str]
) -> None:
    addresses = {n: a.client for n, a in censor_cluster.genesis.addresses.items()}

    async def wait_for_nodes() -> None:
        with trio.fail_after(30):
            for address in (addresses["n1"], addresses["n2"]):
                while await probe(address) is None:
                    await trio.sleep(0.1)

    trio.run(wait_for_nodes)
    argv = ["tx", "send", "hi", "--sender", "alice", "--node", "n1", "--fanout", "2"]
    code, out, _ = run(capsys, *argv, "--wait", "--dir", censor_cluster.root, "--json")
    assert code == 0
    result = json.loads(out)
    assert [f["accepted"] for f in result["fanout"].values()] == [True, True]
    assert result["status"] == "committed", result


# ---- censorship report: canned metrics --------------------------------------------------------


def metrics(
    omitted: Mapping[str, int] | None = None, excluded: tuple[str, ...] = (), count: int = 40
) -> dict[str, Any]:
    """One node's metrics: every proposer made 10 proposals; ``omitted`` of them failed, each
    leaving out an overdue transaction."""
    omitted = omitted or {}
    return {
        "forced_inclusion": True,
        "inclusion_deadline": 3,
        "inclusion_delay": {
            "count": count,
            "heights": {"p50": 2.0, "p99": 5.0, "max": 6},
            "ms": {"p50": 120.5, "p99": 480.0, "max": 510},
        },
        "proposers": {
            name: {
                "proposals": 10,
                "failed_rounds": omitted.get(name, 0),
                "overdue_omitted": omitted.get(name, 0),
            }
            for name in NODES
        },
        "inclusion_nil_prevotes": sum(omitted.values()),
        "excluded_proposers": list(excluded),
    }


def write_metrics(root: Path, name: str, document: object) -> Path:
    path = root / name / "data" / FILENAME
    path.write_text(document if isinstance(document, str) else json.dumps(document))
    return path


@pytest.fixture
def stopped(cluster_dir: Path) -> Path:
    """A stopped cluster whose honest nodes n2..n4 each counted n1's omissions; n1 (the
    censor) counted none against itself."""
    write_metrics(cluster_dir, "n1", metrics())
    for name in ("n2", "n3", "n4"):
        write_metrics(cluster_dir, name, metrics({"n1": 3}, excluded=("n1",)))
    return cluster_dir


@pytest.mark.parametrize(
    ("seen_by", "suspect"),
    [(["n2", "n3", "n4"], True), (["n2", "n3"], True), (["n2"], False), ([], False)],
)
def test_a_suspect_needs_a_strict_majority_of_the_other_reporting_nodes(
    seen_by: list[str], suspect: bool
) -> None:
    nodes = [
        NodeMetrics(name, "live", metrics({"n1": 2} if name in seen_by else {})) for name in NODES
    ]
    report = Report(nodes)
    assert report.omitting_seen_by("n1") == seen_by
    assert report.suspects() == (["n1"] if suspect else [])


def test_the_majority_counts_only_nodes_that_reported() -> None:
    nodes = [
        NodeMetrics("n1", None, None, "not answering"),
        NodeMetrics("n2", "live", metrics({"n3": 1})),
        NodeMetrics("n3", "live", metrics()),
        NodeMetrics("n4", "live", metrics({"n3": 1})),
    ]
    assert Report(nodes).suspects() == ["n3"]  # 2 of the 2 others that reported


def test_a_proposers_own_view_neither_accuses_nor_clears_it() -> None:
    """The censor's own metrics (here: it accuses everyone else) are left out of the vote
    on each proposer; so is an accused node's silence about itself."""
    censor = {"n2": 1, "n3": 1, "n4": 1}
    nodes = [
        NodeMetrics("n1", "live", metrics(censor)),
        NodeMetrics("n2", "live", metrics({"n1": 2})),
        NodeMetrics("n3", "live", metrics({"n1": 1})),
        NodeMetrics("n4", "live", metrics()),
    ]
    report = Report(nodes)
    assert report.omitting_seen_by("n1") == ["n2", "n3"]
    assert report.omitting_seen_by("n2") == ["n1"]
    assert report.suspects() == ["n1"]  # 2 of its 3 others; the censor's word alone is 1 of 3


def test_report_from_a_stopped_cluster_names_the_censor(
    stopped: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(capsys, "censorship", "report", "--dir", stopped)
    assert code == 0, err
    rows = [" ".join(line.split()) for line in out.splitlines()]
    assert "n1 on (3) 40 2/5/6 120.5/480/510 0 - file" in rows  # the censor counts nothing
    assert "n2 on (3) 40 2/5/6 120.5/480/510 3 n1 file" in rows
    assert "n1 10/0/0 10/3/3 10/3/3 10/3/3 3 of 3 suspect" in rows
    assert "n2 10/0/0 10/0/0 10/0/0 10/0/0 0 of 3" in rows
    assert "total 40/0/0 40/3/3 40/3/3 40/3/3" in rows
    assert rows[-1] == (
        "suspected censors: n1 (3 of the 3 other reporting nodes saw it omit overdue transactions)"
    )


def test_report_json_is_one_object(stopped: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "censorship", "report", "--dir", stopped, "--json")
    assert code == 0
    report = json.loads(out)
    assert report["suspects"] == ["n1"]
    assert report["reporting"] == NODES
    assert report["proposers"]["n1"]["omitting_seen_by"] == ["n2", "n3", "n4"]
    assert report["proposers"]["n1"]["seen_by"]["n3"] == {
        "proposals": 10,
        "failed_rounds": 3,
        "overdue_omitted": 3,
    }
    assert report["proposers"]["n2"]["suspect"] is False
    assert report["totals"]["n2"] == {"proposals": 40, "failed_rounds": 3, "overdue_omitted": 3}
    assert report["nodes"]["n4"]["censorship"]["excluded_proposers"] == ["n1"]
    assert report["nodes"]["n4"]["source"] == str(stopped / "n4" / "data" / FILENAME)
    assert report["proposers"]["n1"]["observers"] == ["n2", "n3", "n4"]
    assert "more than half of the other reporting nodes" in report["rule"]


def test_one_node_of_a_cluster_and_a_node_data_dir(
    stopped: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(capsys, "censorship", "report", "--dir", stopped, "--node", "n3", "--json")
    assert code == 0
    assert json.loads(out)["reporting"] == ["n3"]
    assert json.loads(out)["suspects"] == ["n1"]  # 1 of 1 is a majority of one
    for where in (stopped / "n2" / "data", stopped / "n2"):
        code, out, _ = run(capsys, "censorship", "report", "--dir", where, "--json")
        assert code == 0
        assert json.loads(out)["reporting"] == ["n2"]


def test_a_node_without_metrics_is_shown_and_exits_1(
    stopped: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (stopped / "n4" / "data" / FILENAME).unlink()
    code, out, _ = run(capsys, "censorship", "report", "--dir", stopped)
    assert code == 1
    assert "no metrics from n4: not answering, and no censorship.json in its data dir" in out
    assert "n1 (2 of the 2 other reporting nodes" in out


def test_live_status_first_then_the_file(
    stopped: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """n1 answers with metrics; n2 answers for another chain (a stranger on an old port) and
    n4 does not answer, so their files count; n3 answers without metrics and has no file."""
    live = metrics({"n1": 7})
    statuses = {
        "n1": {"chain_id": "c", "censorship": live},
        "n2": {"chain_id": "other", "censorship": metrics()},
        "n3": {"chain_id": "c"},
        "n4": None,
    }

    async def fake_probe_all(
        addresses: Mapping[str, str], timeout: float
    ) -> dict[str, dict[str, Any] | None]:
        return {name: statuses[name] for name in addresses}

    monkeypatch.setattr(probe_module, "probe_all", fake_probe_all)
    (stopped / "n3" / "data" / FILENAME).unlink()
    code, out, _ = run(capsys, "censorship", "report", "--dir", stopped, "--json")
    assert code == 1
    nodes = json.loads(out)["nodes"]
    assert nodes["n1"] == {"source": "live", "censorship": live}
    assert nodes["n2"]["source"].endswith(f"n2/data/{FILENAME}")
    assert nodes["n4"]["source"].endswith(f"n4/data/{FILENAME}")
    assert "status has no censorship metrics" in nodes["n3"]["error"]


# ---- censorship report: errors ---------------------------------------------------------------


def test_no_cluster(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    code, _, err = run(capsys, "censorship", "report")
    assert code == 2 and "no cluster given" in err


def test_unreachable_node(capsys: pytest.CaptureFixture[str]) -> None:
    [port] = free_ports(1)
    code, _, err = run(capsys, "censorship", "report", "--node", f"127.0.0.1:{port}")
    assert code == 2
    assert f"no censorship metrics: 127.0.0.1:{port}: not answering" in err


def test_no_metrics_anywhere_is_one_line(
    cluster_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run(capsys, "censorship", "report", "--dir", cluster_dir)
    assert code == 2
    assert err.strip().endswith(
        "no censorship metrics: n1, n2, n3, n4: not answering, and no censorship.json in "
        "its data dir"
    )


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ("{not json", "not valid JSON"),
        ("[]", "malformed censorship metrics: expected an object"),
        (
            {**metrics(), "proposers": {"n1": {"proposals": 1}}},
            "proposers.n1 must hold integers proposals, failed_rounds, overdue_omitted",
        ),
        ({**metrics(), "forced_inclusion": 1}, "forced_inclusion must be true or false"),
        (
            {**metrics(), "inclusion_delay": {"count": 1, "heights": {}, "ms": {}}},
            "inclusion_delay.heights must hold p50, p99 and max (numbers, or null)",
        ),
        ({**metrics(), "excluded_proposers": "n1"}, "excluded_proposers must be a list"),
    ],
)
def test_malformed_metrics_file(
    stopped: Path, document: object, message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write_metrics(stopped, "n3", document)
    code, _, err = run(capsys, "censorship", "report", "--dir", stopped)
    assert code == 2
    assert str(path) in err and message in err and len(err.splitlines()) == 1


def test_bad_dir_and_node(stopped: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "censorship", "report", "--dir", stopped / "nope")
    assert code == 2 and "no such directory" in err
    code, _, err = run(capsys, "censorship", "report", "--dir", stopped, "--node", "n7")
    assert code == 2 and "no node 'n7'" in err
    code, _, err = run(capsys, "censorship", "report", "--dir", stopped / "n1", "--node", "n1")
    assert code == 2 and "--node needs a cluster dir" in err
