"""The durable chain store: batches, tx index, slashings and validator-set history in SQLite.

Each height is one row holding the codec-encoded :class:`CommittedBatch` (plus its id and
timestamp, so an operator can inspect the chain with the ``sqlite3`` shell) and its tx ids as
one blob (32 bytes each, in position order); appending a height writes no per-transaction
row (random-key B-tree inserts per height were what made appends slow down as the chain
grew). "Already committed?" is answered from memory for the ids of every height the
persistent index does not hold yet (:class:`RecentTxIds`, refilled from the id blobs on open),
and for older heights by :class:`PrefixIndex` (a prefix -> height table in its own file,
written in bulk by a worker thread), whose candidate heights are verified against their id
blobs.

What a batch's evidence did (its :class:`SlashRecord` rows) and the validator set it led to
are stored with it. A batch and everything derived from it are written in one transaction (one
group commit per height), in WAL mode: after a ``kill -9`` a height is either entirely there or
entirely absent. Heights commit with ``synchronous=NORMAL``: the WAL is not fsync'd per height,
so a power loss (not a process crash) may lose the last committed heights, whole. That is safe:
the sign state (fsync'd before every signature) alone guards against double-signing, and a node
missing the tail of its chain fetches it from its peers by catch-up, as any node behind does.

Transactions a node acknowledged to a client but has not seen committed wait in
``acked_txs``: one row per group commit, its transactions in one blob (written on a connection
of its own with ``synchronous=FULL``: one fsync, on a worker thread) before the
acknowledgement, since no peer may hold them yet; read back into the mempool on restart. A row
goes once every transaction in it has committed, checked every few heights in memory and
deleted inside a height's own transaction, so neither side writes a row per transaction.

The store assumes it is the only writer of its file (one node per data dir): the last height is
cached in memory so :meth:`SqliteChainStore.last_height` costs nothing.
"""

from __future__ import annotations

import sqlite3
from collections import deque
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from types import TracebackType
from typing import TypeVar

from .. import codec
from ..evidence import SlashRecord
from ..messages import CommittedBatch
from ..types import Bundle, tx_id
from ..validators import ValidatorSetSnapshot
from .acked import OpenAcks
from .errors import StoreError
from .recent import RecentTxIds
from .txindex import ID_BYTES, PrefixIndex

# 4: tx ids per height and an 8-byte-prefix index replace the txs table (3 migrates on open)
# 5: batches order chunk certificates and carry their chunks
SCHEMA_VERSION = 7  # 7: chunks say whether they are a bundle; 6: namespace tables
DEFAULT_RECENT_IDS = 100_000  # ~25 MB of dict; moved to the persistent index by halves
T = TypeVar("T")

_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
    """CREATE TABLE IF NOT EXISTS batches (
        height INTEGER PRIMARY KEY,
        batch_id BLOB NOT NULL,
        timestamp_ms INTEGER NOT NULL,
        entry BLOB NOT NULL,
        tx_ids BLOB NOT NULL
    )""",
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
    """CREATE TABLE IF NOT EXISTS acked_txs (
        flush INTEGER PRIMARY KEY,
        txs BLOB NOT NULL
    )""",
)
# How often acked rows whose transactions all committed are looked for and deleted.
SETTLE_EVERY_HEIGHTS = 8
AckedRow = tuple[int, tuple[tuple[bytes, ...], ...]]  # flush row id, ids of each entry


def _last_position(blob: bytes, txid: bytes) -> int | None:
    """The last position of ``txid`` in a height's id blob (a match must be id-aligned)."""
    end = len(blob)
    while (at := blob.rfind(txid, 0, end)) != -1:
        if at % ID_BYTES == 0:
            return at // ID_BYTES
        end = at + ID_BYTES - 1
    return None


