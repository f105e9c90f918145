"""A cluster run as `sequencer-net report` reads it back: each node's log, each node's chain
(read-only, so a running node is never blocked), and the submissions a script recorded.

The chain is the record that cannot be turned down to a debug level: per height its batch
timestamp, commit round, transactions (with sender and namespace) and slashings. The logs add
when each node committed, and the events to mark (faults, partitions, restarts, stalls); a
log without ``committed`` lines still gives its events, and a chain whose file cannot be read
leaves only the logs. A chain read stops at MAX_HEIGHTS of the latest heights.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass, field
from pathlib import Path

from .. import codec
from ..cluster import kills
from ..cluster.layout import Layout
from ..commands.errors import UsageError
from ..evidence import SlashRecord
from ..messages import CommittedBatch
from ..risk.runlog import NodeLog, read_run
from ..types import Tx

MAX_HEIGHTS = 100_000
MAX_SUBMISSIONS = 1_000_000
SUBMISSIONS = "submissions.jsonl"


@dataclass(frozen=True)
class Height:
    """One committed height as a chain store holds it."""

    height: int
    timestamp_ms: int  # the proposer's batch timestamp
    round: int  # the round its certificate is from
    proposer: str
    txs: tuple[tuple[str, str, str], ...]  # (txid hex, sender, namespace) in batch order


@dataclass(frozen=True)
class Slash:
    height: int  # committed at
    offender: str
    stake_before: int
    stake_after: int


@dataclass(frozen=True)
class Submission:
    """A transaction a script submitted: when (unix seconds), by whom, into which namespace."""

    txid: str
    sender: str
    namespace: str
    t: float


@dataclass
class Run:
    """Everything a report is made from."""

    directory: Path
    logs: dict[str, NodeLog]
    chain: list[Height]  # the longest readable chain of the nodes
    chain_heights: dict[str, int]  # each node's last stored height (0: unreadable)
    slashes: list[Slash]
    submissions: list[Submission]
    unreadable: list[str]  # what could not be read, said in the report
    running: frozenset[str] = frozenset()  # nodes whose process runs (or is paused) now
    kills: dict[str, list[float]] = field(default_factory=dict)  # the launcher's, per node


def read(directory: Path) -> Run:
    """Read a cluster dir (running or stopped). A UsageError when it holds no run."""
    logs = read_run(directory)
    names = _names(directory, logs)
    unreadable: list[str] = []
    heights: dict[str, int] = {}
    best: tuple[list[Height], list[Slash]] = ([], [])
    for name in sorted(logs):
        path = Layout(directory).data(name) / "chain.sqlite"
        try:
            chain, slashes = _read_chain(path, names)
        except (sqlite3.Error, codec.DecodeError, OSError) as exc:
            unreadable.append(f"{path}: {exc}")
            heights[name] = 0
            continue
        heights[name] = chain[-1].height if chain else 0
        if len(chain) > len(best[0]):
            best = (chain, slashes)
    submissions = read_submissions(directory / SUBMISSIONS, unreadable)
    return Run(
        directory,
        logs,
        best[0],
        heights,
        best[1],
        submissions,
        unreadable,
        _running(directory),
        kills.read(Layout(directory).kills),
    )


def _running(directory: Path) -> frozenset[str]:
    """The nodes running now, by the cluster's record; none for a dir that has no record."""
    from ..cluster.control import Cluster
    from ..cluster.errors import ClusterError
    from ..cluster.procs import ProcState
    from ..config import ConfigError

    try:
        processes = Cluster(directory).processes()
    except (ClusterError, ConfigError):
        return frozenset()
    return frozenset(p.name for p in processes if p.state in (ProcState.ALIVE, ProcState.PAUSED))


def _names(directory: Path, logs: dict[str, NodeLog]) -> dict[bytes, str]:
    """Validator key -> name from the genesis file; empty when there is none."""
    from ..config import ConfigError, load_genesis

    try:
        genesis = load_genesis(Layout(directory).genesis)
    except ConfigError:
        return {}
    return {v.public_key: v.name for v in genesis.genesis.validators}


def _read_chain(path: Path, names: dict[bytes, str]) -> tuple[list[Height], list[Slash]]:
    if not path.is_file():
        raise OSError("no chain store")
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        rows = conn.execute(
            "SELECT entry FROM (SELECT height, entry FROM batches ORDER BY height DESC LIMIT ?) "
            "ORDER BY height",
            (MAX_HEIGHTS,),
        ).fetchall()
        slash_rows = conn.execute(
            "SELECT record FROM slashes ORDER BY committed_height, rowid"
        ).fetchall()
    finally:
        conn.close()
    chain = [_height(codec.decode(blob, CommittedBatch), names) for (blob,) in rows]
    slashes = []
    for (blob,) in slash_rows:
        record = codec.decode(blob, SlashRecord)
        offender = names.get(record.evidence.offender, record.evidence.offender.hex()[:12])
        slashes.append(
            Slash(record.committed_height, offender, record.stake_before, record.stake_after)
        )
    return chain, slashes


def _height(entry: CommittedBatch, names: dict[bytes, str]) -> Height:
    header = entry.batch.header
    txs = []
    for txid, encoded in zip(entry.tx_ids, entry.txs, strict=True):
        try:
            tx = codec.decode(encoded, Tx)
            txs.append((txid.hex(), tx.sender, tx.namespace))
        except (ValueError, codec.DecodeError):
            txs.append((txid.hex(), "?", "?"))
    return Height(
        height=header.height,
        timestamp_ms=header.timestamp_ms,
        round=entry.certificate.round,
        proposer=names.get(header.proposer, header.proposer.hex()[:12]),
        txs=tuple(txs),
    )


def read_submissions(path: Path, unreadable: list[str]) -> list[Submission]:
    """The submissions file's records; bad lines are counted in ``unreadable``, not fatal."""
    try:
        lines = path.read_text(errors="replace").splitlines()[:MAX_SUBMISSIONS]
    except FileNotFoundError:
        return []
    except OSError as exc:
        raise UsageError(f"{path}: cannot read: {exc.strerror}") from None
    out, bad = [], 0
    for line in lines:
        try:
            r = json.loads(line)
            out.append(
                Submission(str(r["txid"]), str(r["sender"]), str(r["namespace"]), float(r["t"]))
            )
        except (ValueError, KeyError, TypeError):
            bad += 1
    if bad:
        unreadable.append(f"{path}: {bad} unreadable lines")
    return out


def write_submissions(path: Path, submissions: list[Submission]) -> None:
    """Append ``submissions`` to a submissions file (what the demo scripts record)."""
    with path.open("a") as f:
        for s in submissions:
            record = {"txid": s.txid, "sender": s.sender, "namespace": s.namespace, "t": s.t}
            f.write(json.dumps(record) + "\n")
