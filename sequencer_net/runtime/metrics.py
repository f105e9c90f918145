"""A node's Prometheus metrics: one registry per node, fed by the replica's outputs as the
node carries them out and refreshed from the node's state when scraped.

Names follow CometBFT's where they fit (``consensus_height``, ``consensus_rounds``,
``consensus_block_interval_seconds`` as ``consensus_batch_interval_seconds``, ``mempool_size``,
``p2p_peers``, ``consensus_missing_validators`` ...), prefixed ``sequencer_net_`` and labelled
with ``chain_id``. Every series, labelled ones included, exists from the start at zero, so an
alert on a missed vote or a slash works before the first one happens. The scrape runs in the
node's trio thread, like everything else that reads the replica, so no lock is needed.

Two series are this node's view rather than the chain's:

- *missing validators* of height h: active validators from whom this node heard no vote of
  height h by the time it committed h + 1 (so a late precommit still counts). Heights this
  node only synced (it ran no round of them) leave the value as it was.
- *nil prevotes by reason*: this node's own nil prevotes: ``timeout`` (no proposal in time),
  ``inclusion`` (the proposal left out a transaction overdue here), ``invalid`` (the batch
  failed validation), ``locked`` (a valid proposal that conflicts with this node's lock).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from itertools import islice
from typing import Any

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
    generate_latest,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from ..censorship import CensorshipStats
from ..messages import CommittedBatch
from ..percentiles import summary
from ..replica import (
    Committed,
    EvidenceFound,
    InclusionEnforced,
    Output,
    Rejected,
    Replica,
    RoundEntered,
    Send,
    Slashed,
    StepTimeout,
    TimerKey,
)
from ..types import Step, Vote, VoteKind

PREFIX = "sequencer_net"
STEPS = ("propose", "prevote", "precommit")
NIL_REASONS = ("timeout", "inclusion", "invalid", "locked")
PROPOSER_COUNTS = ("proposals", "failed_rounds", "overdue_omitted")
SECONDS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)
DELAY_SECONDS = (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300)
DELAY_HEIGHTS = (0, 1, 2, 3, 4, 5, 8, 10, 15, 20, 50, 100)
BATCH_TXS = (0, 1, 10, 100, 1_000, 10_000, 100_000)
BATCH_BYTES = (0, 1_024, 10_240, 102_400, 1_048_576, 4_194_304, 16_777_216)
INVALID_BATCH = "invalid batch"  # how the replica's Rejected output names a bad proposal


@dataclass(frozen=True)
class Links:
    """Peer connectivity as the node sees it at a scrape."""

    linked: int  # links up
    heard: int  # peers heard from lately (a partition shows here, not in ``linked``)


class NodeMetrics:
    """Every metric of one node. ``observe`` takes each list of outputs the node carries
    out, ``refresh`` reads the state-like values just before a scrape renders them."""

    def __init__(
        self,
        chain_id: str,
        me: bytes,
        names: Mapping[bytes, str],
        slashed: Iterable[tuple[bytes, int]] = (),
        namespaces: Mapping[int, str] | None = None,
    ) -> None:
        """``names``: every genesis validator by key; ``slashed``: (offender, stake before)
        of the slashes the chain already holds, so byzantine power survives a restart;
        ``namespaces``: the registered namespaces (id -> name), each with its own series."""
        disable_created_metrics()  # no *_created series: they double a scrape for nothing
        self.registry = CollectorRegistry()
        self._chain_id = chain_id
        self._me = me
        self._names = dict(names)
        self._proposers = _ProposerCounts(chain_id, self._names)
        self.registry.register(self._proposers)
        self._namespaces = _NamespaceFigures(chain_id, dict(namespaces or {}))
        self.registry.register(self._namespaces)
        self._build()
        self._round: tuple[int, int] | None = None  # (height, started_ms) of the round running
        self._step: tuple[str, int] | None = None  # (step, started_ms)
        self._own_votes: set[tuple[int, int, VoteKind]] = set()  # this height's, deduplicated
        self._timeout: StepTimeout | None = None  # the timer whose outputs are being observed
        self._last_batch: tuple[int, int] | None = None  # (height, header timestamp_ms)
        self._committed_height = 0
        self._heard: dict[int, set[bytes]] = {}  # votes heard per recent height
        self._ran: set[int] = set()  # recent heights this node ran a round of
        self._samples = 0  # inclusion delay samples already observed
        self._byzantine: dict[bytes, int] = {}
        for offender, stake_before in slashed:
            self._byzantine.setdefault(offender, stake_before)
        self._show_byzantine()

    def _build(self) -> None:
        c = self._chain_id
        registry = self.registry

        def labelled(kind: Any, name: str, doc: str, *labels: str, **kw: Any) -> Any:
            return kind(f"{PREFIX}_{name}", doc, ("chain_id", *labels), registry=registry, **kw)

        def one(kind: Any, name: str, doc: str, **kw: Any) -> Any:
            return labelled(kind, name, doc, **kw).labels(c)

        self.height = one(Gauge, "consensus_height", "Last committed height.")
        self.round = one(Gauge, "consensus_round", "Round of the height being decided.")
        self.rounds = one(Gauge, "consensus_rounds", "Round in which the last height committed.")
        self.failed_rounds = one(
            Counter, "consensus_failed_rounds", "Rounds that did not commit, over all heights."
        )
        self.round_duration = one(
            Histogram,
            "consensus_round_duration_seconds",
            "Time this node spent in a round.",
            buckets=SECONDS,
        )
        step_duration = labelled(
            Histogram,
            "consensus_step_duration_seconds",
            "Time this node spent in a step of a round.",
            "step",
            buckets=SECONDS,
        )
        self.step_duration = {s: step_duration.labels(c, s) for s in STEPS}
        self.batch_interval = one(
            Histogram,
            "consensus_batch_interval_seconds",
            "Time between consecutive batches, by their header timestamps.",
            buckets=SECONDS,
        )
        self.committed_txs = one(Counter, "consensus_committed_txs", "Transactions committed.")
        self.batch_txs = one(
            Histogram, "consensus_batch_size_txs", "Transactions per batch.", buckets=BATCH_TXS
        )
        self.batch_bytes = one(
            Histogram,
            "consensus_batch_size_bytes",
            "Bytes of transactions per batch.",
            buckets=BATCH_BYTES,
        )
        self.mempool_size = one(Gauge, "mempool_size", "Transactions in the mempool.")
        self.mempool_bytes = one(Gauge, "mempool_size_bytes", "Bytes in the mempool.")
        self.peers = one(Gauge, "p2p_peers", "Peer links up.")
        self.peers_heard = one(Gauge, "p2p_peers_heard", "Peers heard from lately.")
        self.validators = one(Gauge, "consensus_validators", "Active validators.")
        self.validators_power = one(
            Gauge, "consensus_validators_power", "Total power of the active validators."
        )
        power = labelled(Gauge, "consensus_validator_power", "Each validator's stake.", "validator")
        jailed = labelled(
            Gauge, "consensus_validator_jailed", "1 while a validator is jailed.", "validator"
        )
        skipped = labelled(
            Gauge,
            "reputation_proposer_skipped",
            "1 while leader reputation passes a validator over as proposer.",
            "validator",
        )
        self.validator_power = {n: power.labels(c, n) for n in self._names.values()}
        self.validator_jailed = {n: jailed.labels(c, n) for n in self._names.values()}
        self.proposer_skipped = {n: skipped.labels(c, n) for n in self._names.values()}
        self.skipped = one(
            Gauge, "reputation_skipped_proposers", "Proposers passed over by leader reputation."
        )
        self.missing = one(
            Gauge,
            "consensus_missing_validators",
            "Active validators this node heard no vote from at the last height it ran.",
        )
        self.missing_power = one(
            Gauge, "consensus_missing_validators_power", "Power of the missing validators."
        )
        self.byzantine = one(
            Gauge,
            "consensus_byzantine_validators",
            "Validators with committed evidence against them.",
        )
        self.byzantine_power = one(
            Gauge,
            "consensus_byzantine_validators_power",
            "Power the byzantine validators held before their first slash.",
        )
        self.evidence_found = one(
            Counter, "consensus_evidence_found", "Equivocations this node detected."
        )
        self.evidence_committed = one(
            Counter, "consensus_evidence_committed", "Evidence in committed batches."
        )
        self.slashes = one(Counter, "consensus_slashes", "Slashes applied by committed batches.")
        nil = labelled(
            Counter, "consensus_nil_prevotes", "This node's nil prevotes, by reason.", "reason"
        )
        self.nil_prevotes = {r: nil.labels(c, r) for r in NIL_REASONS}
        self.delay_seconds = one(
            Histogram,
            "censorship_inclusion_delay_seconds",
            "Time from first seeing a transaction to its commit.",
            buckets=DELAY_SECONDS,
        )
        self.delay_heights = one(
            Histogram,
            "censorship_inclusion_delay_heights",
            "Heights from first seeing a transaction to its commit.",
            buckets=DELAY_HEIGHTS,
        )
        self.commit_age = one(
            Gauge, "consensus_last_commit_age_seconds", "Seconds since this node last committed."
        )

    # ---- fed by the node -------------------------------------------------------------------

    def timeout_elapsed(self, key: TimerKey) -> None:
        """The next outputs observed are this timer's (a nil prevote then means timeout)."""
        self._timeout = key if isinstance(key, StepTimeout) else None

    def vote_heard(self, validator: bytes, height: int) -> None:
        """A vote ``validator`` sent over its own link: it is not missing at ``height``."""
        if self._committed_height <= height <= self._committed_height + 2:
            self._heard.setdefault(height, set()).add(validator)

    def observe(self, outputs: list[Output], now_ms: int, replica: Replica) -> None:
        inclusion = {(o.height, o.round) for o in outputs if isinstance(o, InclusionEnforced)}
        invalid = any(
            isinstance(o, Rejected) and o.reason.startswith(INVALID_BATCH) for o in outputs
        )
        for output in outputs:
            match output:
                case Send(_, Vote() as vote) if vote.validator == self._me:
                    self._own_vote(vote, now_ms, (vote.height, vote.round) in inclusion, invalid)
                case RoundEntered(height, round):
                    self._enter_round(height, round, now_ms)
                case Committed(entry):
                    self._committed(entry, now_ms, replica)
                case Slashed(record):
                    self.slashes.inc()
                    self._byzantine.setdefault(record.evidence.offender, record.stake_before)
                    self._show_byzantine()
                case EvidenceFound():
                    self.evidence_found.inc()
        self._timeout = None

    def refresh(self, replica: Replica, links: Links, commit_age_ms: int) -> None:
        """Read the state-like values: called right before a scrape is rendered."""
        self.height.set(replica.chain.last_height())
        self.round.set(replica.round)
        self.mempool_size.set(len(replica.lanes))
        self.mempool_bytes.set(replica.lanes.size_bytes)
        self.peers.set(links.linked)
        self.peers_heard.set(links.heard)
        validators = replica.validators
        self.validators.set(len(validators.active))
        self.validators_power.set(validators.total_power)
        for v in validators.validators:
            name = self._names.get(v.public_key)
            if name is not None:
                self.validator_power[name].set(v.power)
                self.validator_jailed[name].set(int(v.jailed))
        skipped = validators.skipped
        self.skipped.set(len(skipped))
        for key, name in self._names.items():
            self.proposer_skipped[name].set(int(key in skipped))
        self._proposers.stats = replica.censorship
        self._namespaces.stats = replica.censorship
        self._namespaces.pending = replica.lanes.pending_by_namespace()
        self.commit_age.set(commit_age_ms / 1000)

    def render(self) -> bytes:
        """The scrape, in Prometheus' text format."""
        return generate_latest(self.registry)

    # ---- what the outputs mean -------------------------------------------------------------

    def _own_vote(self, vote: Vote, now_ms: int, inclusion: bool, invalid: bool) -> None:
        key = (vote.height, vote.round, vote.kind)
        if key in self._own_votes:  # our own votes are rebroadcast every second
            return
        self._own_votes.add(key)
        self.vote_heard(vote.validator, vote.height)
        self._end_step(now_ms)
        if vote.kind is VoteKind.PREVOTE:
            self._step = ("prevote", now_ms)
            if vote.value is None:
                self.nil_prevotes[self._nil_reason(vote, inclusion, invalid)].inc()
        else:
            self._step = ("precommit", now_ms)

    def _nil_reason(self, vote: Vote, inclusion: bool, invalid: bool) -> str:
        timeout = self._timeout
        if timeout is not None and (timeout.step, timeout.height, timeout.round) == (
            Step.PROPOSE,
            vote.height,
            vote.round,
        ):
            return "timeout"
        if inclusion:
            return "inclusion"
        return "invalid" if invalid else "locked"

    def _end_step(self, now_ms: int) -> None:
        if self._step is not None:
            step, started = self._step
            self.step_duration[step].observe(max(0, now_ms - started) / 1000)
            self._step = None

    def _end_round(self, height: int, now_ms: int) -> None:
        if self._round is not None and self._round[0] == height:
            self.round_duration.observe(max(0, now_ms - self._round[1]) / 1000)
            self._end_step(now_ms)
        self._round = None

    def _enter_round(self, height: int, round: int, now_ms: int) -> None:
        # A restarted node's first round is above heights it never saw committed here.
        self._committed_height = max(self._committed_height, height - 1)
        self._end_round(height, now_ms)
        self._round = (height, now_ms)
        self._step = ("propose", now_ms)
        self._ran.add(height)
        self.round.set(round)

    def _committed(self, entry: CommittedBatch, now_ms: int, replica: Replica) -> None:
        batch, height = entry.batch, entry.height
        self._end_round(height, now_ms)
        self._step = None
        self._own_votes.clear()
        rounds = entry.certificate.round
        self.height.set(height)
        self.rounds.set(rounds)
        self.failed_rounds.inc(rounds)
        self.committed_txs.inc(len(entry.txs))
        self.batch_txs.observe(len(entry.txs))
        self.batch_bytes.observe(sum(len(tx) for tx in entry.txs))
        self.evidence_committed.inc(len(batch.evidence))
        stamp = batch.header.timestamp_ms
        if self._last_batch is not None and self._last_batch[0] == height - 1:
            self.batch_interval.observe(max(0, stamp - self._last_batch[1]) / 1000)
        self._last_batch = (height, stamp)
        self._observe_inclusion(replica.censorship)
        self._count_missing(height - 1, replica)
        self._committed_height = height
        for old in [h for h in self._heard if h < height - 1]:
            del self._heard[old]
        self._ran = {h for h in self._ran if h >= height}

    def _observe_inclusion(self, stats: CensorshipStats) -> None:
        new = stats.samples - self._samples
        if new < 0:  # a fresh replica (an amnesia restart) counts from zero again
            new = stats.samples
        self._samples = stats.samples
        for ms in islice(reversed(stats.delay_ms), new):  # the newest samples, O(new)
            self.delay_seconds.observe(ms / 1000)
        for heights in islice(reversed(stats.delay_heights), new):
            self.delay_heights.observe(heights)

    def _count_missing(self, height: int, replica: Replica) -> None:
        if height not in self._ran:
            return
        heard = self._heard.get(height, set())
        missing = [v for v in replica.validators.active if v.public_key not in heard]
        self.missing.set(len(missing))
        self.missing_power.set(sum(v.power for v in missing))

    def _show_byzantine(self) -> None:
        self.byzantine.set(len(self._byzantine))
        self.byzantine_power.set(sum(self._byzantine.values()))


