"""The file sign-state store: durable round trip, atomic replacement, loud corruption, and
records that survive kill -9."""

from __future__ import annotations

from pathlib import Path

import pytest
from helpers.chunks import chunk, committed_batch
from helpers.crashing import kill_after_reports

from sequencer_net import codec
from sequencer_net.consensus.machine import LockState
from sequencer_net.signstate import SignRecord
from sequencer_net.store.errors import StoreError
from sequencer_net.store.signfile import SLOT_BYTES, VALUES_MAX_RECORDS, FileSignStateStore
from sequencer_net.types import Batch, Step, Tx


def record(height: int, round: int = 0, step: Step = Step.PREVOTE) -> SignRecord:
    return SignRecord(height, round, step, b"payload %d" % height, b"\x07" * 64, LockState(round))


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "sign_state.bin"


def test_absent_file_loads_none(path: Path) -> None:
    assert FileSignStateStore(path).load() is None
    assert not path.exists()


def test_round_trip_and_reopen(path: Path) -> None:
    store = FileSignStateStore(path)
    store.save(record(3))
    store.save(record(3, 1, Step.PRECOMMIT))
    assert store.load() == record(3, 1, Step.PRECOMMIT)
    assert FileSignStateStore(path).load() == record(3, 1, Step.PRECOMMIT)
    assert len(path.read_bytes()) == 2 * SLOT_BYTES  # the file never changes size


def test_no_temp_file_is_left_behind(path: Path) -> None:
    FileSignStateStore(path).save(record(1))
    assert sorted(p.name for p in path.parent.iterdir()) == [path.name]


def test_leftover_temp_file_does_not_break_load_or_save(path: Path) -> None:
    """A crash between writing the temp file and renaming it leaves the old record in force."""
    FileSignStateStore(path).save(record(1))
    (path.parent / (path.name + ".tmp")).write_bytes(b"torn")
    store = FileSignStateStore(path)
    assert store.load() == record(1)
    store.save(record(2))
    assert FileSignStateStore(path).load() == record(2)


def test_load_is_cached(path: Path) -> None:
    store = FileSignStateStore(path)
    store.save(record(1))
    path.unlink()  # the store owns the file: it does not re-read it
    assert store.load() == record(1)


@pytest.mark.parametrize("content", [b"", b"\x93\x01", codec.encode(record(1))[:-1] + b"\xc1"])
def test_corrupt_file_gives_store_error(path: Path, content: bytes) -> None:
    path.write_bytes(content)
    with pytest.raises(StoreError, match=f"{path}: corrupt sign state"):
        FileSignStateStore(path).load()


def test_unwritable_directory_gives_store_error(tmp_path: Path) -> None:
    store = FileSignStateStore(tmp_path / "missing-dir" / "sign_state.bin")
    with pytest.raises(StoreError, match="missing-dir"):
        store.save(record(1))
    assert store.load() is None


def batch(height: int, tx_count: int) -> Batch:
    """A batch ordering one chunk of ``tx_count`` transactions per 1,000."""
    txs = [Tx("rollup-1", "alice", b"%d/%d" % (height, i)).encoded for i in range(tx_count)]
    chunks = [chunk(b"\x01" * 32, txs[i : i + 1000], i) for i in range(0, tx_count, 1000)]
    return committed_batch("test-chain", height, chunks).batch


def locked(height: int, step: Step, value: Batch, valid: Batch | None = None) -> SignRecord:
    lock = LockState(0, 0, value, 0, valid or value)
    return SignRecord(height, 0, step, b"payload %d" % step, b"\x07" * 64, lock)


def test_lock_batches_survive_a_reopen(path: Path) -> None:
    store = FileSignStateStore(path)
    store.save(locked(4, Step.PREVOTE, batch(4, 3), batch(4, 5)))
    assert FileSignStateStore(path).load() == locked(4, Step.PREVOTE, batch(4, 3), batch(4, 5))


def stored_size(path: Path) -> int:
    """The length of the newest record in the sign-state file (from its slot header)."""
    data = path.read_bytes()
    slots = [data[:SLOT_BYTES], data[SLOT_BYTES:]]
    newest = max(slots, key=lambda slot: int.from_bytes(slot[:8], "big"))
    return int.from_bytes(newest[8:12], "big")


def test_save_size_does_not_grow_with_the_batch(path: Path) -> None:
    """The record holds batch ids: a lock on 1,000 transactions saves as many bytes as one on
    a single transaction, and the locked batch is written once, not in every save."""
    store = FileSignStateStore(path)
    sizes = []
    for tx_count in (1, 1_000):
        value = batch(7, tx_count)
        store.save(locked(7, Step.PREVOTE, value))
        values_inode = store.values_path.stat().st_ino
        store.save(locked(7, Step.PRECOMMIT, value))  # same lock: values file untouched
        assert store.values_path.stat().st_ino == values_inode
        assert path.stat().st_size == 2 * SLOT_BYTES
        sizes.append(stored_size(path))
    assert sizes[0] == sizes[1] < 300
    assert FileSignStateStore(path).load() == locked(7, Step.PRECOMMIT, batch(7, 1_000))


