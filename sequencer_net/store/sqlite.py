"""The durable chain store: batches, tx index, slashings and validator-set history in SQLite.

Each height is one row holding the codec-encoded :class:`CommittedBatch` (plus its id and
timestamp, so an operator can inspect the chain with the ``sqlite3`` shell); the tx index maps a
tx id to (height, position) so "already committed?" is one lookup, not a scan. What a batch's
evidence did (its :class:`SlashRecord` rows) and the validator set it led to are stored with it.
A batch and everything derived from it are written in one transaction, in WAL mode with
``synchronous=FULL``: after a ``kill -9`` or power loss a height is either entirely there or
entirely absent.

Transactions a node acknowledged to a client but has not seen committed wait in
``pending_txs``: written (many per transaction, one fsync) before the acknowledgement, deleted in
the same transaction as the batch that commits them, and read back into the mempool on restart.

The store assumes it is the only writer of its file (one node per data dir): the last height is
cached in memory so :meth:`SqliteChainStore.last_height` costs nothing.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from types import TracebackType
from typing import TypeVar

from .. import codec
from ..evidence import SlashRecord
from ..messages import CommittedBatch
from ..types import tx_id
from ..validators import ValidatorSetSnapshot
from .errors import StoreError

SCHEMA_VERSION = 3  # 3: batches carry last_commit; failed_rounds come from it
T = TypeVar("T")

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
    """CREATE TABLE IF NOT EXISTS slashes (
        evidence_id BLOB PRIMARY KEY,
        committed_height INTEGER NOT NULL,
        offender BLOB NOT NULL,
        record BLOB NOT NULL
    )""",
    """CREATE TABLE IF NOT EXISTS failed_rounds (
        height INTEGER NOT NULL,
        round INTEGER NOT NULL,
        proposer BLOB NOT NULL,
        PRIMARY KEY (height, round)
    ) WITHOUT ROWID""",
    """CREATE TABLE IF NOT EXISTS validator_sets (
        height INTEGER PRIMARY KEY,
        snapshot BLOB NOT NULL
    )""",
    """CREATE TABLE IF NOT EXISTS pending_txs (
        tx_id BLOB PRIMARY KEY,
        encoded BLOB NOT NULL
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

    def _decode(self, height: int, blob: bytes, kind: type[T], what: str) -> T:
        try:
            return codec.decode(blob, kind)
        except codec.DecodeError as exc:
            raise StoreError(f"{self.path}: {what} at height {height} is corrupt: {exc}") from None

    def last_height(self) -> int:
        return self._last

    def get(self, height: int) -> CommittedBatch | None:
        if not 1 <= height <= self._last:
            return None
        with self._errors(f"cannot read height {height}"):
            row = self._conn.execute(
                "SELECT entry FROM batches WHERE height = ?", (height,)
            ).fetchone()
        return None if row is None else self._decode(height, row[0], CommittedBatch, "batch")

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
        return [self._decode(height, blob, CommittedBatch, "batch") for height, blob in rows]

    def append(
        self,
        entry: CommittedBatch,
        slashes: Sequence[SlashRecord] = (),
        validators: ValidatorSetSnapshot | None = None,
        failed_proposers: Sequence[bytes] = (),
    ) -> None:
        """Store the next committed batch, index its transactions and record what its evidence
        did, the set it leads to (``validators``, for the next height) and the proposers of the
        rounds that failed at the previous height (by round, from the batch's ``last_commit``),
        durably, atomically."""
        height = entry.height
        if height != self._last + 1:
            raise ValueError(f"expected height {self._last + 1}, got {height}")
        header = entry.batch.header
        if header.chain_id != self.chain_id:
            raise ValueError(f"batch of chain {header.chain_id!r} in a {self.chain_id!r} store")
        # A repeated tx id keeps its first location (where it first committed), as in the
        # in-memory store.
        index = [(tx_id(tx), height, position) for position, tx in enumerate(entry.txs)]
        with self._errors(f"cannot append height {height}"), self._conn:
            self._conn.execute("BEGIN IMMEDIATE")
            self._conn.execute(
                "INSERT INTO batches (height, batch_id, timestamp_ms, entry) VALUES (?, ?, ?, ?)",
                (height, entry.batch.id, header.timestamp_ms, codec.encode(entry)),
            )
            self._conn.executemany(
                "INSERT OR IGNORE INTO txs (tx_id, height, position) VALUES (?, ?, ?)", index
            )
            self._conn.executemany(
                "INSERT INTO slashes (evidence_id, committed_height, offender, record) "
                "VALUES (?, ?, ?, ?)",
                [(r.id, height, r.evidence.offender, codec.encode(r)) for r in slashes],
            )
            self._conn.executemany(
                "INSERT INTO failed_rounds (height, round, proposer) VALUES (?, ?, ?)",
                [(height - 1, r, key) for r, key in enumerate(failed_proposers)],
            )
            if validators is not None:
                self._conn.execute(
                    "INSERT INTO validator_sets (height, snapshot) VALUES (?, ?)",
                    (height + 1, codec.encode(validators)),
                )
            self._conn.executemany(
                "DELETE FROM pending_txs WHERE tx_id = ?", [(txid,) for txid, _, _ in index]
            )
        self._last = height

    def add_pending(self, txs: Sequence[bytes]) -> None:
        """Durably remember acknowledged transactions (encoded), all in one transaction."""
        rows = [(tx_id(tx), tx) for tx in txs]
        with self._errors("cannot store pending transactions"), self._conn:
            self._conn.execute("BEGIN IMMEDIATE")
            self._conn.executemany(
                "INSERT OR IGNORE INTO pending_txs (tx_id, encoded) VALUES (?, ?)", rows
            )

    def pending(self) -> list[bytes]:
        """The acknowledged transactions not committed yet, after dropping those that were
        (a transaction persisted after its batch had already been stored)."""
        with self._errors("cannot read pending transactions"), self._conn:
            self._conn.execute("BEGIN IMMEDIATE")
            self._conn.execute("DELETE FROM pending_txs WHERE tx_id IN (SELECT tx_id FROM txs)")
            rows = self._conn.execute("SELECT encoded FROM pending_txs").fetchall()
        return [row[0] for row in rows]

    def tx_location(self, txid: bytes) -> tuple[int, int] | None:
        with self._errors("cannot read the tx index"):
            row = self._conn.execute(
                "SELECT height, position FROM txs WHERE tx_id = ?", (txid,)
            ).fetchone()
        return None if row is None else (row[0], row[1])

    def slash_records(self) -> list[SlashRecord]:
        """Every slashing so far, in commit order."""
        with self._errors("cannot read slashings"):
            rows = self._conn.execute(
                "SELECT committed_height, record FROM slashes ORDER BY committed_height, rowid"
            ).fetchall()
        return [self._decode(h, blob, SlashRecord, "slashing record") for h, blob in rows]

    def proposer_failures(self, since_height: int) -> list[tuple[int, bytes]]:
        """(height, proposer) of every failed round from ``since_height`` on."""
        with self._errors("cannot read failed rounds"):
            rows = self._conn.execute(
                "SELECT height, proposer FROM failed_rounds WHERE height >= ? "
                "ORDER BY height, round",
                (since_height,),
            ).fetchall()
        return [(height, key) for height, key in rows]

    def validator_set_change(self, height: int) -> tuple[int, ValidatorSetSnapshot] | None:
        """The latest stored set taking effect at or before ``height``, with its height."""
        with self._errors("cannot read validator-set history"):
            row = self._conn.execute(
                "SELECT height, snapshot FROM validator_sets WHERE height <= ? "
                "ORDER BY height DESC LIMIT 1",
                (height,),
            ).fetchone()
        if row is None:
            return None
        return row[0], self._decode(row[0], row[1], ValidatorSetSnapshot, "validator set")

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
