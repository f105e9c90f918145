"""The fault budget: BFT tolerates faulty stake strictly below a third of the total."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from .spec import Fault


def unsafe_faults(stakes: Mapping[str, int], faults: Mapping[str, Sequence[Fault]]) -> str | None:
    """Why the faulty nodes (those with any fault) are too many, or None when they are not."""
    faulty = [name for name in stakes if faults.get(name)]
    power = sum(stakes[name] for name in faulty)
    total = sum(stakes.values())
    if 3 * power < total:
        return None
    named = ", ".join(f"{n} ({', '.join(str(f) for f in faults[n])})" for n in faulty)
    return (
        f"faulty nodes {named} hold {power} of {total} stake ({100 * power / total:.1f}%), "
        "at or above a third: BFT tolerates faulty stake strictly below 1/3, beyond it "
        "neither safety nor liveness is guaranteed"
    )
