"""What a node answers on its client API: status, submit, tx_status, batch, namespace_proof
and subscribe_commits. Each handler gets params its schema (in :mod:`..api_protocol`) already
checked; the framing, limits and error answers are :mod:`.rpc`'s."""

from __future__ import annotations

import contextlib
from collections import Counter
from collections.abc import AsyncIterator, Sequence
from typing import TYPE_CHECKING, Any

import structlog
import trio

from .. import codec
from ..api_protocol import (
    MAX_REQUEST_FRAME,
    BatchParams,
    NamespaceProofParams,
    SubmitBundleParams,
    SubmitParams,
    SubscribeParams,
    TxStatusParams,
)
from ..nsproof import build_proof
from ..replica import Rejected
from ..types import Bundle
from .clock import now_ms
from .rpc import Limits, Method, NoParams, Reply, RpcServer

log = structlog.get_logger()

if TYPE_CHECKING:
    from .node import Node

SUBSCRIBER_QUEUE = 1024

Event = dict[str, Any]


def _limits(node: Node) -> Limits:
    """The request size is the protocol's; the counts and the rate are node.toml's."""
    params = node.config.params
    return Limits(
        MAX_REQUEST_FRAME,
        max_connections=params.client_max_connections,
        connections_per_host=params.client_connections_per_host,
        requests_per_s=params.client_requests_per_s,
    )


