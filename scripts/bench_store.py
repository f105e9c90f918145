"""Store micro-benchmark: what one height's append costs as the chain grows, and a sign-state
save with a locked batch.

Appends heights of ``--txs`` 100-byte transactions to a fresh SQLite chain store in a temp
dir and prints one JSON object: append CPU and wall ms per height (per 1,000 txs) measured
around 0, 100k and 400k stored transactions, the cost of a ``tx_location`` hit and miss, and
the bytes on disk (and written, WAL churn included) per stored transaction; then the wall time
and bytes written per sign-state save while locked on a 1,000-tx batch. A script, never a
timed test.

    python scripts/bench_store.py            # the current tree
    PYTHONPATH=/path/to/other/checkout python scripts/bench_store.py   # another tree
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

from sequencer_net.consensus.machine import LockState
from sequencer_net.messages import CommittedBatch
from sequencer_net.namespaces import batch_root, table_of
from sequencer_net.signstate import SignRecord
from sequencer_net.store.signfile import FileSignStateStore
from sequencer_net.store.sqlite import SqliteChainStore
from sequencer_net.types import (
    Batch,
    BatchHeader,
    Certificate,
    Chunk,
    ChunkCertificate,
    CommitSig,
    Step,
    Tx,
    chunks_digest,
    evidence_digest,
    tx_id,
)

CHAIN = "bench-chain"


def entry(height: int, count: int) -> CommittedBatch:
    txs = tuple(
        Tx("rollup-1", "alice", (b"%d/%d/" % (height, i)).ljust(80, b"x")).encoded
        for i in range(count)
    )
    sigs = tuple(CommitSig(bytes([i]) * 32, b"\x04" * 64) for i in range(3))
    # Chunks of at most 1,024 transactions; their certificates' acks are not checked here.
    chunks = tuple(Chunk(b"\x01" * 32, i, txs[i : i + 1024]) for i in range(0, len(txs), 1024))
    certs = tuple(
        ChunkCertificate(c.digest, c.author, len(c.txs), c.size_bytes, sigs, table_of(c))
        for c in chunks
    )
    header = BatchHeader(
        CHAIN, height, 0, bytes(32), b"\x01" * 32, height, chunks_digest(certs),
        evidence_digest(()), b"\x02" * 32, None, batch_root(certs),
    )  # fmt: skip
    batch = Batch(header, certs, ())
    return CommittedBatch(batch, Certificate(height, 0, batch.id, sigs), chunks)


def written_bytes() -> int:
    """Bytes this process has caused to be written to storage (Linux), WAL churn included."""
    try:
        for line in Path("/proc/self/io").read_text().splitlines():
            if line.startswith("write_bytes:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def disk_bytes(directory: Path) -> int:
    return sum(p.stat().st_size for p in directory.iterdir())


def sign_state(directory: Path, count: int, saves: int = 50) -> dict[str, float]:
    """Saves as a validator makes them within one height: prevote, then precommit with the
    lock on a batch of ``count`` transactions, repeated."""
    store = FileSignStateStore(directory / "sign_state.bin")
    value = entry(1, count).batch
    lock = LockState(0, 0, value, 0, value)
    written, t0 = written_bytes(), time.perf_counter()
    for i in range(saves):
        store.save(SignRecord(1 + i // 2, 0, Step.PREVOTE + i % 2, b"p" * 60, bytes(64), lock))
    return {
        "save_wall_ms": round((time.perf_counter() - t0) / saves * 1000, 2),
        "bytes_written_per_save": round((written_bytes() - written) / saves),
        "record_file_bytes": (directory / "sign_state.bin").stat().st_size,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--txs", type=int, default=1000, help="transactions per height")
    parser.add_argument(
        "--marks", default="0,100000,400000", help="stored-tx counts to measure at (ascending)"
    )
    parser.add_argument(
        "--samples", type=int, default=100, help="heights measured per mark (averaged)"
    )
    parser.add_argument(
        "--synchronous",
        choices=["normal", "full"],
        help="override the store's per-height commit mode (to measure what NORMAL saves)",
    )
    args = parser.parse_args()
    marks = [int(m) for m in args.marks.split(",")]
    result: dict[str, object] = {"txs_per_height": args.txs}
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        store = SqliteChainStore(directory / "chain.sqlite", CHAIN)
        if args.synchronous:
            store._conn.execute(f"PRAGMA synchronous={args.synchronous.upper()}")
            result["synchronous"] = args.synchronous
        height = stored = 0
        written = written_bytes()
        marks_out = {}
        for mark in marks:
            while stored < mark:  # fill, unmeasured
                height += 1
                store.append(entry(height, args.txs))
                stored += args.txs
            cpu = wall = worst = 0.0
            for _ in range(args.samples):
                height += 1
                e = entry(height, args.txs)
                c0, w0 = time.process_time(), time.perf_counter()
                store.append(e)
                cpu += time.process_time() - c0
                wall += time.perf_counter() - w0
                worst = max(worst, time.perf_counter() - w0)
                stored += args.txs
            scale = 1000 / args.txs / args.samples * 1000
            marks_out[str(mark)] = {
                "append_cpu_ms_per_1000_txs": round(cpu * scale, 2),
                "append_wall_ms_per_1000_txs": round(wall * scale, 2),
                "slowest_append_wall_ms": round(worst * 1000, 1),
            }
        result["append"] = marks_out
        hits = [tx_id(tx) for h in (1, height // 2, height) for tx in entry(h, args.txs).batch.txs]
        misses = [tx_id(b"absent %d" % i) for i in range(len(hits))]
        for name, ids in (("hit", hits), ("miss", misses)):
            t0 = time.perf_counter()
            for txid in ids:
                store.tx_location(txid)
            result[f"tx_location_{name}_us"] = round((time.perf_counter() - t0) / len(ids) * 1e6, 2)
        store.close()
        result["stored_txs"] = stored
        result["bytes_written_per_tx"] = round((written_bytes() - written) / stored, 1)
        result["bytes_on_disk_per_tx"] = round(disk_bytes(directory) / stored, 1)
    with tempfile.TemporaryDirectory() as tmp:
        result["sign_state_1000_tx_lock"] = sign_state(Path(tmp), 1000)
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