class _ProposerCounts(Collector):
    """Per-proposer counts the replica keeps (censorship stats): proposals, failed rounds
    (from each batch's agreed last_commit) and proposals that left out an overdue
    transaction. Read at scrape time; every genesis validator has a series from the start."""

    def __init__(self, chain_id: str, names: Mapping[bytes, str]) -> None:
        self._chain_id = chain_id
        self._names = names
        self.stats: CensorshipStats | None = None

    def collect(self) -> Iterator[Metric]:
        proposers = self.stats.proposers if self.stats is not None else {}
        for count in PROPOSER_COUNTS:
            family = CounterMetricFamily(
                f"{PREFIX}_censorship_proposer_{count}",
                f"Per proposer: {count.replace('_', ' ')}, as this node counted them.",
                labels=("chain_id", "proposer"),
            )
            for key, name in sorted(self._names.items(), key=lambda kv: kv[1]):
                stats = proposers.get(key)
                family.add_metric([self._chain_id, name], getattr(stats, count) if stats else 0)
            yield family


class _NamespaceFigures(Collector):
    """Per registered namespace (fair shares): transactions included, proposals seen leaving
    out an overdue chunk of it, pending transactions held, and its inclusion delay p50/p99
    over the latest samples. Read at scrape time; every namespace has series from the start."""

    def __init__(self, chain_id: str, names: Mapping[int, str]) -> None:
        self._chain_id = chain_id
        self._names = sorted(names.items(), key=lambda kv: kv[1])
        self.stats: CensorshipStats | None = None
        self.pending: Mapping[int, int] = {}

    def collect(self) -> Iterator[Metric]:
        labels = ("chain_id", "namespace")
        included = CounterMetricFamily(
            f"{PREFIX}_namespace_included_txs",
            "Transactions included, per namespace.",
            labels=labels,
        )
        omitted = CounterMetricFamily(
            f"{PREFIX}_namespace_overdue_omitted",
            "Proposals that left out an overdue chunk of the namespace.",
            labels=labels,
        )
        pending = GaugeMetricFamily(
            f"{PREFIX}_namespace_pending_txs", "Pending transactions held.", labels=labels
        )
        delay = GaugeMetricFamily(
            f"{PREFIX}_namespace_inclusion_delay_seconds",
            "Inclusion delay over the latest samples, by quantile.",
            labels=(*labels, "quantile"),
        )
        stats = self.stats
        for ns_id, name in self._names:
            key = [self._chain_id, name]
            included.add_metric(key, stats.ns_included.get(ns_id, 0) if stats else 0)
            omitted.add_metric(key, stats.ns_omitted.get(ns_id, 0) if stats else 0)
            pending.add_metric(key, self.pending.get(ns_id, 0))
            figures = summary(stats.ns_delay_ms.get(ns_id, ()) if stats else ())
            for quantile, p in (("0.5", "p50"), ("0.99", "p99")):
                value = figures[p]
                delay.add_metric([*key, quantile], 0.0 if value is None else value / 1000)
        yield from (included, omitted, pending, delay)
