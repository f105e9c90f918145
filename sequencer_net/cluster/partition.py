"""`cluster partition "n1,n2|n3,n4"`: which peers each node must cut itself off from."""

from __future__ import annotations

from collections.abc import Sequence

from ..commands.errors import UsageError


def partition_cuts(text: str, names: Sequence[str]) -> dict[str, list[str]]:
    """Map every node named in ``text`` (groups separated by '|', names by ',') to the nodes of
    the other groups. Nodes not named are left out: they keep all their links."""
    groups = [[n.strip() for n in group.split(",")] for group in text.split("|")]
    if len(groups) < 2:
        raise UsageError(f"{text!r}: give at least two groups separated by '|', e.g. 'n1|n2,n3'")
    named: list[str] = [n for group in groups for n in group]
    if "" in named:
        raise UsageError(f"{text!r}: an empty node name or group")
    unknown = [n for n in named if n not in names]
    if unknown:
        raise UsageError(f"no node {unknown[0]!r} in this cluster; nodes: {', '.join(names)}")
    repeated = sorted({n for n in named if named.count(n) > 1})
    if repeated:
        raise UsageError(f"{text!r}: {', '.join(repeated)} named more than once")
    return {
        node: sorted(other for j, group in enumerate(groups) if j != i for other in group)
        for i, nodes in enumerate(groups)
        for node in nodes
    }
