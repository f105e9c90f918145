"""The load report: what was offered and acknowledged, what committed, how fast, and what the
load generator itself cost (so a reader can see whether it was the limit)."""

from __future__ import annotations

from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class LoadReport:
    submitted: int  # distinct transactions offered (sent at least once)
    refused: int  # refused for good; busy answers are retried and counted in `busy`
    committed: int  # acknowledged transactions seen committed
    duration_s: float  # first send to the end of the drain
    committed_tps: float  # committed / (first send to the last matched commit)
    latency_p50_ms: float | None  # first send to commit, as this client saw it
    latency_p99_ms: float | None
    heights: int
    rate: int = 0  # the rate asked for
    offered_tps: float = 0.0  # the rate really offered: submitted / time spent offering
    acked: int = 0
    busy: int = 0  # "busy, retry" answers
    gave_up: int = 0  # still busy when the drain ended: never acknowledged, never lost
    unanswered: int = 0  # sent to (or held for) a node that stopped answering: no verdict
    gone: tuple[str, ...] = ()  # the nodes that stopped answering during the run
    uncommitted: int = 0  # acknowledged but not seen committed by the end of the drain
    requests: int = 0
    clients: int = 1
    submitters_per_node: int = 1
    client_cpu_s: float = 0.0  # user + system CPU of every load process, while offering

    def to_json(self) -> dict[str, object]:
        return asdict(self)
