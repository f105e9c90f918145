"""What a simulated run looks like: the cluster, its adversaries and what it must achieve."""

from __future__ import annotations

from dataclasses import dataclass, field

from ..consensus.config import Timeouts
from ..faults.spec import Delay, Drop, Fault, FaultSpecError, Mute, parse_fault
from ..latency import LinkLatency
from ..namespaces import Namespace
from ..node_params import NodeParams

SIM_TIMEOUTS = Timeouts(
    propose_ms=300,
    propose_delta_ms=100,
    prevote_ms=200,
    prevote_delta_ms=100,
    precommit_ms=200,
    precommit_delta_ms=100,
)
SCHEDULES = ("twins", "random")
SHARED_BATCH_TXS = 6  # with --shares: each namespace is owed 3 transactions of a batch
# What the fault layer does that the simulator runs as is; the others have no place in it
# (amnesia and crash restart or stop a process, garbage is the codec's business) or have
# their own simulator option (the sim's --crash).
SIMULATED_FAULTS = ("mute", "withhold", "equivocate", "censor", "delay", "drop", "leak-shares")
UNRELIABLE = (Delay, Drop)  # slow or lossy, but honest


@dataclass(frozen=True)
class Scenario:
    nodes: int = 4
    stakes: tuple[int, ...] = ()  # empty: every validator gets 10
    twins: int = 0  # validators run as two instances sharing one key (equivocators)
    mute: int = 0  # validators that only listen (and ask to catch up): no proposal or vote
    crash: int = 0  # honest validators that crash (losing memory) and restart before GST
    drop: float = 0.0  # probability a message is lost before GST
    duplicate: float = 0.0  # probability a message is delivered twice
    partitions: bool = False  # changing partitions before GST
    # (validator index, fault spec) pairs run through the real fault layer, e.g. (2, "withhold")
    faults: tuple[tuple[int, str], ...] = ()
    # "twins": with twins, also the adversarial round-by-round schedule of sim/twins.py before
    # GST; "random": only the partitions above.
    schedule: str = "twins"
    slashing: bool = True  # False: equivocators are never jailed (and keep equivocating)
    heights: int = 20  # every honest node must commit at least this many heights
    gst_ms: int = -1  # global stabilisation time; -1 picks a default from the adversaries
    min_delay_ms: int = 1
    max_delay_ms: int = 40  # after GST every message arrives within this bound
    pre_gst_max_delay_ms: int = 400
    liveness_heights: int = 5  # heights each honest node must commit after GST ...
    liveness_bound_ms: int = 60_000  # ... within this much virtual time
    tx_interval_ms: int = 50
    txs_per_interval: int = 4
    shares: bool = False  # register the two namespaces at half each, small batches (below)
    bundle_every: int = 3  # every this many intervals the txs go as one atomic bundle (0: never)
    max_txs: int = 2_000
    timeouts: Timeouts = field(default_factory=lambda: SIM_TIMEOUTS)
    # Deal a threshold key, encrypt every transaction and check the shares honest replicas
    # release (sim/privacy.py).
    private: bool = False
    # An emulated WAN (a cluster spec's [network], config/network.py): latency[i][j] is the
    # one-way latency from validator i to validator j, replacing min/max_delay_ms; jitter
    # comes from one generator per link, seeded by the run's seed and ``latency_seed``.
    latency: tuple[tuple[LinkLatency, ...], ...] = ()
    latency_seed: int = 0

    @property
    def namespaces(self) -> tuple[Namespace, ...]:
        """The genesis registry: none, or with ``shares`` the two the workload uses."""
        if not self.shares:
            return ()
        return (Namespace("rollup-a", 1, 0.5, 1_024), Namespace("rollup-b", 2, 0.5, 1_024))

    @property
    def node_params(self) -> NodeParams:
        """Batches of SHARED_BATCH_TXS with ``shares`` (the workload sends a few per 50 ms,
        so shares then bind), the defaults otherwise."""
        return NodeParams(max_batch_txs=SHARED_BATCH_TXS) if self.shares else NodeParams()

    def __post_init__(self) -> None:
        if self.nodes < 1:
            raise ValueError("a cluster needs at least one node")
        if self.stakes and len(self.stakes) != self.nodes:
            raise ValueError(f"--stake lists {len(self.stakes)} stakes for {self.nodes} nodes")
        if any(s <= 0 for s in self.stakes):
            raise ValueError("stakes must be positive integers")
        if min(self.twins, self.mute, self.crash) < 0:
            raise ValueError("--twins, --mute and --crash cannot be negative")
        if self.twins + self.mute + self.crash > self.nodes:
            raise ValueError("more twin, mute and crash roles than nodes")
        if not (0 <= self.drop < 1 and 0 <= self.duplicate < 1):
            raise ValueError("--drop and --duplicate are probabilities in [0, 1)")
        if self.schedule not in SCHEDULES:
            raise ValueError(f"--schedule must be one of {', '.join(SCHEDULES)}")
        if self.heights < 1:
            raise ValueError("--heights must be at least 1")
        if self.latency and (
            len(self.latency) != self.nodes or any(len(row) != self.nodes for row in self.latency)
        ):
            raise ValueError(f"the latency matrix must be {self.nodes} by {self.nodes}")
        self._check_faults()

    def _check_faults(self) -> None:
        roles = {i: "a twin" for i in range(self.twins)}
        roles.update({i: "mute" for i in range(self.twins, self.twins + self.mute)})
        roles.update({i: "a crashing one" for i in self.crashing})
        for idx, spec in self.faults:
            if not 0 <= idx < self.nodes:
                raise ValueError(f"no validator n{idx + 1}: the nodes are n1..n{self.nodes}")
            if idx in roles:
                raise ValueError(
                    f"--fault n{idx + 1}: it is already {roles[idx]} (the first --twins "
                    "validators are twins, then --mute, then --crash): give --fault another node"
                )
            try:
                behaviour = parse_fault(spec).behaviour
            except FaultSpecError as exc:
                raise ValueError(f"--fault n{idx + 1}: {exc}") from None
            if behaviour not in SIMULATED_FAULTS:
                raise ValueError(
                    f"--fault n{idx + 1}: the simulator cannot run the {behaviour!r} fault "
                    f"(it runs {', '.join(SIMULATED_FAULTS)}; for crashes use --crash)"
                )

    @property
    def stake_list(self) -> tuple[int, ...]:
        return self.stakes or (10,) * self.nodes

    @property
    def fault_map(self) -> dict[int, list[Fault]]:
        """Each validator's faults for its fault layer: the mute ones' Mute, then --fault."""
        faults: dict[int, list[Fault]] = {
            i: [Mute()] for i in range(self.twins, self.twins + self.mute)
        }
        for idx, spec in self.faults:
            faults.setdefault(idx, []).append(parse_fault(spec))
        return faults

    @property
    def byzantine(self) -> tuple[int, ...]:
        """Validator indices that misbehave: twins, mute ones and those with a fault that is
        more than slow or lossy."""
        faulty = {
            idx
            for idx, faults in self.fault_map.items()
            if any(not isinstance(f, UNRELIABLE) for f in faults)
        }
        return tuple(sorted(faulty | set(range(self.twins))))

    @property
    def crashing(self) -> range:
        start = self.twins + self.mute
        return range(start, start + self.crash)

    @property
    def adversarial_schedule(self) -> bool:
        return self.twins > 0 and self.schedule == "twins"

    @property
    def stabilisation_ms(self) -> int:
        if self.gst_ms >= 0:
            return self.gst_ms
        turbulent = self.partitions or self.drop > 0 or self.crash > 0 or self.twins > 0
        return 5_000 if turbulent else 0

    def byzantine_stake_is_safe(self) -> bool:
        """BFT needs byzantine stake strictly below a third of the total."""
        stakes = self.stake_list
        return 3 * sum(stakes[i] for i in self.byzantine) < sum(stakes)
