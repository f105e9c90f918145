"""Free TCP ports on loopback for a new cluster."""

from __future__ import annotations

import contextlib
import socket
from collections.abc import Mapping


def free_ports(count: int, host: str = "127.0.0.1") -> list[int]:
    """``count`` distinct ports the OS reports free now.

    Every socket stays bound until all ports are picked, so the OS cannot hand out one port
    twice. Another program may still take a port before the node binds it; the node then
    fails with "address in use" in its node.out, and `cluster init` into a new dir fixes it."""
    with contextlib.ExitStack() as stack:
        sockets = [stack.enter_context(socket.socket()) for _ in range(count)]
        for sock in sockets:
            sock.bind((host, 0))
        return [sock.getsockname()[1] for sock in sockets]


def in_use(addresses: Mapping[str, str]) -> dict[str, str]:
    """The ``addresses`` (by role) that cannot be bound now because another socket holds them.

    Binds as a listener would (SO_REUSEADDR), so a port left in TIME_WAIT does not count."""
    busy = {}
    for role, address in addresses.items():
        host, _, port = address.rpartition(":")
        with socket.socket() as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                sock.bind((host, int(port)))
            except OSError:
                busy[role] = address
    return busy
