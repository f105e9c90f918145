"""What a committed batch decides about the next height, as one pure function (and the
state a restart rebuilds from the chain store).

Every node (and the simulator's checker, which derives it independently of any node) computes
the same: the batch's evidence slashes and jails its offenders, and the rounds that failed at
the parent's height, as the batch's ``last_commit`` records them (the round every node agrees
on, not any node's own certificate), pass their proposers over for a while (leader reputation).
"""

from __future__ import annotations

from dataclasses import dataclass

from .. import reputation
from ..evidence import SlashRecord
from ..genesis import ChainParams, Genesis
from ..reputation import skipped_proposers
from ..store import ChainStore
from ..types import Batch
from ..validators import ValidatorSet

Failures = tuple[tuple[int, bytes], ...]  # (height, proposer) of failed rounds, oldest first


@dataclass(frozen=True)
class ChainState:
    """The chain as the next height sees it."""

    height: int  # the height being decided
    validators: ValidatorSet  # its set, reputation applied
    previous: ValidatorSet | None  # the set of the last committed height (None before height 1)
    failures: Failures  # the failure history reputation still reads


@dataclass(frozen=True)
class Advance:
    """A batch's consequences: the state after it and what the chain store records."""

    state: ChainState
    slashes: list[SlashRecord]
    failed: list[bytes]  # proposers of the failed rounds at the parent's height, by round
    successor: ValidatorSet  # the next set before reputation: what a snapshot stores


def genesis_state(genesis: Genesis) -> ChainState:
    return ChainState(1, genesis.validator_set, None, ())


def advance(state: ChainState, batch: Batch, params: ChainParams) -> Advance:
    """The state after ``batch`` commits at ``state.height``."""
    slashes, successor = _slash(state.validators, batch, params)
    failed = failed_proposers(state.previous, batch)
    height = state.height + 1
    failures = state.failures + tuple((state.height - 1, key) for key in failed)
    failures = prune(failures, height, params.reputation_window)
    validators = with_reputation(successor, failures, height, params.reputation_window)
    return Advance(
        ChainState(height, validators, state.validators, failures), slashes, failed, successor
    )


def failed_proposers(previous: ValidatorSet | None, batch: Batch) -> list[bytes]:
    """Proposers of the rounds that failed at the parent's height, by the batch's last_commit."""
    last_commit = batch.header.last_commit
    if last_commit is None or previous is None:
        return []
    return [previous.proposer_for_round(r).public_key for r in range(last_commit.round)]


def prune(failures: Failures, height: int, window: int) -> Failures:
    """Drop what no longer counts at ``height``; one height more than the memory is kept, as
    the set of the previous height is rebuilt from it on restart."""
    oldest = height - 1 - reputation.memory(window)
    return tuple(f for f in failures if f[0] >= oldest)


def with_reputation(
    validators: ValidatorSet, failures: Failures, height: int, window: int
) -> ValidatorSet:
    """``validators`` passing over proposers that failed recently."""
    skipped = skipped_proposers(validators, failures, height, window)
    return validators.skipping(skipped) if skipped else validators


def _slash(
    validators: ValidatorSet, batch: Batch, params: ChainParams
) -> tuple[list[SlashRecord], ValidatorSet]:
    if not batch.evidence:
        return [], validators.next_height()
    successor = validators.punish([e.offender for e in batch.evidence], params.slash_fraction_ppm)
    header = batch.header
    records = []
    for e in batch.evidence:
        punished = successor.get(e.offender)
        assert punished is not None  # punish() refuses keys outside the set
        records.append(
            SlashRecord(
                evidence=e,
                committed_height=header.height,
                timestamp_ms=header.timestamp_ms,
                stake_before=validators.power_of(e.offender),
                stake_after=punished.power,
                reporter=header.proposer,
            )
        )
    return records, successor


def restore(genesis: Genesis, chain: ChainStore) -> ChainState:
    """The state after the chain's last commit, from what the store kept (the latest stored
    set is advanced to the height, the failure history re-read)."""
    window = genesis.params.reputation_window
    last = chain.last_height()
    failures = tuple(chain.proposer_failures(last - reputation.memory(window)))
    # The last height's own set was decided before its batch recorded the failures of the
    # height below it (they come from that batch's last_commit), so it must not see them.
    decided_with = tuple(f for f in failures if f[0] < last - 1)
    previous = _stored_set(genesis, chain, last, decided_with) if last else None
    return ChainState(last + 1, _stored_set(genesis, chain, last + 1, failures), previous, failures)


def _stored_set(
    genesis: Genesis, chain: ChainStore, height: int, failures: Failures
) -> ValidatorSet:
    change = chain.validator_set_change(height)
    if change is None:
        validators, since = genesis.validator_set, 1
    else:
        validators, since = ValidatorSet.restore(change[1]), change[0]
    for _ in range(height - since):
        validators = validators.next_height()
    return with_reputation(validators, failures, height, genesis.params.reputation_window)
