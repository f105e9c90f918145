"""Percentiles of measured samples, one definition for every report that shows them: the
node's inclusion delays, the load generator's commit latency and the demo scripts."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

KEYS = ("p50", "p99", "max")


def percentile(ordered: Sequence[float], q: float) -> float | None:
    """The sample at rank ``round(q * (n - 1))`` of the sorted samples, rounded to 0.1 (a
    whole number stays one); None when there are none."""
    if not ordered:
        return None
    index = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return round(ordered[index], 1)


def summary(values: Iterable[float]) -> dict[str, float | None]:
    """p50, p99 and max of ``values``, each None when there are no values."""
    ordered = sorted(values)
    return {
        "p50": percentile(ordered, 0.5),
        "p99": percentile(ordered, 0.99),
        "max": percentile(ordered, 1.0),
    }
