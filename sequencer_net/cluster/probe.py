"""Ask running nodes for their status over the client API, never waiting long for any."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import trio

from ..client import Client

PROBE_TIMEOUT_S = 1.0


async def probe(address: str, timeout: float = PROBE_TIMEOUT_S) -> dict[str, Any] | None:
    """The node's status dict, or None when it does not answer properly within ``timeout``.

    A status display must show a hung, paused or half-started node as unknown, not fail,
    so any failure of the exchange counts as no answer."""
    with trio.move_on_after(timeout):
        try:
            async with await Client.connect(address) as client:
                answer = await client.status()
        except Exception:
            return None
        return answer if isinstance(answer, dict) else None
    return None


async def probe_all(
    addresses: Mapping[str, str], timeout: float = PROBE_TIMEOUT_S
) -> dict[str, dict[str, Any] | None]:
    """Probe every node at once, so the whole round takes at most ``timeout``."""
    answers: dict[str, dict[str, Any] | None] = dict.fromkeys(addresses)

    async def one(name: str, address: str) -> None:
        answers[name] = await probe(address, timeout)

    async with trio.open_nursery() as nursery:
        for name, address in addresses.items():
            nursery.start_soon(one, name, address)
    return answers
