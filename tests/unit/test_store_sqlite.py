"""The SQLite chain store: same behaviour as the in-memory store, plus persistence, chain-id
binding, clean errors for bad files, and commits that survive kill -9."""

from __future__ import annotations

import sqlite3
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from helpers.chunks import chunk, committed_batch
from helpers.crashing import kill_after_reports
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from sequencer_net import codec
from sequencer_net.messages import CommittedBatch
from sequencer_net.store.errors import StoreError
from sequencer_net.store.memory import MemoryChainStore
from sequencer_net.store.recent import RecentTxIds
from sequencer_net.store.sqlite import SETTLE_EVERY_HEIGHTS, SqliteChainStore
from sequencer_net.store.txindex import prefix, prefixes
from sequencer_net.types import Bundle, Tx, tx_id

CHAIN = "test-chain"


def encoded_txs(*payloads: bytes) -> tuple[bytes, ...]:
    return tuple(Tx("rollup-1", "alice", payload).encoded for payload in payloads)


CHUNK_TXS = 2  # so an entry's transactions span chunks and positions cross chunk borders


def make_entry(
    height: int, txs: tuple[bytes, ...] | None = None, chain_id: str = CHAIN
) -> CommittedBatch:
    """A well-formed committed batch carrying ``txs`` in chunks of :data:`CHUNK_TXS`; its
    certificates' signatures are fake (the store does not verify them)."""
    if txs is None:
        txs = encoded_txs(*(f"{height}/{i}".encode() for i in range(3)))
    chunks = [
        chunk(b"\x07" * 32, txs[i : i + CHUNK_TXS], seq=height * 1_000 + i)
        for i in range(0, len(txs), CHUNK_TXS)
    ]
    return committed_batch(chain_id, height, chunks)


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "chain.sqlite"


@pytest.fixture
def store(path: Path) -> Iterator[SqliteChainStore]:
    with SqliteChainStore(path, CHAIN) as store:
        yield store


def fill(store: SqliteChainStore, count: int) -> list[CommittedBatch]:
    entries = [make_entry(h) for h in range(store.last_height() + 1, count + 1)]
    for entry in entries:
        store.append(entry)
    return entries


def test_round_trip(store: SqliteChainStore) -> None:
    assert store.last_height() == 0
    assert store.get(1) is None
    entries = fill(store, 3)
    assert store.last_height() == 3
    assert [store.get(h) for h in (1, 2, 3)] == entries
    assert store.get(0) is None
    assert store.get(4) is None
    assert store.get(2**80) is None


def test_survives_close_and_reopen(path: Path) -> None:
    with SqliteChainStore(path, CHAIN) as store:
        entries = fill(store, 4)
    with SqliteChainStore(path, CHAIN) as store:
        assert store.last_height() == 4
        assert store.get_many(1, 10) == entries
        assert store.tx_location(tx_id(entries[3].txs[2])) == (4, 2)
        store.append(make_entry(5))
    with SqliteChainStore(path, CHAIN) as store:
        assert store.last_height() == 5


def test_tx_index_positions(store: SqliteChainStore) -> None:
    entries = fill(store, 3)
    for entry in entries:
        for position, tx in enumerate(entry.txs):
            assert store.tx_location(tx_id(tx)) == (entry.height, position)
    assert store.tx_location(tx_id(b"never committed")) is None


def test_a_repeated_tx_is_found_where_it_last_committed_in_both_stores(
    store: SqliteChainStore,
) -> None:
    """Two validators' chunks may carry the same client transaction: one batch counts it once,
    where it first appears; committed again at a later height, it is found there."""
    a, b, c, d = encoded_txs(b"a", b"b", b"c", b"d")
    author = b"\x07" * 32
    first = committed_batch(CHAIN, 1, [chunk(author, (a, b), 1), chunk(author, (b, c), 2)])
    again = committed_batch(CHAIN, 2, [chunk(author, (d, a), 3)])
    assert first.txs == (a, b, c) and again.txs == (d, a)
    memory = MemoryChainStore()
    for s in (store, memory):
        s.append(first)
        s.append(again)
    expected = {a: (2, 1), b: (1, 1), c: (1, 2), d: (2, 0)}
    for s in (store, memory):
        assert {tx: s.tx_location(tx_id(tx)) for tx in (a, b, c, d)} == expected


