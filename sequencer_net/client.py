"""Async client for a node's client API (trio). Used by the CLI, the load generator and tests.

async with await Client.connect("127.0.0.1:26701") as client:
    txid = await client.submit(Tx("rollup-a", "alice", b"hello"))
    print(await client.tx_status(txid))
"""

from __future__ import annotations

import ipaddress
import itertools
import re
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

import trio

from .api_protocol import BUSY, MAX_ANSWER_FRAME, MAX_REQUEST_FRAME, ApiError, pack, unpack
from .net import FrameReader, NetError, send_frame
from .types import Tx

FANOUT_TIMEOUT_S = 5.0


_LABEL = re.compile(r"(?!-)[A-Za-z0-9-]{1,63}(?<!-)")


def parse_address(address: str) -> tuple[str, int]:
    """``(host, port)`` of ``HOST:PORT`` (an IPv6 host in brackets); ValueError, saying what
    is wrong, for anything else: no port or one outside 1..65535, no host, or a host that is
    neither an IP address nor a host name."""
    host, sep, port = address.rpartition(":")
    if not sep or not (port.isascii() and port.isdigit()) or not 1 <= int(port) <= 65535:
        raise ValueError(f"{address!r} is not HOST:PORT (a port 1..65535)")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
        if not _is_ip(host, 6):
            raise ValueError(f"{address!r}: {host!r} is not an IPv6 address")
    elif not (_is_ip(host, 4) or _is_hostname(host)):
        raise ValueError(f"{address!r} is not HOST:PORT (IPv6 hosts go in brackets: [::1]:PORT)")
    return host, int(port)


def _is_ip(host: str, version: int) -> bool:
    try:
        return ipaddress.ip_address(host).version == version
    except ValueError:
        return False


def _is_hostname(host: str) -> bool:
    labels = host.removesuffix(".").split(".")
    return 0 < len(host) <= 253 and all(_LABEL.fullmatch(label) for label in labels)


class SubmitResult(NamedTuple):
    """A node's answer for one submitted transaction: its id if taken, else why not."""

    txid: bytes | None
    error: str | None

    @property
    def busy(self) -> bool:
        """The node was full: nothing was kept, and the same transaction may be sent again."""
        return self.error == BUSY


