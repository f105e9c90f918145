"""NodeMetrics fed by hand-made output lists, as a node carries them out: each nil prevote gets
its reason, rebroadcast votes count once, steps and rounds are timed, and missing validators
are counted from the votes heard, a restarted node's first heights included."""

from __future__ import annotations

import dataclasses

import pytest
from helpers.metrics import P, Scrape, parse

from sequencer_net.crypto import PrivateKey
from sequencer_net.genesis import Genesis
from sequencer_net.messages import CommittedBatch
from sequencer_net.replica import (
    Committed,
    InclusionEnforced,
    Output,
    Rejected,
    Replica,
    RoundEntered,
    Send,
    StepTimeout,
)
from sequencer_net.replica.batches import build_batch
from sequencer_net.runtime.metrics import Links, NodeMetrics
from sequencer_net.store.memory import MemoryChainStore, MemorySignStateStore
from sequencer_net.types import Certificate, Step, VoteKind, sign_vote
from sequencer_net.validators import Validator

CHAIN = {"chain_id": "m"}
KEYS = [PrivateKey.from_label(f"n{i}") for i in range(1, 5)]
ME = KEYS[0]


@pytest.fixture
def replica() -> Replica:
    genesis = Genesis(
        "m", tuple(Validator(f"n{i + 1}", k.public_key, 10) for i, k in enumerate(KEYS))
    )
    return Replica(genesis, ME, MemoryChainStore(), MemorySignStateStore())


@pytest.fixture
def metrics() -> NodeMetrics:
    return NodeMetrics("m", ME.public_key, {k.public_key: f"n{i + 1}" for i, k in enumerate(KEYS)})


def vote(kind: VoteKind, height: int, round: int, key: PrivateKey = ME) -> Send:
    return Send(None, sign_vote(key, "m", kind, height, round, None))


def scraped(metrics: NodeMetrics, replica: Replica) -> Scrape:
    metrics.refresh(replica, Links(3, 3), 0)
    return parse(metrics.render().decode())


def commit(replica: Replica, height: int) -> Committed:
    batch = build_batch(replica.view(), 0, ME.public_key, 1_000 * height, (), ())
    batch = dataclasses.replace(batch, header=dataclasses.replace(batch.header, height=height))
    return Committed(CommittedBatch(batch, Certificate(height, 0, batch.id, ())))


def test_each_nil_prevote_gets_its_reason_once(metrics: NodeMetrics, replica: Replica) -> None:
    observe = metrics.observe
    observe([RoundEntered(1, 0)], 0, replica)
    metrics.timeout_elapsed(StepTimeout(Step.PROPOSE, 1, 0))
    observe([vote(VoteKind.PREVOTE, 1, 0)], 300, replica)  # no proposal in time
    observe([vote(VoteKind.PREVOTE, 1, 0)], 1_300, replica)  # the rebroadcast of it
    observe([RoundEntered(1, 1)], 2_000, replica)
    other = KEYS[1].public_key
    observe([InclusionEnforced(1, 1, other, 2), vote(VoteKind.PREVOTE, 1, 1)], 2_100, replica)
    observe([RoundEntered(1, 2)], 3_000, replica)
    rejected = Rejected(other, "invalid batch: bad digest")
    bad: list[Output] = [rejected, vote(VoteKind.PREVOTE, 1, 2)]
    observe(bad, 3_100, replica)
    observe([RoundEntered(1, 3)], 4_000, replica)
    observe([vote(VoteKind.PREVOTE, 1, 3)], 4_100, replica)  # a valid proposal, not our lock
    observe([vote(VoteKind.PREVOTE, 1, 3, KEYS[1])], 4_200, replica)  # a peer's: not ours
    found = scraped(metrics, replica)
    nil = f"{P}consensus_nil_prevotes_total"
    assert {r: found.value(nil, reason=r, **CHAIN) for r in found.labels(nil, "reason")} == {
        "timeout": 1,
        "inclusion": 1,
        "invalid": 1,
        "locked": 1,
    }
    step = f"{P}consensus_step_duration_seconds"
    assert found.value(f"{step}_count", step="propose", **CHAIN) == 4
    assert found.value(f"{step}_sum", step="propose", **CHAIN) == pytest.approx(0.6)
    assert found.value(f"{step}_count", step="prevote", **CHAIN) == 3  # round 3 still runs
    assert found.value(f"{P}consensus_round_duration_seconds_sum", **CHAIN) == pytest.approx(4.0)


def test_missing_validators_are_those_not_heard_by_the_next_commit(
    metrics: NodeMetrics, replica: Replica
) -> None:
    """A node restarted at height 1000: its first heights count like any other."""
    n2, n3 = KEYS[1].public_key, KEYS[2].public_key
    for height in (1001, 1002):
        metrics.observe([RoundEntered(height, 0)], 0, replica)
        metrics.observe([vote(VoteKind.PREVOTE, height, 0)], 10, replica)
        metrics.vote_heard(n2, height)
        if height == 1001:
            metrics.vote_heard(n3, height)  # n4 is never heard; n3 not at 1002
        metrics.observe([commit(replica, height)], 20, replica)
    found = scraped(metrics, replica)
    # Counted at the commit of 1002 for height 1001: only n4 was missing then.
    assert found.value(f"{P}consensus_missing_validators", **CHAIN) == 1
    assert found.value(f"{P}consensus_missing_validators_power", **CHAIN) == 10
    assert found.value(f"{P}consensus_height", **CHAIN) == 0  # refresh reads the store: empty
    assert found.value(f"{P}consensus_batch_size_txs_count", **CHAIN) == 2
    assert found.value(f"{P}consensus_batch_interval_seconds_sum", **CHAIN) == 1.0


def test_votes_far_from_the_chain_are_not_kept(metrics: NodeMetrics, replica: Replica) -> None:
    metrics.observe([RoundEntered(5, 0)], 0, replica)
    for far in (1, 2, 3, 7, 10**9):
        metrics.vote_heard(KEYS[1].public_key, far)
    assert metrics._heard == {}  # bounded: only the heights around the tip


def test_each_inclusion_delay_is_observed_once(metrics: NodeMetrics, replica: Replica) -> None:
    stats = replica.censorship  # one sample per chunk, whatever its transaction count
    stats.record_inclusion(1, 400, txs=50)
    stats.record_inclusion(2, 1_500, txs=7)
    metrics.observe([commit(replica, 1)], 0, replica)
    stats.record_inclusion(3, 2_500, txs=1_000)
    metrics.observe([commit(replica, 2)], 0, replica)
    metrics.observe([commit(replica, 3)], 0, replica)  # nothing new included
    found = scraped(metrics, replica)
    seconds = f"{P}censorship_inclusion_delay_seconds"
    assert found.value(f"{seconds}_count", **CHAIN) == 3
    assert found.value(f"{seconds}_sum", **CHAIN) == pytest.approx(4.4)
    assert found.value(f"{P}censorship_inclusion_delay_heights_sum", **CHAIN) == 6