def test_empty_batch(store: SqliteChainStore) -> None:
    entry = make_entry(1, txs=())
    store.append(entry)
    assert store.get(1) == entry


@pytest.mark.parametrize("height", [1, 2, 4])
def test_append_refuses_a_height_that_is_not_next(store: SqliteChainStore, height: int) -> None:
    fill(store, 2)
    wrong = make_entry(height, encoded_txs(b"refused"))
    with pytest.raises(ValueError, match="expected height 3"):
        store.append(wrong)
    assert store.last_height() == 2
    assert store.tx_location(tx_id(wrong.txs[0])) is None
    store.append(make_entry(3))


def test_append_refuses_a_batch_of_another_chain(store: SqliteChainStore) -> None:
    with pytest.raises(ValueError, match="other-chain"):
        store.append(make_entry(1, chain_id="other-chain"))
    assert store.last_height() == 0


def test_opening_another_chains_store_fails(path: Path) -> None:
    SqliteChainStore(path, CHAIN).close()
    with pytest.raises(StoreError, match="belongs to chain 'test-chain', not 'other-chain'"):
        SqliteChainStore(path, "other-chain")


def test_unknown_schema_version_fails(path: Path) -> None:
    SqliteChainStore(path, CHAIN).close()
    with sqlite3.connect(path) as conn:
        conn.execute("UPDATE meta SET value = '99' WHERE key = 'schema_version'")
    conn.close()
    with pytest.raises(StoreError, match="schema version '99'"):
        SqliteChainStore(path, CHAIN)


@pytest.mark.parametrize(
    "content", [b"not a database at all" * 100, b"SQLite format 3\x00" + b"\xff" * 4000]
)
def test_garbage_file_gives_store_error(path: Path, content: bytes) -> None:
    path.write_bytes(content)
    with pytest.raises(StoreError, match=str(path)):
        SqliteChainStore(path, CHAIN)


def test_truncated_database_gives_store_error(path: Path) -> None:
    with SqliteChainStore(path, CHAIN) as store:
        fill(store, 50)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(StoreError, match=f"{path}: .*malformed"):
        SqliteChainStore(path, CHAIN)


def test_unopenable_path_gives_store_error(tmp_path: Path) -> None:
    path = tmp_path / "missing-dir" / "chain.sqlite"
    with pytest.raises(StoreError, match=str(path)):
        SqliteChainStore(path, CHAIN)


def test_corrupt_row_gives_store_error(path: Path) -> None:
    with SqliteChainStore(path, CHAIN) as store:
        fill(store, 2)
    with sqlite3.connect(path) as conn:
        conn.execute("UPDATE batches SET entry = x'c1' WHERE height = 2")
    conn.close()
    with SqliteChainStore(path, CHAIN) as store:
        assert store.get(1) is not None
        with pytest.raises(StoreError, match=f"{path}: batch at height 2 is corrupt"):
            store.get(2)
        with pytest.raises(StoreError, match="height 2"):
            store.get_many(1, 2)


@pytest.mark.parametrize(
    ("from_height", "limit", "heights"),
    [
        (1, 64, [1, 2, 3, 4, 5]),
        (2, 2, [2, 3]),
        (5, 10, [5]),
        (6, 3, []),
        (0, 3, [1, 2]),
        (-5, 3, []),
        (1, 0, []),
        (3, -1, []),
        (4, 2**80, [4, 5]),
    ],
)
def test_get_many_bounds(
    store: SqliteChainStore, from_height: int, limit: int, heights: list[int]
) -> None:
    fill(store, 5)
    assert [e.height for e in store.get_many(from_height, limit)] == heights


# ---- kill -9 -----------------------------------------------------------------------------------

CRASH_CHILD = """
import sys
from pathlib import Path
from sequencer_net import codec
from sequencer_net.messages import CommittedBatch
from sequencer_net.store.sqlite import SqliteChainStore

store = SqliteChainStore(Path(sys.argv[1]), sys.argv[2], *map(int, sys.argv[4:]))
for entry in codec.decode(Path(sys.argv[3]).read_bytes(), tuple[CommittedBatch, ...]):
    store.append(entry)
    print(entry.height, flush=True)
"""


