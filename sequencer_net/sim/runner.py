"""The deterministic simulator: N replicas' real node logic in one process, in virtual time.

Everything happens in one discrete-event loop over a heap ordered by (virtual time, sequence
number); virtual time is an integer of milliseconds that jumps to each event, and the replicas
are given it as their clock. There is no other source of randomness than ``random.Random(seed)``,
so a seed reproduces a run exactly. Messages cross the simulated wire encoded, exactly as on TCP.

Faulty validators run what users run: an honest replica behind the real fault layer
(sequencer_net.faults), which rewrites its sends; mute validators are those with the ``mute``
fault. Twins are not a fault of the layer but the Twins adversary (sim/twins.py): two instances
of one key, each an honest replica, whose equivocation comes from being two.
"""

from __future__ import annotations

import heapq
import logging
import random
import sys
from dataclasses import dataclass, field, replace

import structlog

from ..codec import DecodeError
from ..consensus import HeightMachine
from ..crypto import PrivateKey
from ..faults.layer import FaultLayer
from ..faults.spec import Fault, Mute
from ..genesis import ChainParams, Genesis
from ..messages import Message, decode_message, encode_message
from ..replica import (
    Committed,
    EvidenceFound,
    Output,
    Replica,
    RoundEntered,
    Send,
    SetTimer,
)
from ..store.memory import MemoryChainStore, MemorySignStateStore
from ..threshold.envelope import seal
from ..threshold.keys import KeyShare, deal
from ..threshold.wire import DecryptionShares
from ..types import Evidence, Tx, evidence_id
from ..validators import Validator
from .checker import Report, check_run
from .events import (
    Crash,
    Deliver,
    Event,
    Gst,
    Partition,
    Restart,
    Timer,
    Txs,
    instance_of,
    peer_id,
)
from .network import Network
from .privacy import PrivacyWatch
from .scenario import Scenario
from .twins import TwinsAdversary, height_round

PARTITION_MIN_MS, PARTITION_MAX_MS = 300, 1_500


@dataclass
class Instance:
    """One simulated process. Twins are two instances with the same validator index."""

    name: str
    validator: int
    # "honest" (perhaps slow or lossy), "twin", "mute" (silent, but it asks to catch up and
    # follows) or "byzantine" (another fault of the layer)
    role: str
    layer: FaultLayer | None = None  # the validator's faults, if it has any
    chain: MemoryChainStore = field(default_factory=MemoryChainStore)  # survives crashes
    sign_state: MemorySignStateStore = field(default_factory=MemorySignStateStore)
    replica: Replica | None = None  # None while crashed
    epoch: int = 0  # bumped on restart so timers set before a crash never fire after it
    evidence: dict[bytes, Evidence] = field(default_factory=dict)
    rounds_entered: int = 0

    @property
    def honest(self) -> bool:
        return self.role == "honest"

    @property
    def follows(self) -> bool:
        """Runs honest node logic and must hold the agreed chain (a mute one only listens)."""
        return self.role in ("honest", "mute")

    @property
    def lanes_problem(self) -> str | None:
        """Where its lanes' books disagree with what they hold (None while crashed)."""
        return self.replica.lanes.books_problem() if self.replica is not None else None


@dataclass(frozen=True)
class SimResult:
    seed: int
    report: Report
    virtual_ms: int
    messages_sent: int
    messages_dropped: int
    events: int

    @property
    def ok(self) -> bool:
        return not self.report.violations