def test_a_torn_newest_slot_leaves_the_previous_record(path: Path) -> None:
    """A crash while overwriting a slot (before save returned) loses only that save."""
    store = FileSignStateStore(path)
    store.save(record(1))
    store.save(record(2))  # sequence 2: slot 0
    data = bytearray(path.read_bytes())
    data[40] ^= 0xFF  # tear slot 0's body
    path.write_bytes(bytes(data))
    assert FileSignStateStore(path).load() == record(1)
    reopened = FileSignStateStore(path)
    reopened.save(record(3))
    assert FileSignStateStore(path).load() == record(3)


def test_a_lock_whose_batch_is_missing_is_refused(path: Path) -> None:
    FileSignStateStore(path).save(locked(2, Step.PRECOMMIT, batch(2, 2)))
    (path.parent / (path.name + ".values")).unlink()
    with pytest.raises(StoreError, match=r"corrupt sign state \(the lock names batch"):
        FileSignStateStore(path).load()


def test_erase_forgets_the_record_and_its_batches(path: Path) -> None:
    store = FileSignStateStore(path)
    store.save(locked(3, Step.PRECOMMIT, batch(3, 2)))
    store.erase()
    assert store.load() is None
    assert FileSignStateStore(path).load() is None
    assert not store.values_path.exists()
    store.save(record(1))
    assert FileSignStateStore(path).load() == record(1)


CRASH_CHILD = """
import sys
from pathlib import Path
from sequencer_net.consensus.machine import LockState
from sequencer_net.signstate import SignRecord
from sequencer_net.store.signfile import SLOT_BYTES, VALUES_MAX_RECORDS, FileSignStateStore
from sequencer_net.types import Step

store = FileSignStateStore(Path(sys.argv[1]))
height = 0
while True:
    height += 1
    store.save(SignRecord(height, 0, Step.PREVOTE, b"p", bytes(64), LockState()))
    print(height, flush=True)
"""


def test_saved_records_survive_kill_9(path: Path) -> None:
    """A child saves ever-later records and reports each as soon as save returns; after it is
    killed the file holds a whole record at least as late as the last one reported."""
    reported = kill_after_reports(CRASH_CHILD, str(path))
    assert reported == [1, 2, 3, 4, 5]
    loaded = FileSignStateStore(path).load()
    assert loaded is not None
    assert loaded.height >= 5


def test_each_new_lock_appends_to_the_values_log_without_a_rename(path: Path) -> None:
    store = FileSignStateStore(path)
    store.save(locked(1, Step.PRECOMMIT, batch(1, 2)))
    inode = store.values_path.stat().st_ino
    for height in range(2, 6):
        store.save(locked(height, Step.PRECOMMIT, batch(height, 2)))
    assert store.values_path.stat().st_ino == inode, "appended in place, not replaced"
    assert FileSignStateStore(path).load() == locked(5, Step.PRECOMMIT, batch(5, 2))


def test_the_values_log_is_rewritten_with_what_is_named_once_it_is_long(path: Path) -> None:
    store = FileSignStateStore(path)
    for height in range(1, VALUES_MAX_RECORDS + 3):
        store.save(locked(height, Step.PRECOMMIT, batch(height, 1)))
    reopened = FileSignStateStore(path)
    last = VALUES_MAX_RECORDS + 2
    assert reopened.load() == locked(last, Step.PRECOMMIT, batch(last, 1))
    assert len(reopened._held) <= 3, "the rewrite kept only the named batches"


def test_a_crash_after_a_rewrite_before_the_record_keeps_the_old_lock_loadable(
    path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = FileSignStateStore(path)
    for height in range(1, VALUES_MAX_RECORDS + 1):
        store.save(locked(height, Step.PRECOMMIT, batch(height, 1)))
    last = locked(VALUES_MAX_RECORDS, Step.PRECOMMIT, batch(VALUES_MAX_RECORDS, 1))

    def crash(slot: bytes) -> None:
        raise OSError("killed before the slot reached the disk")

    monkeypatch.setattr(store, "_write_slot", crash)
    with pytest.raises(StoreError):
        store.save(locked(99, Step.PRECOMMIT, batch(99, 1)))  # forces the rewrite
    assert FileSignStateStore(path).load() == last


def test_a_torn_last_value_record_is_cut_off_and_appends_go_on(path: Path) -> None:
    store = FileSignStateStore(path)
    store.save(locked(1, Step.PRECOMMIT, batch(1, 2)))
    with open(store.values_path, "ab") as f:
        f.write(b"\x00\x00\x01\x00torn")  # a record that never finished
    reopened = FileSignStateStore(path)
    assert reopened.load() == locked(1, Step.PRECOMMIT, batch(1, 2))
    reopened.save(locked(2, Step.PRECOMMIT, batch(2, 2)))
    assert FileSignStateStore(path).load() == locked(2, Step.PRECOMMIT, batch(2, 2))


def test_a_values_file_from_before_the_log_still_loads(path: Path) -> None:
    store = FileSignStateStore(path)
    store.save(locked(3, Step.PRECOMMIT, batch(3, 2)))
    store.values_path.write_bytes(codec.encode((batch(3, 2),)))  # the earlier format
    reopened = FileSignStateStore(path)
    assert reopened.load() == locked(3, Step.PRECOMMIT, batch(3, 2))
    reopened.save(locked(4, Step.PRECOMMIT, batch(4, 2)))
    assert FileSignStateStore(path).load() == locked(4, Step.PRECOMMIT, batch(4, 2))
