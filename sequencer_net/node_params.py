"""NodeParams: one node's own limits and pacing, read from node.toml or a cluster spec.

A leaf module (like ``ChainParams`` in ``genesis``), so both the replica that obeys these
values and the config package that loads, checks and writes them can import it: the replica
must not import ``config``, which imports ``faults``, which imports the replica.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class NodeParams:
    """Node-local limits and pacing (not part of consensus)."""

    max_batch_txs: int = 50_000
    max_batch_bytes: int = 8 * 1024 * 1024
    max_batch_chunks: int = 512
    mempool_max_txs: int = 200_000
    mempool_max_bytes: int = 128 * 1024 * 1024
    rebroadcast_ms: int = 1_000
    sync_delay_ms: int = 300
    chunk_interval_ms: int = 5  # longest a client transaction waits for its lane's chunk
    chunk_max_txs: int = 1_024
    # Under load a lane waits, up to this much longer, for its previous chunk's certificate
    # (or for one of its two uncommitted chunks to commit) before it seals the next: chunks
    # grow with the load instead of multiplying, and so do the acks and certificate checks
    # every peer pays for each chunk.
    chunk_max_wait_ms: int = 50
    fetch_retry_ms: int = 200
    # With nothing to order, a height waits this long before committing an empty batch
    # (CometBFT's create_empty_blocks_interval), so an idle cluster costs almost nothing.
    empty_batch_interval_ms: int = 1_000
    max_buffered_messages: int = 10_000
    # Ids of the latest committed transactions the chain store answers from memory (a dict
    # lookup, ~250 bytes each; up to about 2.5x this many while a bulk move to the persistent
    # index is in flight); older ones are looked up in that index.
    recent_tx_ids: int = 100_000
    # The client port's bounds, so one client cannot starve the others on a public port: the
    # connections held at once (the longest idle one is evicted for a new one), those from
    # one remote address (loopback exempt), and the requests a second on one connection.
    client_max_connections: int = 64
    client_connections_per_host: int = 16
    client_requests_per_s: int = 200