class Simulation:
    def __init__(
        self,
        scenario: Scenario,
        seed: int,
        machine_factory: type[HeightMachine] = HeightMachine,
    ) -> None:
        self.scenario = scenario
        self.seed = seed
        self.rng = random.Random(seed)
        self.machine_factory = machine_factory
        keys = [PrivateKey.from_label(f"sim-validator-{i}") for i in range(scenario.nodes)]
        self.keys = keys
        self.genesis = Genesis(
            chain_id=f"sim-{seed}",
            validators=tuple(
                Validator(f"n{i + 1}", keys[i].public_key, stake)
                for i, stake in enumerate(scenario.stake_list)
            ),
            timeouts=scenario.timeouts,
            params=ChainParams(slashing=scenario.slashing),
            namespaces=scenario.namespaces,
        )
        self.privacy = PrivacyWatch() if scenario.private else None
        self._shares: list[KeyShare | None] = [None] * scenario.nodes
        if scenario.private:
            public, shares = deal([k.public_key for k in keys], list(scenario.stake_list))
            self.genesis = replace(self.genesis, private=public)
            self._shares = list(shares)
        self.instances = self._make_instances()
        self.network = Network(scenario, self.rng, len(self.instances), seed)
        self.adversary = (
            TwinsAdversary(
                self.rng,
                scenario.nodes,
                scenario.twins,
                [i for i, inst in enumerate(self.instances) if inst.honest],
                [k.public_key for k in keys],
                self._progress,
            )
            if scenario.adversarial_schedule
            else None
        )
        self._heap: list[tuple[int, int, Event]] = []
        self._seq = 0
        self._txs_sent = 0
        self._intervals = 0
        self.bundles: list[tuple[bytes, ...]] = []  # ids of every bundle an honest node took
        self._height_at_gst: dict[int, int] = {}
        self.events = 0
        self._time_ms = 0  # virtual time

    def _make_instances(self) -> list[Instance]:
        s = self.scenario
        faults = s.fault_map
        byzantine = set(s.byzantine)
        instances = []
        for i in range(s.nodes):
            role = "twin" if i < s.twins else "honest"
            if i in byzantine and i >= s.twins:
                role = "mute" if any(isinstance(f, Mute) for f in faults[i]) else "byzantine"
            instances.append(Instance(f"n{i + 1}", i, role))
        instances += [Instance(f"n{i + 1}'", i, "twin") for i in range(s.twins)]
        for i, validator_faults in faults.items():
            instances[i].layer = self._fault_layer(instances, i, validator_faults)
        return instances

    def _fault_layer(self, instances: list[Instance], idx: int, faults: list[Fault]) -> FaultLayer:
        """The real fault layer, knowing the other instances by the peer ids the replicas use.
        Its log lines (``equivocated`` ...) would interleave with the command's output, so
        it only logs errors, to stderr."""
        peers = {peer_id(j): inst.name for j, inst in enumerate(instances) if j != idx}
        logger = structlog.wrap_logger(
            structlog.PrintLogger(sys.stderr),
            wrapper_class=structlog.make_filtering_bound_logger(logging.ERROR),
        )
        layer = FaultLayer(
            self.keys[idx],
            self.genesis.chain_id,
            peers,
            instances[idx].name,
            faults,
            seed=f"{self.seed}/",
            logger=logger,
        )
        layer.threshold_share = self._shares[idx]  # what `leak-shares` leaks (private runs)
        return layer

    # ---- the event loop --------------------------------------------------------------------

    def run(self) -> SimResult:
        s = self.scenario
        gst = self.network.gst
        deadline = gst + s.liveness_bound_ms
        for idx in range(len(self.instances)):
            self._start(idx, 0)
        self._plan_adversaries(gst)
        self._at(0, Txs())
        self._at(gst, Gst())
        while self._heap:
            time, _, event = heapq.heappop(self._heap)
            if time > deadline:
                break
            self._time_ms = time
            self.events += 1
            self._handle(event)
            if time >= gst and self._done():
                break
        report = check_run(self.genesis, self.instances, s, self._height_at_gst, self.bundles)
        if self.privacy is not None:
            live = [(i.name, i.replica) for i in self.instances if i.honest and i.replica]
            self.privacy.check_verdicts(live)
            report.violations.extend(self.privacy.violations)
        return SimResult(
            self.seed,
            report,
            self._now(),
            self.network.sent,
            self.network.dropped,
            self.events,
        )

    def _now(self) -> int:
        return self._time_ms

    def _at(self, time_ms: int, event: Event) -> None:
        self._seq += 1
        heapq.heappush(self._heap, (time_ms, self._seq, event))

    def _handle(self, event: Event) -> None:
        now = self._now()
        match event:
            case Deliver(dst, src, data):
                replica = self.instances[dst].replica
                if replica is not None:
                    try:
                        message = decode_message(data)
                    except DecodeError:
                        return
                    self._carry_out(dst, replica.receive(peer_id(src), message, now))
            case Timer(idx, epoch, key):
                instance = self.instances[idx]
                if instance.replica is not None and instance.epoch == epoch:
                    self._carry_out(idx, instance.replica.on_timer(key, now))
            case Crash(idx):
                self.instances[idx].replica = None
            case Restart(idx):
                self.instances[idx].epoch += 1
                self._start(idx, now)
            case Partition(groups):
                self.network.partition(groups)
            case Gst():
                self.network.heal()
                for idx, instance in enumerate(self.instances):
                    self._height_at_gst[idx] = instance.chain.last_height()
            case Txs():
                self._submit_txs(now)

    def _start(self, idx: int, now: int) -> None:
        instance = self.instances[idx]
        instance.replica = Replica(
            self.genesis,
            self.keys[instance.validator],
            instance.chain,
            instance.sign_state,
            self.scenario.node_params,
            machine_factory=self.machine_factory,
            threshold_share=self._shares[instance.validator],
        )
        if instance.layer is not None:
            instance.replica.omit = instance.layer.omit
        self._carry_out(idx, instance.replica.start(now))

    def _carry_out(self, idx: int, outputs: list[Output]) -> None:
        instance = self.instances[idx]
        now = self._now()
        for output in outputs:
            match output:
                case Send():
                    if (
                        self.privacy is not None
                        and instance.honest
                        and isinstance(output.message, DecryptionShares)
                    ):
                        self.privacy.on_send(instance.name, instance.chain, output.message)
                    layer = instance.layer
                    sends = [output] if layer is None else layer.outgoing(output)
                    extra_ms = 0 if layer is None else layer.delay_ms
                    for send in sends:
                        self._send(idx, send, now, extra_ms)
                case SetTimer(key, delay_ms):
                    self._at(now + delay_ms, Timer(idx, instance.epoch, key))
                case EvidenceFound(evidence):
                    instance.evidence[evidence_id(evidence)] = evidence
                case RoundEntered():
                    instance.rounds_entered += 1
                case Committed():
                    pass  # the chain store is the record; the checker reads it

    def _send(self, idx: int, send: Send, now: int, extra_ms: int) -> None:
        """Put one send on the wire: to one instance, or to every other one for None."""
        data = encode_message(send.message)
        to = send.to
        targets = range(len(self.instances)) if to is None else (instance_of(to),)
        for dst in targets:
            if dst != idx:
                scheduled = self._scheduled(idx, dst, send.message, now)
                for delay in self.network.delivery_delays(idx, dst, now, scheduled):
                    self._at(now + extra_ms + delay, Deliver(dst, idx, data))

    # ---- adversaries -----------------------------------------------------------------------

    def _scheduled(self, src: int, dst: int, message: Message, now: int) -> bool | None:
        """The adversarial schedule's word on one message, before GST only."""
        if self.adversary is None or now >= self.network.gst:
            return None
        replica = self.instances[src].replica
        where = height_round(message)
        validators = None  # the sender's set (its proposer schedule) at the message's height
        if replica is not None and where is not None and where[0] == replica.height:
            validators = replica.validators
        return self.adversary.verdict(src, dst, message, validators)

    def _progress(self, idx: int) -> tuple[int, int] | None:
        replica = self.instances[idx].replica
        return (replica.height, replica.round) if replica is not None else None

    def _plan_adversaries(self, gst: int) -> None:
        s = self.scenario
        if s.partitions and gst > 0:
            twins = [(i, s.nodes + i) for i in range(s.twins)]
            t = 0
            while t < gst:
                connected = self.rng.random() < 0.25
                groups = (
                    [0] * len(self.instances) if connected else self.network.random_partition(twins)
                )
                self._at(t, Partition(groups))
                t += self.rng.randint(PARTITION_MIN_MS, PARTITION_MAX_MS)
        elif s.twins:
            # Twins without changing partitions: split once so each twin has an audience.
            groups = self.network.random_partition([(i, s.nodes + i) for i in range(s.twins)])
            self._at(0, Partition(groups))
        for idx in s.crashing:
            crash_at = self.rng.randint(0, max(gst - 1, 0))
            restart_at = min(crash_at + self.rng.randint(200, 3_000), max(gst, crash_at + 200))
            self._at(crash_at, Crash(idx))
            self._at(restart_at, Restart(idx))

    def _submit_txs(self, now: int) -> None:
        s = self.scenario
        live = [i for i, inst in enumerate(self.instances) if inst.honest and inst.replica]
        if self.privacy is not None:  # a leaker needs clients of its own to leak their shares
            live += [i for i, inst in enumerate(self.instances) if inst.layer and inst.replica]
        if live and self._txs_sent < s.max_txs:
            idx = self.rng.choice(live)
            replica = self.instances[idx].replica
            assert replica is not None
            self._intervals += 1
            txs = []
            for _ in range(s.txs_per_interval):
                self._txs_sent += 1
                n = self._txs_sent
                namespace = "rollup-a" if n % 2 else "rollup-b"
                tx = Tx(namespace, f"user{n % 16}", n.to_bytes(8, "big"))
                if self.privacy is not None:
                    tx = self._encrypted(tx)
                txs.append(tx.encoded)
            if s.bundle_every and self._intervals % s.bundle_every == 0:
                ids, outputs = replica.submit_bundle(txs, now)
                if ids is not None:
                    self.bundles.append(ids)
                self._carry_out(idx, outputs)
            else:
                for encoded in txs:
                    _, outputs = replica.submit(encoded, now)
                    self._carry_out(idx, outputs)
        if self._txs_sent < s.max_txs:
            self._at(now + s.tx_interval_ms, Txs())

    def _encrypted(self, tx: Tx) -> Tx:
        assert self.privacy is not None and self.genesis.private is not None
        key = self.genesis.private.public_key
        sealed = Tx(tx.namespace, tx.sender, seal(key, tx.namespace, tx.sender, tx.payload))
        self.privacy.sent[sealed.id] = tx.payload
        return sealed

    def _done(self) -> bool:
        """Every honest (and mute) instance reached the target height and committed enough
        after GST."""
        s = self.scenario
        for idx, instance in enumerate(self.instances):
            if not instance.follows:
                continue
            height = instance.chain.last_height()
            if height < s.heights or height < self._height_at_gst.get(idx, 0) + s.liveness_heights:
                return False
        return True


def simulate(
    scenario: Scenario, seed: int, machine_factory: type[HeightMachine] = HeightMachine
) -> SimResult:
    return Simulation(scenario, seed, machine_factory).run()
