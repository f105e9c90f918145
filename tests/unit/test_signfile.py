"""The file sign-state store: durable round trip, atomic replacement, loud corruption, and
records that survive kill -9."""

from __future__ import annotations

from pathlib import Path

import pytest
from helpers.crashing import kill_after_reports

from sequencer_net import codec
from sequencer_net.consensus.machine import LockState
from sequencer_net.signstate import SignRecord
from sequencer_net.store.errors import StoreError
from sequencer_net.store.signfile import FileSignStateStore
from sequencer_net.types import Step


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
    assert codec.decode(path.read_bytes(), SignRecord) == record(3, 1, Step.PRECOMMIT)


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


CRASH_CHILD = """
import sys
from pathlib import Path
from sequencer_net.consensus.machine import LockState
from sequencer_net.signstate import SignRecord
from sequencer_net.store.signfile import FileSignStateStore
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
