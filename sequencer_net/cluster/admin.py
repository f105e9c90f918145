"""Talk to the nodes' admin APIs (fault injection, partitions) of a cluster dir.

Each node.toml names its admin address and its own admin token file; the calls carry
the token, and the node refuses any call without it (see ``runtime/admin.py``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import trio

from ..api_protocol import ApiError
from ..client import Client
from ..config import load_node_config
from .control import Cluster
from .errors import ClusterError

ADMIN_TIMEOUT_S = 3.0


@dataclass(frozen=True)
class AdminTarget:
    name: str
    address: str
    token: str


def admin_targets(cluster: Cluster) -> dict[str, AdminTarget]:
    """Every node's admin endpoint, from its node.toml; in a host's bundle (`cluster init
    --hosts`), which holds only that host's nodes, those nodes' alone."""
    targets = {}
    here = [n for n in cluster.names if cluster.layout.node_config(n).is_file()]
    for name in here or cluster.names:  # none at all: the error names the first missing
        config = load_node_config(cluster.layout.node_config(name))
        if config.admin_address is None or config.admin_token is None:
            raise ClusterError(
                f"{config.path} has no admin_address: this cluster dir predates fault "
                "injection; create a new one with `sequencer-net cluster init`"
            )
        targets[name] = AdminTarget(name, config.admin_address, config.admin_token)
    return targets


async def admin_call(target: AdminTarget, method: str, **params: Any) -> Any:
    """One admin request; raises ApiError when the node refuses it or cannot be reached."""
    with trio.move_on_after(ADMIN_TIMEOUT_S):
        async with await Client.connect(target.address) as client:
            return await client.call(method, token=target.token, **params)
    raise ApiError(f"{target.name} did not answer within {ADMIN_TIMEOUT_S:g} s")


def call_each(
    targets: Mapping[str, AdminTarget], calls: Mapping[str, tuple[str, dict[str, Any]]]
) -> dict[str, Any | ApiError]:
    """Send ``calls[name] = (method, params)`` to every named node at once (blocking); each
    node's answer, or the ApiError that stands for its failure."""
    answers: dict[str, Any | ApiError] = {}

    async def one(name: str, method: str, params: dict[str, Any]) -> None:
        try:
            answers[name] = await admin_call(targets[name], method, **params)
        except ApiError as exc:
            answers[name] = exc

    async def every() -> None:
        async with trio.open_nursery() as nursery:
            for name, (method, params) in calls.items():
                nursery.start_soon(one, name, method, params)

    trio.run(every)
    return {name: answers[name] for name in calls}
