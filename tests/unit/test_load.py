"""The load generator's pure parts: plans and their split over processes, premade
transactions, matching acks with commits, and the busy backoff."""

from __future__ import annotations

import time

import pytest

from sequencer_net import codec
from sequencer_net.api_protocol import BUSY, ApiError
from sequencer_net.client import SubmitResult
from sequencer_net.load import LoadPlan
from sequencer_net.load.follow import UNMATCHED_KEEP_S, Matcher
from sequencer_net.load.plan import MAX_TXS_PER_REQUEST, TxSource
from sequencer_net.load.submit import (
    BUSY_BACKOFF_S,
    MAX_BACKOFF_S,
    MIN_PROBE,
    Backoff,
    Tally,
    _submitter,
)
from sequencer_net.types import Tx, tx_id

A = ("127.0.0.1:1",)


@pytest.mark.parametrize(
    "change",
    [
        {"rate": 0},
        {"duration_s": 0},
        {"size": 0},
        {"clients": 0},
        {"clients": 17},
        {"submitters": 0},
        {"interval_s": 0},
        {"drain_s": -1},
        {"addresses": ()},
    ],
)
def test_a_bad_plan_is_refused(change: dict[str, object]) -> None:
    fields: dict[str, object] = {"addresses": A, "rate": 10, "duration_s": 1, **change}
    with pytest.raises(ValueError):
        LoadPlan(**fields)  # type: ignore[arg-type]


@pytest.mark.parametrize(("rate", "clients"), [(10, 3), (7, 7), (50_001, 4)])
def test_the_shares_of_a_plan_add_up_to_its_rate(rate: int, clients: int) -> None:
    plan = LoadPlan(A, rate, 2.0, clients=clients)
    shares = [plan.share(i) for i in range(clients)]
    assert sum(s.rate for s in shares) == rate
    assert all(s.clients == 1 and s.duration_s == 2.0 for s in shares)
    assert LoadPlan.from_json(shares[0].to_json()) == shares[0]


def test_a_source_gives_distinct_transactions_past_its_premade_ones() -> None:
    source = TxSource(size=100, premade=5)
    taken = source.take(3) + source.take(4) + source.take(10)
    assert len(taken) == 17 and len({tx_id(t) for t in taken}) == 17
    assert all(len(codec.decode(t, Tx).payload) == 100 for t in taken)
    other = TxSource(size=100, premade=5).take(5)
    assert not {tx_id(t) for t in other} & {tx_id(t) for t in taken}  # runs never collide


def test_acks_and_commits_match_in_either_order() -> None:
    matcher = Matcher()
    matcher.acks([(b"a", 1.0), (b"b", 1.0)])
    matcher.commits([b"a", b"other"], at=1.5)  # committed after its ack
    matcher.acks([(b"other", 1.2)])  # acked after its commit was seen
    assert sorted(matcher.latencies_ms) == [pytest.approx(300), pytest.approx(500)]
    assert matcher.waiting == 1  # b
    assert matcher.last_commit == 1.5


def test_unmatched_commits_are_forgotten_after_a_while() -> None:
    matcher = Matcher()
    matcher.commits([b"not ours"], at=1.0)
    matcher.commits([], at=2.0 + UNMATCHED_KEEP_S)
    matcher.acks([(b"not ours", 0.5)])
    assert matcher.latencies_ms == [] and matcher.waiting == 1


def test_backoff_doubles_while_the_node_takes_nothing_and_probes_with_what_it_took() -> None:
    backoff = Backoff()
    backoff.answered(taken=0, busy=5, now=100.0)
    assert backoff.until == 100.0 + BUSY_BACKOFF_S and backoff.room == MIN_PROBE
    backoff.answered(taken=0, busy=5, now=101.0)
    assert backoff.until == 101.0 + 2 * BUSY_BACKOFF_S
    for _ in range(20):
        backoff.answered(taken=0, busy=1, now=102.0)
    assert backoff.until == 102.0 + MAX_BACKOFF_S
    backoff.answered(taken=400, busy=1, now=103.0)  # draining: a short pause, a larger probe
    assert backoff.until == 103.0 + BUSY_BACKOFF_S and backoff.room == 800
    backoff.answered(taken=50, busy=0, now=104.0)
    assert backoff.pause == 0 and backoff.room >= MAX_TXS_PER_REQUEST