class SqliteChainStore:
    """A :class:`~sequencer_net.store.ChainStore` backed by SQLite, bound to one chain id."""

    def __init__(self, path: Path, chain_id: str, recent_ids: int = DEFAULT_RECENT_IDS) -> None:
        self.path = path
        self.chain_id = chain_id
        self._recent = RecentTxIds(recent_ids)
        self._due: list[tuple[int, Sequence[bytes]]] = []  # handed out, not submitted yet
        with self._errors("cannot open chain store"):
            self._conn = sqlite3.connect(path, isolation_level=None)
        try:
            with self._errors("cannot open chain store"):
                self._conn.execute("PRAGMA journal_mode=WAL")
                self._conn.execute("PRAGMA synchronous=NORMAL")
                self._init_schema()
                row = self._conn.execute("SELECT COALESCE(MAX(height), 0) FROM batches").fetchone()
                self._last: int = row[0]
                # The newest batch as appended: every proposal check reads it (the parent).
                self._tip: CommittedBatch | None = None
                # Acked rows: appended by the writer thread, then watched here until settled.
                self._written: deque[AckedRow] = deque()
                self._open = OpenAcks()
                self._acks = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
                self._acks.execute("PRAGMA synchronous=FULL")
                index_path = path.with_name(path.stem + "-txindex.sqlite")
            rebuild = f"cannot open {index_path.name} (derived data: delete it to rebuild)"
            with self._errors(rebuild):
                self._index = PrefixIndex(index_path)
        except BaseException:
            if hasattr(self, "_acks"):
                self._acks.close()
            self._conn.close()
            raise
        try:
            with self._errors("cannot open the tx index"):
                self._load_recent()
        except BaseException:
            self.close()
            raise

    def _init_schema(self) -> None:
        """Create the tables on first open; afterwards check the file is ours to use."""
        with self._conn:
            self._conn.execute("BEGIN IMMEDIATE")
            for statement in _SCHEMA:
                self._conn.execute(statement)
            self._migrate_pending_rows()
            meta = dict(self._conn.execute("SELECT key, value FROM meta"))
            if not meta:
                self._conn.executemany(
                    "INSERT INTO meta (key, value) VALUES (?, ?)",
                    [("schema_version", str(SCHEMA_VERSION)), ("chain_id", self.chain_id)],
                )
                return
        version = meta.get("schema_version")
        if version in ("3", "4"):
            raise StoreError(
                f"{self.path}: written before batches ordered chunks (schema {version}); "
                "this build cannot read its batches: start the cluster afresh (cluster init)"
            )
        if version == "5":
            raise StoreError(
                f"{self.path}: written before batches committed to namespace tables (schema 5); "
                "this build cannot read its batches: start the cluster afresh (cluster init)"
            )
        if version != str(SCHEMA_VERSION):
            raise StoreError(
                f"{self.path}: schema version {version!r}, this build reads {SCHEMA_VERSION}"
            )
        if meta.get("chain_id") != self.chain_id:
            raise StoreError(
                f"{self.path}: belongs to chain {meta.get('chain_id')!r}, not {self.chain_id!r}"
            )

    def _migrate_pending_rows(self) -> None:
        """Stores written before acked rows were grouped kept one ``pending_txs`` row per
        transaction: carry them over as one group."""
        found = self._conn.execute(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'pending_txs'"
        ).fetchone()
        if found is None:
            return
        txs = [tx for (tx,) in self._conn.execute("SELECT encoded FROM pending_txs")]
        if txs:
            self._conn.execute(
                "INSERT INTO acked_txs (txs) VALUES (?)", (codec.encode(tuple(txs)),)
            )
        self._conn.execute("DROP TABLE pending_txs")

    def _load_recent(self) -> None:
        """Refill memory with the ids of every height the persistent index does not hold
        (indexing at once, in bulk, whatever overflows the bound: a rebuilt index)."""
        rows = self._conn.execute(
            "SELECT height, tx_ids FROM batches WHERE height > ? ORDER BY height",
            (self._index.indexed_through(),),
        )
        for height, blob in rows:
            due = self._recent.add(height, self._split(height, blob))
            if due:
                self._index.submit(due)
                self._recent.forget_through(self._index.wait() or 0)

    def _split(self, height: int, blob: bytes) -> list[bytes]:
        if len(blob) % ID_BYTES:
            raise StoreError(f"{self.path}: tx ids at height {height} are corrupt")
        return [blob[i : i + ID_BYTES] for i in range(0, len(blob), ID_BYTES)]

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
        if height == self._last and self._tip is not None:
            return self._tip
        with self._errors(f"cannot read height {height}"):
            row = self._conn.execute(
                "SELECT entry, tx_ids FROM batches WHERE height = ?", (height,)
            ).fetchone()
        return None if row is None else self._entry(height, *row)

    def get_many(self, from_height: int, limit: int) -> list[CommittedBatch]:
        """The stored batches among heights ``from_height .. from_height + limit - 1``, in
        order, read with one query (a catch-up answer)."""
        low, high = max(from_height, 1), min(from_height + limit - 1, self._last)
        if low > high:
            return []
        with self._errors(f"cannot read heights {low}..{high}"):
            rows = self._conn.execute(
                "SELECT height, entry, tx_ids FROM batches WHERE height BETWEEN ? AND ? "
                "ORDER BY height",
                (low, high),
            ).fetchall()
        return [self._entry(*row) for row in rows]

    def _entry(self, height: int, blob: bytes, ids: bytes) -> CommittedBatch:
        """A stored batch committing the ids stored with it (repeats left out at commit)."""
        entry = self._decode(height, blob, CommittedBatch, "batch")
        try:
            return entry.restricted_to(self._split(height, ids))
        except ValueError as exc:
            raise StoreError(f"{self.path}: tx ids at height {height} are corrupt: {exc}") from None

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
        ids = entry.tx_ids
        self._watch_written()  # before this height's ids count, as the rows predate them
        self._open.committed(ids)
        settled = (
            [(row,) for row in self._open.settled()] if height % SETTLE_EVERY_HEIGHTS == 0 else []
        )
        with self._errors(f"cannot append height {height}"), self._conn:
            self._conn.execute("BEGIN IMMEDIATE")
            self._conn.execute(
                "INSERT INTO batches (height, batch_id, timestamp_ms, entry, tx_ids) "
                "VALUES (?, ?, ?, ?, ?)",
                (height, entry.batch.id, header.timestamp_ms, codec.encode(entry), b"".join(ids)),
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
            self._conn.executemany("DELETE FROM acked_txs WHERE flush = ?", settled)
        self._last, self._tip = height, entry
        # A repeated tx id keeps its latest location, as in the in-memory store.
        self._due.extend(self._recent.add(height, ids))
        with self._errors("cannot write the tx index"):
            through = self._index.done_through()
            if through is not None:
                self._recent.forget_through(through)
            # Heights queue while a write is in flight; only a backlog of a whole bound's worth
            # makes this call wait for it.
            backlog = sum(len(ids) for _, ids in self._due)
            if self._due and (self._index.idle() or backlog > self._recent.max_ids):
                self._index.submit(self._due)
                self._due = []

    def add_pending(self, txs: Sequence[tuple[tuple[bytes, ...], bytes]]) -> None:
        """Durably remember acknowledged transactions ((id,), encoded) and bundles (ids,
        encoded :class:`~sequencer_net.types.Bundle`), as one row, with an fsync: an
        acknowledgement promises survival of a power loss too. It has its own connection,
        so one worker thread may call it while the event loop uses the store."""
        blob = codec.encode(tuple(encoded for _, encoded in txs))
        with self._errors("cannot store pending transactions"), self._acks:
            self._acks.execute("BEGIN IMMEDIATE")
            (row,) = self._acks.execute(
                "INSERT INTO acked_txs (txs) VALUES (?) RETURNING flush", (blob,)
            ).fetchone()
        self._written.append((row, tuple(ids for ids, _ in txs)))  # deque: thread-safe

    def pending(self) -> list[bytes]:
        """The acknowledged transactions and bundles not committed yet (each once), after
        dropping the rows whose transactions all were (persisted after their batch had been
        stored). A bundle is a whole entry: it commits entirely or not at all."""
        self._written.clear()  # the rows it holds are read here
        with self._errors("cannot read pending transactions"):
            rows = self._conn.execute("SELECT flush, txs FROM acked_txs").fetchall()
        waiting: dict[bytes, bytes] = {}
        done: list[tuple[int]] = []
        self._open = OpenAcks()
        for row, blob in rows:
            try:
                txs = codec.decode(blob, tuple[bytes, ...])
            except codec.DecodeError as exc:
                raise StoreError(f"{self.path}: acked transactions corrupt: {exc}") from None
            entries = tuple(_entry_ids(tx) for tx in txs)
            left = [
                (ids, tx) for ids, tx in zip(entries, txs, strict=True) if not self._is_done(ids)
            ]
            if left:
                waiting.update((ids[0] if len(ids) == 1 else tx_id(tx), tx) for ids, tx in left)
                self._open.add(row, (ids for ids, _ in left), set())
            else:
                done.append((row,))
        with self._errors("cannot drop committed pending transactions"), self._conn:
            self._conn.execute("BEGIN IMMEDIATE")
            self._conn.executemany("DELETE FROM acked_txs WHERE flush = ?", done)
        return list(waiting.values())

    def _watch_written(self) -> None:
        """Watch the rows the writer thread stored since the last call."""
        while self._written:
            row, entries = self._written.popleft()
            # Usually none committed yet: one bulk lookup for the row, no query per entry.
            found = self.committed_among([txid for entry in entries for txid in entry])
            self._open.add(row, entries, found)

    def _is_done(self, ids: tuple[bytes, ...]) -> bool:
        """An acknowledged entry is done when its transaction committed, or for a bundle when
        any of its transactions did: it committed whole, or it never can."""
        return any(map(self._is_committed, ids))

    def _is_committed(self, txid: bytes) -> bool:
        return txid in self._recent or self.tx_location(txid) is not None

    def committed_among(self, txids: Sequence[bytes]) -> set[bytes]:
        """The recent ones by one set operation; the others only where the index filter
        cannot rule them out (a batch's fresh transactions cost no query)."""
        found = self._recent.among(txids)
        older = [txid for txid in txids if txid not in found and len(txid) == ID_BYTES]
        found.update(t for t in self._index.may_hold(older) if self.tx_location(t) is not None)
        return found

    def tx_location(self, txid: bytes) -> tuple[int, int] | None:
        """(height, position) of a committed transaction: from memory for recent heights,
        else the latest height whose id blob holds it among those its prefix names."""
        recent = self._recent.get(txid)
        if recent is not None or len(txid) != ID_BYTES or not self._index.may_hold_one(txid):
            return recent  # the usual answer for a new transaction: no query, no context
        with self._errors("cannot read the tx index"):
            for height in self._index.heights(txid):
                row = self._conn.execute(
                    "SELECT tx_ids FROM batches WHERE height = ?", (height,)
                ).fetchone()
                position = None if row is None else _last_position(row[0], txid)
                if position is not None:
                    return height, position
        return None

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
        """Wait for the index write in flight, then close both files."""
        try:
            with self._errors("cannot finish writing the tx index"):
                self._index.close()
        finally:
            self._acks.close()
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


def _entry_ids(encoded: bytes) -> tuple[bytes, ...]:
    """The transaction ids an acknowledged entry (a transaction or a bundle) stands for."""
    bundle = Bundle.of(encoded)
    return (tx_id(encoded),) if bundle is None else bundle.tx_ids