@pytest.mark.parametrize("recent", [[], ["50"]])
def test_commits_survive_kill_9(tmp_path: Path, path: Path, recent: list[str]) -> None:
    """A child appends batches and reports each one as soon as append returns; it is killed
    mid-stream. Every reported height must be there afterwards, and nothing half-written;
    with a small in-memory bound the child is killed while moving ids to the prefix index,
    and the index must still answer for every committed transaction."""
    entries = [
        make_entry(h, encoded_txs(*(b"%d/%d" % (h, i) for i in range(20)))) for h in range(1, 1001)
    ]
    feed = tmp_path / "entries.bin"
    feed.write_bytes(codec.encode(tuple(entries)))
    reported = kill_after_reports(CRASH_CHILD, str(path), CHAIN, str(feed), *recent)
    with SqliteChainStore(path, CHAIN, *map(int, recent)) as store:
        last = store.last_height()
        assert reported == [1, 2, 3, 4, 5]
        assert 5 <= last < len(entries)
        assert store.get_many(1, last) == entries[:last]
        for entry in entries[: last + 1]:
            expected = [(entry.height, i) if entry.height <= last else None for i in range(20)]
            assert [store.tx_location(tx_id(tx)) for tx in entry.txs] == expected


# ---- model comparison --------------------------------------------------------------------------

tx_pool = st.lists(st.integers(0, 9), max_size=5).map(
    lambda picks: encoded_txs(*(bytes([p]) for p in picks))
)


class ChainStoreComparison(RuleBasedStateMachine):
    """The same operations on both stores give the same answers (repeated tx ids included),
    with the SQLite store closed and reopened at random points."""

    recent_ids = 100_000

    def __init__(self) -> None:
        super().__init__()
        self._dir = tempfile.TemporaryDirectory()
        self.path = Path(self._dir.name) / "chain.sqlite"
        self.sqlite = SqliteChainStore(self.path, CHAIN, self.recent_ids)
        self.memory = MemoryChainStore()

    @rule(offset=st.sampled_from([0, 0, 0, -1, 1]), txs=tx_pool)
    def append(self, offset: int, txs: tuple[bytes, ...]) -> None:
        height = self.memory.last_height() + 1 + offset
        if height < 1:
            return
        entry = make_entry(height, txs)
        outcomes = []
        for store in (self.memory, self.sqlite):
            try:
                store.append(entry)
                outcomes.append("ok")
            except ValueError as exc:
                outcomes.append(str(exc))
        assert outcomes[0] == outcomes[1]

    @rule(height=st.integers(-1, 12))
    def get(self, height: int) -> None:
        assert self.sqlite.get(height) == self.memory.get(height)

    @rule(from_height=st.integers(-1, 12), limit=st.integers(-1, 6))
    def get_many(self, from_height: int, limit: int) -> None:
        expected = [self.memory.get(h) for h in range(from_height, from_height + limit)]
        assert self.sqlite.get_many(from_height, limit) == [e for e in expected if e]

    @rule(pick=st.integers(0, 10))
    def tx_location(self, pick: int) -> None:
        txid = tx_id(encoded_txs(bytes([pick]))[0])
        assert self.sqlite.tx_location(txid) == self.memory.tx_location(txid)

    @rule()
    def reopen(self) -> None:
        self.sqlite.close()
        self.sqlite = SqliteChainStore(self.path, CHAIN, self.recent_ids)

    @invariant()
    def same_height(self) -> None:
        assert self.sqlite.last_height() == self.memory.last_height()

    def teardown(self) -> None:
        self.sqlite.close()
        self._dir.cleanup()


ChainStoreComparison.TestCase.settings = settings(
    max_examples=25, stateful_step_count=15, deadline=None
)
TestChainStoreMatchesMemory = ChainStoreComparison.TestCase


class SmallMemoryComparison(ChainStoreComparison):
    """The same, with room for only 3 ids in memory: most answers come from the prefix index."""

    recent_ids = 3


SmallMemoryComparison.TestCase.settings = ChainStoreComparison.TestCase.settings
TestSmallMemoryStoreMatchesMemory = SmallMemoryComparison.TestCase


# ---- the tx index: memory, prefix index, restarts ----------------------------------------------