class Client:
    """One connection; requests are answered in order (one outstanding request at a time)."""

    def __init__(self, stream: trio.SocketStream, address: str) -> None:
        self.address = address
        self._stream = stream
        self._reader = FrameReader(stream, MAX_ANSWER_FRAME)
        self._ids = itertools.count(1)
        self._lock = trio.Lock()

    @classmethod
    async def connect(cls, address: str) -> Client:
        host, port = parse_address(address)
        try:
            stream = await trio.open_tcp_stream(host, port)
        except OSError as exc:
            raise ApiError(f"cannot reach node at {address}: {exc.strerror or exc}") from None
        return cls(stream, address)

    async def __aenter__(self) -> Client:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._stream.aclose()

    async def call(self, method: str, **params: Any) -> Any:
        async with self._lock:
            request_id = next(self._ids)
            request = pack({"id": request_id, "method": method, "params": params})
            if len(request) > MAX_REQUEST_FRAME:
                raise ApiError(
                    f"a {method} request of {len(request)} bytes is over the node's limit of "
                    f"{MAX_REQUEST_FRAME} bytes; send it in parts"
                )
            try:
                await send_frame(self._stream, request)
                answer = unpack(await self._reader.receive())
            except (NetError, trio.BrokenResourceError, trio.ClosedResourceError) as exc:
                raise ApiError(f"connection to {self.address} failed: {exc}") from None
        if "error" in answer:
            raise ApiError(str(answer["error"]))
        return answer.get("result")

    async def status(self) -> dict[str, Any]:
        return await self.call("status")

    async def submit(self, tx: Tx) -> bytes:
        """Submit one transaction; returns its id."""
        [(txid, error)] = await self.submit_encoded([tx.encoded])
        if txid is None:
            raise ApiError(error or "refused")
        return txid

    async def submit_encrypted(self, tx: Tx, public_key: bytes) -> bytes:
        """Submit ``tx`` with its payload encrypted to the set's threshold ``public_key``
        (genesis's ``[private] public_key``; docs/private.md); returns the id of the
        encrypted transaction, the one that is ordered and committed."""
        from .threshold.envelope import seal

        sealed = seal(public_key, tx.namespace, tx.sender, tx.payload)
        return await self.submit(Tx(tx.namespace, tx.sender, sealed))

    async def submit_many(self, txs: Sequence[Tx]) -> list[SubmitResult]:
        """Submit many transactions in one request; per transaction, in order, its id or the
        reason it was refused (``result.busy``: retry it later)."""
        return await self.submit_encoded([tx.encoded for tx in txs])

    async def submit_encoded(self, txs: Sequence[bytes]) -> list[SubmitResult]:
        """Submit encoded transactions in one request; per transaction (id, error)."""
        results = await self.call("submit", txs=list(txs))
        if not isinstance(results, list) or len(results) != len(txs):
            raise ApiError(
                f"{self.address} answered a submit of {len(txs)} txs with {results!r:.80}"
            )
        return [SubmitResult(r[0], r[1]) for r in results]

    async def submit_bundle(self, txs: Sequence[Tx]) -> tuple[bytes, ...]:
        """Submit an atomic bundle: committed in one batch, contiguous and in this order, or
        not at all. Returns the ids once the node holds it on disk; ApiError saying why if it
        took none of it (a busy node says so: retry later)."""
        encoded = [tx.encoded for tx in txs]
        ids = await self.call("submit_bundle", txs=encoded)
        if not (
            isinstance(ids, list)
            and len(ids) == len(encoded)
            and all(isinstance(i, bytes) for i in ids)
        ):
            raise ApiError(f"{self.address} answered a bundle of {len(txs)} with {ids!r:.80}")
        return tuple(ids)

    async def tx_status(self, txid: bytes) -> dict[str, Any]:
        return await self.call("tx_status", txid=txid)

    async def batch(self, height: int) -> dict[str, Any]:
        return await self.call("batch", height=height)

    async def namespace_proof(self, namespace: str, height: int) -> dict[str, Any] | None:
        """The node's proof for ``namespace`` at ``height`` (None: not committed yet)."""
        answer: dict[str, Any] | None = await self.call(
            "namespace_proof", namespace=namespace, height=height
        )
        return answer

    async def commits(self) -> AsyncIterator[dict[str, Any]]:
        """Every commit from now on, as the node reports it (use a dedicated connection)."""
        events = await self.subscribe_commits()
        async for event in events:
            yield event

    async def subscribe_commits(self, tx_ids: bool = False) -> AsyncIterator[dict[str, Any]]:
        """Subscribe now (the node has answered when this returns); the iterator yields every
        commit from then on, with its ``tx_ids`` if asked. Use a dedicated connection."""
        await self.call("subscribe_commits", tx_ids=tx_ids)
        return self._events()

    async def _events(self) -> AsyncIterator[dict[str, Any]]:
        while True:
            try:
                event = unpack(await self._reader.receive())
            except NetError as exc:
                raise ApiError(f"commit stream from {self.address} ended: {exc}") from None
            yield event["event"]


@dataclass(frozen=True)
class FanoutResult:
    """One node's answer to a fanned-out submission: the tx id if it took it, else why not."""

    address: str
    txid: bytes | None
    error: str | None


async def submit_fanout(
    addresses: Sequence[str], encoded_tx: bytes, timeout: float = FANOUT_TIMEOUT_S
) -> list[FanoutResult]:
    """Submit one encoded transaction to every address at once, so no single (censoring or
    dead) node can keep it out of the public mempool. One result per address, in order; a
    node that fails or does not answer within ``timeout`` s gives an error, never an exception.
    """
    results: dict[int, FanoutResult] = {}

    async def one(index: int, address: str) -> None:
        txid: bytes | None = None
        error: str | None = f"no answer within {timeout:g} s"
        with trio.move_on_after(timeout):
            try:
                async with await Client.connect(address) as client:
                    [(txid, error)] = await client.submit_encoded([encoded_tx])
            except ApiError as exc:
                error = str(exc)
        results[index] = FanoutResult(address, txid, None if txid else error or "refused")

    async with trio.open_nursery() as nursery:
        for index, address in enumerate(addresses):
            nursery.start_soon(one, index, address)
    return [results[index] for index in range(len(addresses))]
