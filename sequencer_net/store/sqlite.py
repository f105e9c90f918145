"""The durable chain store: committed batches and the transaction index in one SQLite file.

Each height is one row holding the codec-encoded :class:`CommittedBatch` (plus its id and
timestamp, so an operator can inspect the chain with the ``sqlite3`` shell); the tx index maps a
tx id to (height, position) so "already committed?" is one lookup, not a scan. A batch and its
index rows are written in one transaction, in WAL mode with ``synchronous=FULL``: after a
``kill -9`` or power loss a height is either entirely there or entirely absent.

The store assumes it is the only writer of its file (one node per data dir): the last height is
cached in memory so :meth:`SqliteChainStore.last_height` costs nothing.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import TracebackType

from .. import codec
from ..messages import CommittedBatch
from ..types import tx_id
from .errors import StoreError

SCHEMA_VERSION = 1

_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
    """CREATE TABLE IF NOT EXISTS batches (
        height INTEGER PRIMARY KEY,
        batch_id BLOB NOT NULL,
        timestamp_ms INTEGER NOT NULL,
        entry BLOB NOT NULL
    )""",
    """CREATE TABLE IF NOT EXISTS txs (
        tx_id BLOB PRIMARY KEY,
        height INTEGER NOT NULL,
        position INTEGER NOT NULL
    ) WITHOUT ROWID""",
)


class SqliteChainStore:
    """A :class:`~sequencer_net.store.ChainStore` backed by SQLite, bound to one chain id."""

    def __init__(self, path: Path, chain_id: str) -> None:
        self.path = path
        self.chain_id = chain_id
        with self._errors("cannot open chain store"):
            self._conn = sqlite3.connect(path, isolation_level=None)
        try:
            with self._errors("cannot open chain store"):
                self._conn.execute("PRAGMA journal_mode=WAL")
                self._conn.execute("PRAGMA synchronous=FULL")
                self._init_schema()
                row = self._conn.execute("SELECT COALESCE(MAX(height), 0) FROM batches").fetchone()
                self._last: int = row[0]
        except BaseException:
            self._conn.close()
            raise

    def _init_schema(self) -> None:
        """Create the tables on first open; afterwards check the file is ours to use."""
        with self._conn:
            self._conn.execute("BEGIN IMMEDIATE")
            for statement in _SCHEMA:
                self._conn.execute(statement)
            meta = dict(self._conn.execute("SELECT key, value FROM meta"))
            if not meta:
                self._conn.executemany(
                    "INSERT INTO meta (key, value) VALUES (?, ?)",
                    [("schema_version", str(SCHEMA_VERSION)), ("chain_id", self.chain_id)],
                )
                return
        if meta.get("schema_version") != str(SCHEMA_VERSION):
            raise StoreError(
                f"{self.path}: schema version {meta.get('schema_version')!r}, "
                f"this build reads {SCHEMA_VERSION}"
            )
        if meta.get("chain_id") != self.chain_id:
            raise StoreError(
                f"{self.path}: belongs to chain {meta.get('chain_id')!r}, not {self.chain_id!r}"
            )

    @contextmanager
    def _errors(self, doing: str) -> Iterator[None]:
        """Turn sqlite3's errors into a StoreError that names the file."""
        try:
            yield
        except sqlite3.Error as exc:
            raise StoreError(f"{self.path}: {doing}: {exc}") from None

    def _decode(self, height: int, blob: bytes) -> CommittedBatch:
        try:
            return codec.decode(blob, CommittedBatch)
        except codec.DecodeError as exc:
            raise StoreError(f"{self.path}: batch at height {height} is corrupt: {exc}") from None

    def last_height(self) -> int:
        return self._last

    def get(self, height: int) -> CommittedBatch | None:
        if not 1 <= height <= self._last:
            return None
        with self._errors(f"cannot read height {height}"):
            row = self._conn.execute(
                "SELECT entry FROM batches WHERE height = ?", (height,)
            ).fetchone()
        return None if row is None else self._decode(height, row[0])

    def get_many(self, from_height: int, limit: int) -> list[CommittedBatch]:
        """The stored batches among heights ``from_height .. from_height + limit - 1``, in
        order, read with one query (a catch-up answer)."""
        low, high = max(from_height, 1), min(from_height + limit - 1, self._last)
        if low > high:
            return []
        with self._errors(f"cannot read heights {low}..{high}"):
            rows = self._conn.execute(
                "SELECT height, entry FROM batches WHERE height BETWEEN ? AND ? ORDER BY height",
                (low, high),
            ).fetchall()
        return [self._decode(height, blob) for height, blob in rows]

    def append(self, entry: CommittedBatch) -> None:
        """Store the next committed batch and index its transactions, durably, atomically."""
        height = entry.height
        if height != self._last + 1:
            raise ValueError(f"expected height {self._last + 1}, got {height}")
        header = entry.batch.header
        if header.chain_id != self.chain_id:
            raise ValueError(f"batch of chain {header.chain_id!r} in a {self.chain_id!r} store")
        # A repeated tx id keeps its latest location, as in the in-memory store.
        index = [(tx_id(tx), height, position) for position, tx in enumerate(entry.batch.txs)]
        with self._errors(f"cannot append height {height}"), self._conn:
            self._conn.execute("BEGIN IMMEDIATE")
            self._conn.execute(
                "INSERT INTO batches (height, batch_id, timestamp_ms, entry) VALUES (?, ?, ?, ?)",
                (height, entry.batch.id, header.timestamp_ms, codec.encode(entry)),
            )
            self._conn.executemany(
                "INSERT OR REPLACE INTO txs (tx_id, height, position) VALUES (?, ?, ?)", index
            )
        self._last = height

    def tx_location(self, txid: bytes) -> tuple[int, int] | None:
        with self._errors("cannot read the tx index"):
            row = self._conn.execute(
                "SELECT height, position FROM txs WHERE tx_id = ?", (txid,)
            ).fetchone()
        return None if row is None else (row[0], row[1])

    def close(self) -> None:
        self._conn.close()

    def __enter__(self) -> SqliteChainStore:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