def test_every_location_is_found_after_reopen_with_little_memory(path: Path) -> None:
    """With a bound of 10 ids, most heights have moved to the prefix index; after a reopen
    every transaction is still found where it was committed, and absent ids are not."""
    with SqliteChainStore(path, CHAIN, recent_ids=10) as store:
        entries = fill(store, 40)
    index = path.with_name("chain-txindex.sqlite")
    with sqlite3.connect(index) as conn:
        (indexed,) = conn.execute("SELECT value FROM meta WHERE key = 'indexed_through'").fetchone()
    conn.close()
    assert 30 <= indexed < 40
    with SqliteChainStore(path, CHAIN, recent_ids=10) as store:
        for entry in entries:
            for position, tx in enumerate(entry.txs):
                assert store.tx_location(tx_id(tx)) == (entry.height, position)
        assert store.tx_location(tx_id(b"never committed")) is None


def test_a_prefix_collision_is_not_a_match(path: Path) -> None:
    """An id sharing a committed id's first 8 bytes (a client can grind for one) is checked
    against the height's id blob, so it is not reported as committed."""
    with SqliteChainStore(path, CHAIN, recent_ids=3) as store:
        entries = fill(store, 10)
        real = tx_id(entries[0].txs[1])
        assert store.tx_location(real) == (1, 1)  # answered by the prefix index
        assert store.tx_location(real[:8] + bytes(24)) is None
        assert store.tx_location(real[:8]) is None


def test_a_lost_tx_index_is_rebuilt(path: Path) -> None:
    """The prefix index holds derived data only: deleted, it is rebuilt from the id blobs."""
    with SqliteChainStore(path, CHAIN, recent_ids=5) as store:
        entries = fill(store, 20)
    for leftover in path.parent.glob("chain-txindex.sqlite*"):
        leftover.unlink()
    with SqliteChainStore(path, CHAIN, recent_ids=5) as store:
        assert [store.tx_location(tx_id(e.txs[2])) for e in entries] == [
            (e.height, 2) for e in entries
        ]


def test_a_garbage_tx_index_gives_store_error_naming_the_fix(path: Path) -> None:
    with SqliteChainStore(path, CHAIN) as store:
        fill(store, 2)
    path.with_name("chain-txindex.sqlite").write_bytes(b"not a database" * 500)
    with pytest.raises(StoreError, match=r"chain-txindex\.sqlite .*delete it to rebuild"):
        SqliteChainStore(path, CHAIN)


def test_an_index_ahead_of_the_chain_gives_no_false_answers(tmp_path: Path) -> None:
    """After a power loss the chain may have lost heights the index still names: those match
    nothing, and the heights appended again are found."""
    ahead, behind = tmp_path / "ahead", tmp_path / "behind"
    for directory, count in ((ahead, 30), (behind, 10)):
        directory.mkdir()
        with SqliteChainStore(directory / "chain.sqlite", CHAIN, recent_ids=5) as store:
            fill(store, count)
    for leftover in behind.glob("chain-txindex.sqlite*"):
        leftover.unlink()
    (ahead / "chain-txindex.sqlite").rename(behind / "chain-txindex.sqlite")
    with SqliteChainStore(behind / "chain.sqlite", CHAIN, recent_ids=5) as store:
        lost = make_entry(25)
        assert store.tx_location(tx_id(lost.txs[0])) is None
        entries = fill(store, 30)
        assert store.tx_location(tx_id(lost.txs[0])) == (25, 0)
        assert store.tx_location(tx_id(entries[-1].txs[1])) == (30, 1)


@pytest.mark.parametrize("version", ["3", "4"])
def test_a_store_from_before_chunks_is_refused_with_what_to_do(path: Path, version: str) -> None:
    """Batches of schema 3 and 4 carried their transactions; this build cannot decode them."""
    with SqliteChainStore(path, CHAIN) as store:
        fill(store, 2)
    with sqlite3.connect(path) as conn:
        conn.execute("UPDATE meta SET value = ? WHERE key = 'schema_version'", (version,))
    conn.close()
    with pytest.raises(StoreError, match=r"before batches ordered chunks.*cluster init"):
        SqliteChainStore(path, CHAIN)


