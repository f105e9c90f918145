"""Tests for the double-sign guard: sign later, reuse the identical, refuse the rest."""

from __future__ import annotations

import itertools

import pytest

from sequencer_net.consensus.machine import LockState
from sequencer_net.signstate import SignRecord, Verdict, check
from sequencer_net.types import Step

PAYLOAD = b"payload"
OTHER = b"other payload"
H, R, S = 5, 2, Step.PREVOTE
RECORD = SignRecord(H, R, S, PAYLOAD, b"\x01" * 64, LockState(round=R))


def test_no_record_signs_anything() -> None:
    assert check(None, 1, 0, Step.PROPOSE, PAYLOAD) is Verdict.SIGN
    assert check(None, 9, 9, Step.PRECOMMIT, OTHER) is Verdict.SIGN


@pytest.mark.parametrize(
    ("height", "round", "step"),
    [
        (H, R, Step.PRECOMMIT),  # later step
        (H, R + 1, Step.PROPOSE),  # later round, earlier step
        (H, R + 1, Step.PREVOTE),
        (H + 1, 0, Step.PROPOSE),  # later height, earlier round and step
        (H + 1, R, S),
    ],
)
@pytest.mark.parametrize("payload", [PAYLOAD, OTHER])
def test_later_position_signs(height: int, round: int, step: Step, payload: bytes) -> None:
    assert check(RECORD, height, round, step, payload) is Verdict.SIGN


def test_same_position_same_payload_reuses() -> None:
    assert check(RECORD, H, R, S, PAYLOAD) is Verdict.REUSE


def test_same_position_other_payload_refuses() -> None:
    assert check(RECORD, H, R, S, OTHER) is Verdict.REFUSE
    assert check(RECORD, H, R, S, b"") is Verdict.REFUSE


@pytest.mark.parametrize(
    ("height", "round", "step"),
    [
        (H, R, Step.PROPOSE),  # earlier step
        (H, R - 1, Step.PRECOMMIT),  # earlier round, later step
        (H, R - 1, S),
        (H - 1, R + 5, Step.PRECOMMIT),  # earlier height, later round and step
        (H - 1, R, S),
        (H - 1, 0, Step.PROPOSE),
    ],
)
@pytest.mark.parametrize("payload", [PAYLOAD, OTHER])
def test_earlier_position_refuses(height: int, round: int, step: Step, payload: bytes) -> None:
    assert check(RECORD, height, round, step, payload) is Verdict.REFUSE


def test_every_ordering_of_positions() -> None:
    """Exhaustive over a small grid: SIGN exactly when strictly later (lexicographic by
    height, round, step), REUSE exactly at the same position with the same payload."""
    positions = list(itertools.product((1, 2), (0, 1), tuple(Step)))
    for last in positions:
        record = SignRecord(*last, PAYLOAD, b"\x02" * 64, LockState())
        for new in positions:
            for payload in (PAYLOAD, OTHER):
                verdict = check(record, *new, payload)
                if new > last:
                    assert verdict is Verdict.SIGN, (last, new)
                elif new == last and payload == PAYLOAD:
                    assert verdict is Verdict.REUSE, (last, new)
                else:
                    assert verdict is Verdict.REFUSE, (last, new, payload)


def test_record_step_decoded_as_plain_int_still_compares() -> None:
    record = SignRecord(H, R, int(S), PAYLOAD, b"\x01" * 64, LockState())  # type: ignore[arg-type]
    assert check(record, H, R, Step.PRECOMMIT, OTHER) is Verdict.SIGN
    assert check(record, H, R, Step.PROPOSE, PAYLOAD) is Verdict.REFUSE
    assert check(record, H, R, S, PAYLOAD) is Verdict.REUSE
