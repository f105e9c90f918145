"""The persistent part of the tx index: 8-byte id prefix -> height, for heights that have left
memory, written by a worker thread into its own SQLite file.

Rows are two integers (``prefix``, ``height``), so the table stays small enough for the page
cache as the chain grows; the chain store verifies each candidate height against that
height's id blob, so a prefix collision (which a client can grind for) never gives a wrong
answer. Heights arrive tens of thousands of ids at a time, sorted, and are inserted in one
transaction with the ``indexed_through`` watermark, on a worker thread with its own connection
and its own file: the chain store's per-height commits never wait for the index's lock, and
the event loop never runs the bulk insert.

Most lookups are for ids never committed (the duplicate check on admission), so a miss must
not cost a query: a fixed 16 MiB bitmap over the prefixes' top 27 bits, filled from the table
on open and as rows are written, rules out almost every absent id first (a one-hash Bloom
filter: at 3 million indexed ids about 2% of absent ids still reach SQLite; more ids only
raise that rate, never the memory).

The file holds only derived data. It may lag the chain (the chain store keeps every height
above the watermark in memory and refills it from the id blobs on open) or, after a power
loss that took the chain's last heights, run ahead of it (its extra rows name heights whose id
blobs are absent, so they match nothing, and are written again identically when catch-up
brings those heights back). Deleted, it is rebuilt from the chain on the next open.
"""

from __future__ import annotations

import sqlite3
import struct
from collections.abc import Iterable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from itertools import repeat
from pathlib import Path

ID_BYTES = 32
# The writer's page cache holds the index of a few million transactions, so bulk inserts
# rarely read a page back; lookups are rare (the bitmap answers most), so the reader's is small.
WRITER_CACHE_KIB = 32 * 1024
READER_CACHE_KIB = 4 * 1024
FILTER_BITS = 27

_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL)",
    "INSERT OR IGNORE INTO meta (key, value) VALUES ('indexed_through', 0)",
    """CREATE TABLE IF NOT EXISTS tx_prefix (
        prefix INTEGER NOT NULL,
        height INTEGER NOT NULL,
        PRIMARY KEY (prefix, height)
    ) WITHOUT ROWID""",
)


def prefix(txid: bytes) -> int:
    """The index key of a tx id: its first 8 bytes as a signed 64-bit integer."""
    return int.from_bytes(txid[:8], "big", signed=True)


def prefixes(txids: Sequence[bytes]) -> tuple[int, ...]:
    """:func:`prefix` of each id, unpacked in one call."""
    if any(len(txid) != ID_BYTES for txid in txids):
        raise ValueError(f"tx ids are {ID_BYTES} bytes")
    return struct.unpack(">" + "q24x" * len(txids), b"".join(txids))


def _bit(key: int) -> int:
    """The filter bit of a prefix: its top FILTER_BITS bits (of the unsigned 64-bit value)."""
    return (key & 0xFFFF_FFFF_FFFF_FFFF) >> (64 - FILTER_BITS)


def _connect(path: Path, cache_kib: int) -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute(f"PRAGMA cache_size=-{cache_kib}")
    return conn


class PrefixIndex:
    """Reads on the caller's thread; bulk writes on one worker thread, one at a time.

    Raises :class:`sqlite3.Error`; the chain store turns it into a ``StoreError``."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._reader = _connect(path, READER_CACHE_KIB)
        try:
            with self._reader:
                self._reader.execute("BEGIN IMMEDIATE")
                for statement in _SCHEMA:
                    self._reader.execute(statement)
            self._writer = _connect(path, WRITER_CACHE_KIB)
            self._filter = bytearray(1 << (FILTER_BITS - 3))
            self._mark(key for (key,) in self._reader.execute("SELECT prefix FROM tx_prefix"))
        except BaseException:
            self._reader.close()
            raise
        self._worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="tx-index")
        self._flush: Future[int] | None = None

    def indexed_through(self) -> int:
        (through,) = self._reader.execute(
            "SELECT value FROM meta WHERE key = 'indexed_through'"
        ).fetchone()
        return int(through)

    def heights(self, txid: bytes) -> list[int]:
        """Heights that may hold ``txid`` (same prefix), newest first."""
        if not self.may_hold_one(txid):
            return []
        rows = self._reader.execute(
            "SELECT height FROM tx_prefix WHERE prefix = ?", (prefix(txid),)
        )
        return sorted((height for (height,) in rows), reverse=True)

    def may_hold_one(self, txid: bytes) -> bool:
        """False if the filter rules ``txid`` out (then :meth:`heights` is empty)."""
        bit = _bit(prefix(txid))
        return bool(self._filter[bit >> 3] & (1 << (bit & 7)))

    def may_hold(self, txids: Sequence[bytes]) -> list[bytes]:
        """Those of ``txids`` (32 bytes each) the filter cannot rule out."""
        if not txids:
            return []
        bits = self._filter
        return [
            txid
            for txid, key in zip(txids, prefixes(txids), strict=True)
            if bits[(b := _bit(key)) >> 3] & (1 << (b & 7))
        ]

    def _mark(self, keys: Iterable[int]) -> None:
        bits = self._filter
        for key in keys:
            bit = _bit(key)
            bits[bit >> 3] |= 1 << (bit & 7)

    def submit(self, heights: Sequence[tuple[int, Sequence[bytes]]]) -> None:
        """Start indexing ``heights`` (consecutive, oldest first) in the background; waits for
        the flush before it first, so at most one is in flight."""
        self.wait()
        self._flush = self._worker.submit(self._write, list(heights))

    def idle(self) -> bool:
        return self._flush is None

    def done_through(self) -> int | None:
        """The watermark of a flush that has finished since the last call, if any."""
        if self._flush is None or not self._flush.done():
            return None
        return self.wait()

    def wait(self) -> int | None:
        """Wait for the flush in flight; its watermark (or None if there was none). Re-raises
        the error that stopped it."""
        flush, self._flush = self._flush, None
        return None if flush is None else flush.result()

    def _write(self, heights: list[tuple[int, Sequence[bytes]]]) -> int:
        # Sorted per height, each height's keys unpacked in one call: one sort of every row
        # would hold the GIL (and stall the event loop) for its whole duration.
        runs = [(height, sorted(set(prefixes(ids)))) for height, ids in heights]
        through = heights[-1][0]
        with self._writer:
            self._writer.execute("BEGIN IMMEDIATE")
            for height, keys in runs:
                self._writer.executemany(
                    "INSERT OR IGNORE INTO tx_prefix (prefix, height) VALUES (?, ?)",
                    zip(keys, repeat(height)),
                )
            self._writer.execute(
                "UPDATE meta SET value = MAX(value, ?) WHERE key = 'indexed_through'", (through,)
            )
        # Before the caller forgets these ids from memory (it does once this returns).
        self._mark(key for _, keys in runs for key in keys)
        return through

    def close(self) -> None:
        try:
            self.wait()
        finally:
            self._worker.shutdown()
            self._writer.close()
            self._reader.close()