def test_a_store_from_before_namespace_tables_is_refused_with_what_to_do(path: Path) -> None:
    """Schema 5 certificates and headers carry no namespace tables: they no longer decode."""
    with SqliteChainStore(path, CHAIN) as store:
        fill(store, 2)
    with sqlite3.connect(path) as conn:
        conn.execute("UPDATE meta SET value = '5' WHERE key = 'schema_version'")
    conn.close()
    with pytest.raises(
        StoreError, match=r"schema 5.*namespace tables|namespace tables.*cluster init"
    ):
        SqliteChainStore(path, CHAIN)


def test_recent_ids_stay_bounded() -> None:
    recent = RecentTxIds(100)
    handed: list[int] = []
    for height in range(1, 101):
        due = recent.add(height, [bytes([height, i]) * 16 for i in range(10)])
        handed += [h for h, _ in due]
        if due:
            recent.forget_through(due[-1][0])
        assert len(recent) <= 100
    assert handed == list(range(1, handed[-1] + 1))
    assert recent.get(bytes([100, 3]) * 16) == (100, 3)
    assert recent.get(bytes([1, 3]) * 16) is None


def test_pending_txs_survive_a_reopen_and_leave_once_committed(path: Path) -> None:
    acked = encoded_txs(b"a", b"b", b"c")
    with SqliteChainStore(path, CHAIN) as store:
        store.add_pending(with_ids(acked))
        store.add_pending(with_ids(acked[:1]))  # acknowledged twice, stored once
        store.append(make_entry(1, acked[:1]))  # committed: not read back
    with SqliteChainStore(path, CHAIN) as store:
        assert sorted(store.pending()) == sorted(acked[1:])


def with_ids(txs: tuple[bytes, ...]) -> list[tuple[tuple[bytes, ...], bytes]]:
    return [((tx_id(tx),), tx) for tx in txs]


def acked_rows(path: Path) -> int:
    with sqlite3.connect(path) as conn:
        (rows,) = conn.execute("SELECT COUNT(*) FROM acked_txs").fetchone()
    return int(rows)


def test_an_acked_row_goes_once_all_its_transactions_committed(path: Path) -> None:
    done, open_ = encoded_txs(b"a", b"b"), encoded_txs(b"c", b"d")
    with SqliteChainStore(path, CHAIN) as store:
        store.add_pending(with_ids(done))
        store.add_pending(with_ids(open_))
        store.append(make_entry(1, done + open_[:1]))
        for height in range(2, SETTLE_EVERY_HEIGHTS + 1):
            store.append(make_entry(height))
        assert acked_rows(path) == 1  # the row with "d" stays: it is still to commit
        assert store.pending() == [open_[1]]
        for height in range(SETTLE_EVERY_HEIGHTS + 1, 2 * SETTLE_EVERY_HEIGHTS + 1):
            store.append(make_entry(height, open_[1:] if height == 9 else None))
        assert acked_rows(path) == 0
        assert store.pending() == []