def test_only_the_busy_reason_is_busy() -> None:
    assert SubmitResult(None, BUSY).busy
    assert not SubmitResult(None, "mempool full").busy
    assert not SubmitResult(b"x" * 32, None).busy


class FakeNode:
    """Answers submits like a node whose mempool takes ``room`` transactions per request."""

    def __init__(self, room: int) -> None:
        self.room = room
        self.taken: list[bytes] = []

    async def submit_encoded(self, txs: list[bytes]) -> list[SubmitResult]:
        results = []
        for tx in txs:
            if len(results) < self.room:
                self.taken.append(tx)
                results.append(SubmitResult(tx_id(tx), None))
            else:
                results.append(SubmitResult(None, BUSY))
        return results


async def test_a_submitter_offers_its_share_and_retries_busy_ones_until_taken() -> None:
    plan = LoadPlan(A, rate=500, duration_s=0.2, drain_s=30, interval_s=0.01)
    node = FakeNode(room=3)
    acked: list[tuple[bytes, float]] = []
    tally = Tally()
    await _submitter(plan, 100, node, TxSource(100, 100), time.monotonic(), acked.extend, tally)  # type: ignore[arg-type]
    assert tally.offered == tally.acked == len(acked) == 100
    assert len({tx_id(tx) for tx in node.taken}) == 100  # each taken once, busy ones resent
    assert tally.busy > 0 and tally.gave_up == 0 and tally.refused == 0


class DyingNode(FakeNode):
    """Takes ``answers`` requests, then fails every one like a node killed under load."""

    address = "127.0.0.1:1"

    def __init__(self, answers: int) -> None:
        super().__init__(room=10_000)
        self.answers = answers

    async def submit_encoded(self, txs: list[bytes]) -> list[SubmitResult]:
        if self.answers == 0:
            raise ApiError("connection to 127.0.0.1:1 failed: reset")
        self.answers -= 1
        return await super().submit_encoded(txs)


async def test_a_submitter_whose_node_dies_counts_the_rest_unanswered_and_stops() -> None:
    plan = LoadPlan(A, rate=500, duration_s=0.2, drain_s=30, interval_s=0.01)
    node = DyingNode(answers=3)
    acked: list[tuple[bytes, float]] = []
    tally = Tally()
    await _submitter(plan, 100, node, TxSource(100, 100), time.monotonic(), acked.extend, tally)  # type: ignore[arg-type]
    assert tally.acked == len(node.taken) == len(acked) > 0
    assert tally.unanswered > 0 and tally.gone == [node.address]
    assert tally.acked + tally.unanswered == tally.offered


def test_an_encrypting_source_gives_ciphertexts_that_admission_would_take() -> None:
    from helpers.private import PUBLIC

    from sequencer_net import codec
    from sequencer_net.threshold import envelope
    from sequencer_net.types import Tx

    plan = LoadPlan(("127.0.0.1:1",), 10, 1.0, encrypt_key=PUBLIC.public_key.hex())
    assert plan.share(0).encrypt_key == plan.encrypt_key
    assert LoadPlan.from_json(plan.to_json()) == plan
    source = TxSource(size=50, premade=3, encrypt_key=plan.encrypt_key)
    for encoded in source.take(4):  # premade ones and one made on demand
        tx = codec.decode(encoded, Tx)
        assert isinstance(tx, Tx) and envelope.is_encrypted(tx.payload)
        assert envelope.payload_problem(PUBLIC, tx.namespace, tx.sender, tx.payload) is None