class ClientApi:
    """The handlers over one node, and the commit subscribers they serve."""

    def __init__(self, node: Node) -> None:
        self._node = node
        # Each subscriber's queue, and whether it asked for the tx ids of every commit.
        self._subscribers: dict[trio.MemorySendChannel[Event], bool] = {}
        self.rpc = RpcServer(
            "client",
            {
                "status": Method(NoParams, self._status),
                "submit": Method(SubmitParams, self._submit),
                "submit_bundle": Method(SubmitBundleParams, self._submit_bundle),
                "tx_status": Method(TxStatusParams, self._tx_status),
                "batch": Method(BatchParams, self._batch),
                "namespace_proof": Method(NamespaceProofParams, self._namespace_proof),
                "subscribe_commits": Method(SubscribeParams, self._subscribe_commits),
            },
            _limits(node),
        )

    def publish(self, event: Event, tx_ids: Sequence[bytes]) -> None:
        """Hand a commit to every subscriber (with ``tx_ids`` to those that asked); a full
        queue loses it rather than slowing the node."""
        with_ids = {**event, "tx_ids": list(tx_ids)} if any(self._subscribers.values()) else event
        for subscriber, wants_ids in self._subscribers.items():
            with contextlib.suppress(trio.WouldBlock):
                subscriber.send_nowait(with_ids if wants_ids else event)

    async def _subscribe_commits(self, params: SubscribeParams) -> Reply:
        send, receive = trio.open_memory_channel[Event](SUBSCRIBER_QUEUE)
        self._subscribers[send] = params.tx_ids
        return Reply("ok", events=self._commit_events(send, receive))

    async def _commit_events(
        self, send: trio.MemorySendChannel[Event], receive: trio.MemoryReceiveChannel[Event]
    ) -> AsyncIterator[Event]:
        try:
            async for event in receive:
                yield event
        finally:
            self._subscribers.pop(send, None)

    async def _status(self, _: NoParams) -> dict[str, Any]:
        node, r = self._node, self._node.replica
        now = now_ms()
        return {
            "name": node.name,
            "chain_id": node.config.genesis.chain_id,
            "height": r.chain.last_height(),
            "round": r.round,
            "step": r.step.name.lower(),
            "proposer": r.validators.proposer_for_round(r.round).name,
            "peers": node.heard_names(now),
            "links": node.peers.connected(),
            "last_commit_age_ms": node.liveness.commit_age_ms(now),
            "mempool": len(r.lanes),
            "chunks_fetched": r.lanes.fetched,
            "heights_synced": r.catchup.synced,
            "signatures": sum(r.signatures),
            "fsyncs": r.signatures[0] + node.acked.writes,  # sign state, then acknowledgements
            "validators": [
                {
                    "name": v.name,
                    "power": v.power,
                    "jailed": v.jailed,
                    "slashed": r.slashes[v.public_key] > 0,
                    "evidence": r.slashes[v.public_key],
                }
                for v in r.validators.validators
            ],
            "dropped_frames": node.peers.dropped(),
            "bytes_sent": node.peers.bytes_sent,
            "refused_peers": node.peers.refused,
            "censorship": node.censorship_metrics(),
        }

    async def _submit(self, params: SubmitParams) -> list[tuple[bytes | None, str | None]]:
        """Take the transactions, then answer once they are on disk: an ack promises a
        transaction survives this node's crash. A refusal because the mempool is full says
        :data:`BUSY` (the replica's words), so the client retries rather than gives up.
        Refusals go to the client, not one log line each (a request of 20,000 bad
        transactions wrote 20,000 warnings, seconds of the event loop and megabytes of log):
        one debug line per request counts them by reason."""
        node = self._node
        results: list[tuple[bytes | None, str | None]] = []
        refused: Counter[str] = Counter()
        now = now_ms()
        for encoded in params.txs:
            txid, outputs = node.replica.submit(encoded, now)
            reason = next((o.reason for o in outputs if isinstance(o, Rejected)), None)
            node.carry_out([o for o in outputs if not (isinstance(o, Rejected) and o.peer is None)])
            if txid is not None:
                node.acked.add(((txid,), encoded))
            else:
                refused[(reason or "refused").split(":", 1)[0]] += 1  # no per-tx detail
            results.append((txid, None if txid is not None else reason or "refused"))
        if refused:
            log.debug("submit_refused", refused=sum(refused.values()), reasons=dict(refused))
        await node.acked.durable()
        return results

    async def _submit_bundle(self, params: SubmitBundleParams) -> list[bytes]:
        """Take an atomic bundle whole and answer once it is on disk (as one acknowledged
        record, so a restart re-admits it as a bundle), or refuse it whole."""
        node = self._node
        ids, outputs = node.replica.submit_bundle(params.txs, now_ms())
        reason = next((o.reason for o in outputs if isinstance(o, Rejected)), None)
        node.carry_out([o for o in outputs if not (isinstance(o, Rejected) and o.peer is None)])
        if ids is None:
            raise ValueError(reason or "refused")
        node.acked.add((ids, codec.encode(Bundle(tuple(params.txs)))))
        await node.acked.durable()
        return list(ids)

    async def _tx_status(self, params: TxStatusParams) -> dict[str, Any]:
        location = self._node.chain.tx_location(params.txid)
        if location is not None:
            decryption = self._node.replica.decryption.describe_tx(params.txid)
            return {
                "status": "committed",
                "height": location[0],
                "position": location[1],
                **decryption,
            }
        lanes = self._node.replica.lanes
        if params.txid in lanes:
            return {"status": "pending", "certified": lanes.is_certified(params.txid)}
        return {"status": "unknown"}

    async def _namespace_proof(self, params: NamespaceProofParams) -> dict[str, Any] | None:
        """The proof for a namespace at a committed height (None: not committed yet); the
        proof is the canonical encoding, checked by ``namespace verify`` with genesis alone."""
        node = self._node
        registry = node.replica.genesis.registry
        ns_id = registry.id_of(params.namespace)
        if ns_id is None:
            raise ValueError(registry.problem(params.namespace, 0))
        entry = node.chain.get(params.height)
        if entry is None:
            return None
        proof = build_proof(entry, params.namespace, ns_id, node.chain.slash_records())
        return {
            "height": params.height,
            "namespace": params.namespace,
            "present": bool(proof.groups),
            "proof": codec.encode(proof),
        }

    async def _batch(self, params: BatchParams) -> dict[str, Any] | None:
        entry = self._node.chain.get(params.height)
        if entry is None:
            return None
        header, cert = entry.batch.header, entry.certificate
        names = self._node.names
        answer = {
            "height": header.height,
            "batch_id": entry.batch.id,
            "parent_id": header.parent_id,
            "proposer": names.get(header.proposer),
            "built_round": header.round,
            "commit_round": cert.round,
            "timestamp_ms": header.timestamp_ms,
            "tx_count": len(entry.txs),
            "tx_ids": list(entry.tx_ids),
            "chunks": len(entry.chunks),
            "signers": [names.get(s.validator) for s in cert.signatures],
        }
        if params.with_txs:
            answer["txs"] = list(entry.txs)
        answer.update(self._node.replica.decryption.describe_height(params.height))
        return answer