def test_a_commit_looks_up_its_own_ids_not_every_open_acknowledgement(
    store: SqliteChainStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A full mempool of acked, uncommitted transactions must not cost each height a lookup
    per open entry (a node with 200,000 of them spent seconds per height and stopped
    answering): an open entry is checked once, when its row is first seen."""
    waiting = encoded_txs(*(b"w%d" % i for i in range(2_000)))
    store.add_pending(with_ids(waiting))
    store.append(make_entry(1))  # the row is seen, each entry checked once
    lookups = 0
    looked_up = store.tx_location

    def counted(txid: bytes) -> tuple[int, int] | None:
        nonlocal lookups
        lookups += 1
        return looked_up(txid)

    monkeypatch.setattr(store, "tx_location", counted)
    for height in range(2, 3 * SETTLE_EVERY_HEIGHTS + 2):
        store.append(make_entry(height, waiting[height : height + 1]))
    assert lookups == 0
    assert len(store.pending()) == len(waiting) - 3 * SETTLE_EVERY_HEIGHTS


def test_an_acked_bundle_settles_when_it_commits_and_a_repeat_row_with_it(path: Path) -> None:
    bundle = encoded_txs(b"b1", b"b2")
    entry = codec.encode(Bundle(bundle))
    single = encoded_txs(b"s")
    with SqliteChainStore(path, CHAIN) as store:
        store.add_pending([(tuple(tx_id(t) for t in bundle), entry), *with_ids(single)])
        store.add_pending(with_ids(single))  # the same transaction acknowledged again
        store.append(make_entry(1, bundle))
        for height in range(2, SETTLE_EVERY_HEIGHTS + 1):
            store.append(make_entry(height))
        assert acked_rows(path) == 2  # "s" is still to commit, in both rows
        assert store.pending() == list(single)
        store.append(make_entry(SETTLE_EVERY_HEIGHTS + 1, single))
        for height in range(SETTLE_EVERY_HEIGHTS + 2, 2 * SETTLE_EVERY_HEIGHTS + 1):
            store.append(make_entry(height))
        assert acked_rows(path) == 0


def test_pending_rows_of_an_older_store_are_carried_over(path: Path) -> None:
    acked = encoded_txs(b"old-1", b"old-2")
    SqliteChainStore(path, CHAIN).close()
    with sqlite3.connect(path) as conn:  # the layout before acked rows were grouped
        conn.execute("CREATE TABLE pending_txs (tx_id BLOB PRIMARY KEY, encoded BLOB NOT NULL)")
        conn.executemany("INSERT INTO pending_txs VALUES (?, ?)", [(tx_id(t), t) for t in acked])
    with SqliteChainStore(path, CHAIN) as store:
        assert sorted(store.pending()) == sorted(acked)
    with sqlite3.connect(path) as conn:
        assert (
            conn.execute("SELECT name FROM sqlite_master WHERE name = 'pending_txs'").fetchall()
            == []
        )


def test_a_pending_tx_written_after_its_commit_is_dropped_on_reload(
    store: SqliteChainStore,
) -> None:
    acked = encoded_txs(b"late", b"open")
    store.append(make_entry(1, acked[:1]))
    store.add_pending(with_ids(acked))
    assert store.pending() == [acked[1]]
    assert store.pending() == [acked[1]]


@given(st.lists(st.binary(min_size=32, max_size=32), max_size=50))
def test_prefixes_unpacked_at_once_are_each_ids_prefix(ids: list[bytes]) -> None:
    assert prefixes(ids) == tuple(prefix(txid) for txid in ids)


def test_prefixes_refuse_an_id_of_another_length() -> None:
    with pytest.raises(ValueError, match="32 bytes"):
        prefixes([bytes(32), bytes(31)])


def test_a_repeat_left_out_at_commit_stays_out_when_read_back(path: Path) -> None:
    first = encoded_txs(b"once", b"other")
    again = make_entry(2, (first[0], *encoded_txs(b"new")))
    with SqliteChainStore(path, CHAIN) as store:
        store.append(make_entry(1, first))
        entry = again.without_repeats(store.committed_among)
        assert entry.txs == encoded_txs(b"new") and entry.chunks == again.chunks
        store.append(entry)
        assert store.get(2) == entry and store.get(2).txs == entry.txs
    with SqliteChainStore(path, CHAIN) as store:  # from disk, not the cached newest entry
        assert store.get(2).tx_ids == entry.tx_ids
        assert [e.tx_ids for e in store.get_many(1, 2)] == [
            make_entry(1, first).tx_ids,
            entry.tx_ids,
        ]
        assert store.tx_location(tx_id(first[0])) == (1, 0)
    unchanged = again.without_repeats(lambda txids: set())
    assert unchanged is again and len(unchanged.txs) == 2


def test_committed_among_finds_recent_and_indexed_ids_and_nothing_else(path: Path) -> None:
    """The bulk check a commit makes for repeats agrees with tx_location, id by id, for ids in
    memory, ids moved to the prefix index, and ids never committed."""
    with SqliteChainStore(path, CHAIN, recent_ids=3) as store:
        entries = fill(store, 10)
        committed = [tx_id(tx) for e in entries for tx in e.txs]
        fresh = [tx_id(tx) for tx in make_entry(11).txs] + [committed[0][:8] + bytes(24)]
        asked = committed[::3] + fresh
        assert store.committed_among(asked) == set(committed[::3])
        assert {t for t in asked if store.tx_location(t) is not None} == set(committed[::3])
        assert store.committed_among([]) == set()
