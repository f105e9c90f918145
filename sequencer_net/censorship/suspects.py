"""Who is a suspected censor: the nodes' metrics documents side by side, and the majority rule.

One node's count alone may come from slow gossip; what decides is how many of the other nodes,
each judging the proposals it saw by its own mempool, counted omissions (:data:`RULE`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .metrics import COUNTS

RULE = (
    "A proposer is a suspected censor when more than half of the other reporting nodes each "
    "count at least one overdue omission against it: a proposal of its that left out, although "
    "the batch had room, a transaction the node had held for inclusion_deadline heights and "
    "since inclusion_grace_ms before the batch was built. A proposer's own view never counts for "
    "or against it (it never accuses itself, so counting it would only raise the bar). One "
    "node's count alone may come from slow gossip; a majority of independent observers does not."
)


@dataclass(frozen=True)
class NodeMetrics:
    """One node's censorship metrics and where they came from, or why there are none."""

    name: str
    source: str | None  # "live" or the file read
    metrics: dict[str, Any] | None
    problem: str | None = None

    def to_json(self) -> dict[str, Any]:
        if self.metrics is None:
            return {"source": None, "error": self.problem}
        return {"source": self.source, "censorship": self.metrics}


@dataclass(frozen=True)
class Report:
    """Every node's view side by side, and the verdict the majority rule gives."""

    nodes: list[NodeMetrics]

    @property
    def reporting(self) -> list[NodeMetrics]:
        return [node for node in self.nodes if node.metrics is not None]

    def proposers(self) -> list[str]:
        """Every proposer any node counted, in the order the nodes list them."""
        names: dict[str, None] = {}
        for node in self.reporting:
            assert node.metrics is not None
            names.update(dict.fromkeys(node.metrics["proposers"]))
        return list(names)

    def counts(self, node: NodeMetrics, proposer: str) -> dict[str, int]:
        assert node.metrics is not None
        seen = node.metrics["proposers"].get(proposer, {})
        return {key: seen.get(key, 0) for key in COUNTS}

    def observers(self, proposer: str) -> list[NodeMetrics]:
        """The reporting nodes other than ``proposer`` itself: the only views that count."""
        return [node for node in self.reporting if node.name != proposer]

    def omitting_seen_by(self, proposer: str) -> list[str]:
        return [
            node.name
            for node in self.observers(proposer)
            if self.counts(node, proposer)["overdue_omitted"] > 0
        ]

    def suspects(self) -> list[str]:
        """Proposers a strict majority of the other reporting nodes saw omit overdue
        transactions."""
        return [
            p
            for p in self.proposers()
            if 2 * len(self.omitting_seen_by(p)) > len(self.observers(p))
        ]

    def totals(self, node: NodeMetrics) -> dict[str, int]:
        return {key: sum(self.counts(node, p)[key] for p in self.proposers()) for key in COUNTS}

    def to_json(self) -> dict[str, Any]:
        suspects = self.suspects()
        return {
            "nodes": {node.name: node.to_json() for node in self.nodes},
            "reporting": [node.name for node in self.reporting],
            "proposers": {
                p: {
                    "seen_by": {node.name: self.counts(node, p) for node in self.reporting},
                    "observers": [node.name for node in self.observers(p)],
                    "omitting_seen_by": self.omitting_seen_by(p),
                    "suspect": p in suspects,
                }
                for p in self.proposers()
            },
            "totals": {node.name: self.totals(node) for node in self.reporting},
            "suspects": suspects,
            "rule": RULE,
        }

    def verdict(self) -> str:
        suspects = self.suspects()
        if not suspects:
            return (
                "suspected censors: none (no proposer seen omitting overdue transactions "
                "by a majority of the other reporting nodes)"
            )
        named = "; ".join(
            f"{p} ({len(self.omitting_seen_by(p))} of the {len(self.observers(p))} other "
            "reporting nodes saw it omit overdue transactions)"
            for p in suspects
        )
        return f"suspected censors: {named}"
