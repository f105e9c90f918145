"""Dissemination, apart from ordering: this node's lane and the chunks it holds for the others.

Client transactions wait in the lane's buffer for ``chunk_interval_ms`` (or until a chunk is
full), then leave as one chunk to every peer; while this node's previous chunk is still short
of a certificate the buffer waits for it, up to ``chunk_max_wait_ms`` more, so under load chunks
grow instead of multiplying (a chunk costs every peer a signature check and an ack whatever
its size). A peer checks the chunk once (author,
bounds, every transaction decodes), stores it and acks its digest to the author; the author
turns acks from more than a third of the stake into a certificate and sends it to everyone.
Consensus orders certificates (see :mod:`.batches`); a node that must commit a chunk it lacks
asks the others for it (:meth:`Lanes.missing`, :meth:`Lanes.on_response`).

Everything held is bounded: the pending transactions by the node's mempool limits, each
author's uncommitted chunks by an equal share of them, committed chunks by a window of heights
kept to serve peers that fetch.
"""

from __future__ import annotations

from collections import OrderedDict, deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from ..chunks import certificate_problem, certify, sign_ack
from ..crypto import PrivateKey
from ..messages import MAX_CHUNKS_PER_FETCH, ChunkRequest, ChunkResponse, SignedChunk, sign_chunk
from ..namespaces import Registry, chunk_table, reservations, within_shares
from ..node_params import NodeParams
from ..types import (
    MAX_BUNDLE_BYTES,
    MAX_CHUNK_BYTES,
    Chunk,
    ChunkAck,
    ChunkCertificate,
    CommitSig,
    NamespaceEntry,
    table_root,
    tx_namespace,
)
from ..validators import ValidatorSet
from .outputs import CHUNK, Output, PeerId, Rejected, Send, SetTimer

SERVE_HEIGHTS = 64  # committed chunks kept this many heights for peers that fetch them
REMEMBER_COMMITTED = 4_096  # committed digests remembered, so an old certificate is refused
OWN_IN_FLIGHT = 2  # own flushes not yet committed before the buffer waits (chunk_max_wait_ms)
DUMP_OWN_CHUNKS = 32  # own uncommitted chunks a dump lists, oldest first
RESEND_BACKOFF_MAX = 4  # an uncertified chunk goes out again at most every 4 rebroadcasts


@dataclass(frozen=True)
class HeldCertificate:
    """A certified chunk not yet committed, and when this node learnt of it (the forced
    inclusion deadline counts from here)."""

    cert: ChunkCertificate
    first_seen_height: int
    seen_ms: int


class Lanes:
    def __init__(
        self,
        key: PrivateKey,
        chain_id: str,
        params: NodeParams,
        outputs: list[Output],
        registry: Registry | None = None,
        clock: Callable[[], int] = lambda: 0,
    ) -> None:
        self._key = key
        self._clock = clock  # the time of the input being handled, for the ages a dump shows
        self._chain_id = chain_id
        self._params = params
        self._outputs = outputs
        self.registry = registry or Registry()
        # Fair shares of the pool (pending transactions held) and of a batch, per namespace id.
        self._pool_shares = reservations(self.registry, params.mempool_max_txs)
        self.batch_shares = reservations(self.registry, params.max_batch_txs)
        self._ns_pending: dict[int, int] = {}  # pending transactions held per namespace id
        self._chunk_txs = min(params.chunk_max_txs, params.max_batch_txs)  # a chunk fits a batch
        self._buffer: dict[bytes, bytes] = {}  # id -> encoded, in arrival order
        self._buffer_ns: dict[bytes, int] = {}  # id -> namespace id, as admission found it
        # Namespace tables (and roots) of uncommitted chunks held: computed once per chunk.
        self._tables: dict[bytes, tuple[tuple[NamespaceEntry, ...], bytes]] = {}
        self._buffer_bytes = 0
        self._seq = 0
        # Our chunks not yet committed -> the flush that sealed them (one flush seals one chunk
        # per namespace with a registry: pacing counts flushes, not chunks).
        self._own: dict[bytes, int] = {}
        self._flushes = 0
        self._waited_ms = 0  # how long the buffer has waited past the interval for a certificate
        self.chunks: dict[bytes, Chunk] = {}  # held: uncommitted, then SERVE_HEIGHTS more
        self.certified: OrderedDict[bytes, HeldCertificate] = OrderedDict()  # uncommitted
        self._acks: dict[bytes, dict[bytes, bytes]] = {}  # own chunks: validator -> signature
        self._unacked: dict[bytes, SignedChunk] = {}  # own chunks short of a certificate
        self._sealed_ms: dict[bytes, int] = {}  # own uncommitted chunks: when each was sealed
        self._resend: dict[bytes, tuple[int, int]] = {}  # uncertified: next resend, backoff
        self._pending: dict[bytes, bytes | None] = {}  # txid -> chunk digest (None: buffered)
        self._pending_bytes = 0
        self._author_bytes: dict[bytes, int] = {}  # uncommitted chunk bytes held per author
        self._uncommitted: set[bytes] = set()
        self._committed: OrderedDict[bytes, None] = OrderedDict()
        self._served: deque[tuple[int, tuple[bytes, ...]]] = deque()
        self._wanted: set[bytes] = set()
        self.fetched = 0  # chunks that arrived because we asked (a status counter)
        self.signed = 0  # chunk signatures and acks made

    # ---- what a status or a client sees ----------------------------------------------------

    def __len__(self) -> int:
        return len(self._pending)

    def __contains__(self, txid: object) -> bool:
        return txid in self._pending

    @property
    def size_bytes(self) -> int:
        return self._pending_bytes

    def is_certified(self, txid: bytes) -> bool:
        digest = self._pending.get(txid)
        return digest is not None and digest in self.certified

    def has_room(self, size: int, ns_id: int | None = None) -> bool:
        """Room for one more transaction of ``size`` bytes (in namespace ``ns_id``): the
        pool's limits, less what other namespaces' shares keep for them and have not used, so a
        flooding namespace gets "busy" while a quiet one is still admitted."""
        p = self._params
        if len(self._pending) >= p.mempool_max_txs or (
            self._pending_bytes + size > p.mempool_max_bytes
        ):
            return False
        if ns_id is None or not self._pool_shares:
            return True
        held = self._ns_pending
        kept = sum(
            max(0, share - held.get(ns, 0))
            for ns, share in self._pool_shares.items()
            if ns != ns_id
        )
        return len(self._pending) + kept < p.mempool_max_txs

    def has_room_for(self, count: int, size: int) -> bool:
        """Room for ``count`` more transactions of ``size`` bytes in all (a bundle)."""
        p = self._params
        return len(self._pending) + count <= p.mempool_max_txs and (
            self._pending_bytes + size <= p.mempool_max_bytes
        )

    def dump(self, now_ms: int, names: Mapping[bytes, str]) -> dict[str, Any]:
        """The lane as an operator debugging a stall reads it (read-only, plain data): the
        buffer, our uncommitted chunks with their ages and ackers, and per author the chunks
        held and certified but not committed. Where each pending transaction is held is
        counted too, so a transaction held nowhere (a leak) shows."""
        own = sorted(self._own, key=lambda d: self.chunks[d].seq if d in self.chunks else -1)
        chunks = []
        for digest in own[:DUMP_OWN_CHUNKS]:
            chunk = self.chunks.get(digest)
            acks = self._acks.get(digest, {})
            chunks.append(
                {
                    "seq": chunk.seq if chunk else None,
                    "chunk": digest[:4].hex(),
                    "txs": len(chunk.txs) if chunk else None,
                    "age_ms": now_ms - self._sealed_ms.get(digest, now_ms),
                    "certified": digest in self.certified,
                    "acks": sorted(names.get(k, k[:4].hex()) for k in acks),
                }
            )
        held: dict[str, dict[str, int]] = {}
        for digest in self._uncommitted:
            chunk = self.chunks.get(digest)
            if chunk is None:
                continue
            row = held.setdefault(names.get(chunk.author, chunk.author[:4].hex()), _row())
            row["chunks"] += 1
            row["txs"] += len(chunk.txs)
            row["bytes"] += chunk.size_bytes
        for author, size in self._author_bytes.items():
            if size:  # counted against the author's share; more than its chunks hold is a leak
                held.setdefault(names.get(author, author[:4].hex()), _row())["share_bytes"] = size
        for h in self.certified.values():
            row = held.setdefault(names.get(h.cert.author, h.cert.author[:4].hex()), _row())
            row["certified_chunks"] += 1
            row["certified_txs"] += h.cert.tx_count
            row["oldest_certified_age_ms"] = max(row["oldest_certified_age_ms"], now_ms - h.seen_ms)
        where = {"buffered": 0, "in_uncommitted_chunk": 0, "in_no_uncommitted_chunk": 0}
        for holder in self._pending.values():
            if holder is None:
                where["buffered"] += 1
            elif holder in self._uncommitted:
                where["in_uncommitted_chunk"] += 1
            else:
                where["in_no_uncommitted_chunk"] += 1
        return {
            "buffered_txs": len(self._buffer),
            "buffered_bytes": self._buffer_bytes,
            "buffer_waited_ms": self._waited_ms,
            "pending_txs": len(self._pending),
            "pending_bytes": self._pending_bytes,
            "pending_held": where,
            "next_seq": self._seq,
            "own_uncommitted": len(self._own),
            "own_uncertified": len(self._unacked),
            "own_chunks": chunks,
            "own_chunks_left_out": max(0, len(own) - DUMP_OWN_CHUNKS),
            "held_by_author": held,
            "wanted": len(self._wanted),
        }

    def books_problem(self) -> str | None:
        """Why what the lane counts disagrees with what it holds, or None: each author's
        share bytes are the bytes of its uncommitted chunks held, and no committed chunk is
        held as uncommitted (the simulator's checker asks; a leak here fills a share or the
        mempool for good)."""
        held: dict[bytes, int] = {}
        for digest in self._uncommitted:
            if digest in self._committed:
                return f"committed chunk {digest[:4].hex()} held as uncommitted"
            chunk = self.chunks[digest]
            held[chunk.author] = held.get(chunk.author, 0) + chunk.size_bytes
        counted = {author: size for author, size in self._author_bytes.items() if size}
        if counted != held:
            return f"share bytes counted {sorted(counted.values())}, held {sorted(held.values())}"
        return None

    def pending_chunk(self, txid: bytes) -> bytes | None:
        """The digest of the chunk holding a pending transaction (None: buffered or not
        pending)."""
        return self._pending.get(txid)

    def pending_by_namespace(self) -> dict[int, int]:
        """Pending transactions held per namespace id (what a status shows)."""
        return {ns: n for ns, n in self._ns_pending.items() if n}

    # ---- this node's lane ------------------------------------------------------------------

    def add_client_tx(
        self,
        encoded: bytes,
        txid: bytes,
        omit: Callable[[bytes], bool] | None = None,
        ns_id: int | None = None,
    ) -> None:
        """Buffer a checked client transaction (the caller checked room, duplicates and the
        registry, and passes the namespace id it found; without one it is read here)."""
        if ns_id is None:
            ns_id = self._ns_id(encoded)
        if not self._buffer:
            self._outputs.append(SetTimer(CHUNK, self._params.chunk_interval_ms))
        self._buffer[txid] = encoded
        self._buffer_ns[txid] = ns_id
        if self._pool_shares:
            self._ns_pending[ns_id] = self._ns_pending.get(ns_id, 0) + 1
        self._buffer_bytes += len(encoded)
        self._pending[txid] = None
        self._pending_bytes += len(encoded)
        if len(self._buffer) >= self._chunk_txs or self._buffer_bytes >= (MAX_CHUNK_BYTES // 2):
            self.flush(omit)

    def add_bundle(self, txs: dict[bytes, bytes], ns_ids: dict[bytes, int]) -> None:
        """Seal a checked bundle (id -> encoded, in the client's order) as one bundle chunk
        at once: a chunk commits whole or not at all, so the bundle does too. It does not
        wait for the buffer's pacing; the buffer keeps its own chunk."""
        self._seal(txs, ns_ids, bundle=True)

    def on_timer(self, omit: Callable[[bytes], bool] | None = None) -> None:
        """The buffer's interval is over: seal it, unless our last chunk still lacks its
        certificate and the buffer may wait longer (it is sealed when that certificate forms)."""
        interval = self._params.chunk_interval_ms
        if self._buffer and self._busy() and self._waited_ms < self._params.chunk_max_wait_ms:
            self._waited_ms += interval
            self._outputs.append(SetTimer(CHUNK, interval))
            return
        self.flush(omit)

    def _busy(self) -> bool:
        """Our last flush still lacks a certificate, or two of our certified flushes wait to
        be committed: a new chunk now would only add acks and checks, not speed. An older
        chunk still short of acks (lost, or refused by a peer) does not hold the lane back;
        :meth:`resend_uncertified` sees to it."""
        unacked, last = self._unacked, self._flushes
        if any(self._own.get(digest) == last for digest in unacked):
            return True
        certified = {flush for digest, flush in self._own.items() if digest not in unacked}
        return len(certified) >= OWN_IN_FLIGHT

    def flush(self, omit: Callable[[bytes], bool] | None = None) -> None:
        """Pack the buffer into chunks, store them, ack them ourselves and send them to
        everyone; ``omit`` (a censoring fault's hook) drops the transactions it picks. With a
        namespace registry each namespace gets a chunk of its own, so a proposer can give every
        namespace its share of a batch without splitting chunks."""
        buffered, self._buffer, self._buffer_bytes = self._buffer, {}, 0
        ns_ids, self._buffer_ns = self._buffer_ns, {}
        self._waited_ms = 0
        if self._pool_shares:
            for ns in ns_ids.values():
                self._ns_pending[ns] -= 1  # counted again as part of the chunks below
        if omit is not None:
            for txid in [txid for txid, tx in buffered.items() if omit(tx)]:
                self._pending.pop(txid, None)
                self._pending_bytes -= len(buffered.pop(txid))
        if not buffered:
            return
        self._flushes += 1
        if self.registry.is_open and len(buffered) <= self._chunk_txs:  # the usual case
            self._seal(buffered, ns_ids)
            return
        groups: dict[int, list[tuple[bytes, bytes]]] = {}
        for txid, tx in buffered.items():
            groups.setdefault(0 if self.registry.is_open else ns_ids[txid], []).append((txid, tx))
        for ns, group in sorted(groups.items()):
            # No bigger than a batch, nor than the namespace's share of one: every chunk fits.
            step = max(1, min(self._chunk_txs, self.batch_shares.get(ns, len(group))))
            for i in range(0, len(group), step):
                self._seal(dict(group[i : i + step]), ns_ids)

    def _seal(
        self, txs: dict[bytes, bytes], ns_ids: dict[bytes, int], bundle: bool = False
    ) -> None:
        """One chunk of ours from ``txs`` (id -> encoded, in order)."""
        author, values = self._key.public_key, tuple(txs.values())
        chunk = Chunk.packed(author, self._seq, values, tuple(txs), bundle)
        self._seq += 1
        table = chunk_table(chunk.tx_ids, [ns_ids[txid] for txid in txs])
        self._tables[chunk.digest] = (table, table_root(table))
        self._own[chunk.digest] = self._flushes
        self._sealed_ms[chunk.digest] = self._clock()
        self._hold(chunk)
        ack = sign_ack(self._key, self._chain_id, chunk, table)
        self._acks[chunk.digest] = {ack.validator: ack.signature}
        signed = self._unacked[chunk.digest] = sign_chunk(self._key, self._chain_id, chunk)
        self.signed += 2
        self._outputs.append(Send(None, signed))

    def on_ack(
        self,
        ack: ChunkAck,
        validators: ValidatorSet,
        height: int,
        now_ms: int,
        omit: Callable[[bytes], bool] | None = None,
    ) -> bool:
        """An ack on one of our chunks; a certificate once they hold more than a third (then
        True, and a buffer that was waiting for it leaves)."""
        signed = self._acks.get(ack.digest)
        if signed is None or ack.validator in signed or ack.validator not in validators:
            return False
        chunk = self.chunks.get(ack.digest)
        held = self._tables.get(ack.digest)
        if chunk is None or held is None or ack.namespaces_root != held[1]:
            return False  # an acker that computed another table: its ack cannot count
        if not ack.verify(self._chain_id):
            return False
        signed[ack.validator] = ack.signature
        if validators.is_third(sum(validators.power_of(k) for k in signed)):
            del self._acks[ack.digest]
            self._unacked.pop(ack.digest, None)
            active = sorted((k, s) for k, s in signed.items() if k in validators)
            sigs = tuple(CommitSig(k, s) for k, s in active)
            cert = certify(ack, sigs, held[0])
            self.certified[cert.digest] = HeldCertificate(cert, height, now_ms)
            self._outputs.append(Send(None, cert))
            if self._waited_ms and not self._busy():
                self.flush(omit)
            return True
        return False

    def resend_uncertified(self) -> None:
        """Chunks of ours still short of acks go out again (a rebroadcast tick): the first
        send, or the acks, may have been lost. Only one at least ``rebroadcast_ms`` old, and
        each again after twice as long, up to RESEND_BACKOFF_MAX rebroadcasts: under
        overload acks are late, not lost, and resending every uncertified chunk to everyone
        each second only deepened the peers' backlog."""
        now, base = self._clock(), self._params.rebroadcast_ms
        schedule = {}
        for digest, signed in self._unacked.items():
            due, backoff = self._resend.get(digest, (self._sealed_ms.get(digest, now) + base, base))
            if now >= due:
                self._outputs.append(Send(None, signed))
                backoff = min(2 * backoff, RESEND_BACKOFF_MAX * base)
                due = now + backoff
            schedule[digest] = (due, backoff)
        self._resend = schedule

    # ---- the others' chunks ----------------------------------------------------------------

    def on_chunk(self, peer: PeerId, signed: SignedChunk, validators: ValidatorSet) -> bool:
        """Check a peer's chunk once, store it and ack it to its author; True if it is new
        here (a decided batch may have been waiting for it)."""
        chunk = signed.chunk
        if chunk.author == self._key.public_key:
            return False
        if chunk.author not in validators:
            self._reject(peer, "chunk from a key outside the validator set")
            return False
        if chunk.digest in self._committed:
            return False
        new = chunk.digest not in self.chunks
        if new:
            if not signed.verify(self._chain_id):
                self._reject(peer, "chunk with a bad author signature")
                return False
            problem = self._chunk_problem(chunk, validators)
            if problem:
                self._reject(peer, problem)
                return False
            self._hold(chunk)
        # An ack again for a chunk we hold: the author may have lost the first.
        table = self._table_of(chunk)
        if table is None:
            self._reject(peer, "chunk with a transaction the namespace registry refuses")
            return new
        self._outputs.append(Send(peer, sign_ack(self._key, self._chain_id, chunk, table)))
        self.signed += 1
        return new

    def on_certificate(
        self,
        peer: PeerId,
        cert: ChunkCertificate,
        validators: ValidatorSet,
        height: int,
        now_ms: int,
    ) -> bool:
        """Hold a certificate that checks out; True if it is new."""
        if cert.digest in self.certified or cert.digest in self._committed:
            return False
        problem = certificate_problem(cert, validators, self._chain_id)
        if problem:
            self._reject(peer, f"chunk certificate refused: {problem}")
            return False
        self.certified[cert.digest] = HeldCertificate(cert, height, now_ms)
        self._acks.pop(cert.digest, None)
        self._unacked.pop(cert.digest, None)
        return True

    def revalidate(self, validators: ValidatorSet) -> None:
        """The set changed (a validator was jailed): drop certificates whose acks no longer
        hold a third of the active stake, or whose author is out. Ours go back to collecting
        acks, so their transactions are certified again instead of lost."""
        for digest, held in list(self.certified.items()):
            cert = held.cert
            active = tuple(s for s in cert.signatures if s.validator in validators)
            power = sum(validators.power_of(s.validator) for s in active)
            if cert.author in validators and validators.is_third(power):
                if len(active) < len(cert.signatures):  # a jailed signer's ack no longer counts
                    self.certified[digest] = replace(held, cert=replace(cert, signatures=active))
                continue
            del self.certified[digest]
            chunk = self.chunks.get(digest)
            if cert.author == self._key.public_key and chunk is not None:
                self._acks[digest] = {s.validator: s.signature for s in active}
                self._unacked[digest] = sign_chunk(self._key, self._chain_id, chunk)
                self._outputs.append(Send(None, self._unacked[digest]))

    def on_request(self, peer: PeerId, digests: Iterable[bytes]) -> None:
        found = tuple(self.chunks[d] for d in digests if d in self.chunks)
        if found:
            self._outputs.append(Send(peer, ChunkResponse(found)))

    def on_response(self, chunks: Iterable[Chunk]) -> bool:
        """Chunks we asked for; a digest we want is the proof, as a certificate names it.
        True if any arrived. One that came meanwhile from its author (or was committed) is
        not held again: a second hold counted its bytes against the author's share twice,
        and after the commit kept its transactions pending for good."""
        arrived = False
        for chunk in chunks:
            if chunk.digest in self._wanted:
                self._wanted.discard(chunk.digest)
                if chunk.digest in self.chunks or chunk.digest in self._committed:
                    continue
                self._hold(chunk)
                self.fetched += 1
                arrived = True
        return arrived

    def fetch(self, digests: Iterable[bytes]) -> None:
        """Ask every peer for chunks a committed batch orders (signers hold them)."""
        wanted = [d for d in digests if d not in self.chunks]
        self._wanted.update(wanted)
        for i in range(0, len(wanted), MAX_CHUNKS_PER_FETCH):
            self._outputs.append(
                Send(None, ChunkRequest(tuple(wanted[i : i + MAX_CHUNKS_PER_FETCH])))
            )

    def missing(self, digests: Iterable[bytes]) -> list[bytes]:
        return [d for d in digests if d not in self.chunks]

    # ---- proposals and commits -------------------------------------------------------------

    def select(
        self, max_chunks: int, max_txs: int, max_bytes: int, omit: Callable[[bytes], bool] | None
    ) -> tuple[ChunkCertificate, ...]:
        """Certified chunks within the batch limits, in two passes over arrival order: first
        those that fit their namespaces' fair shares (:attr:`batch_shares`), then anything
        that still fits, so a flooding namespace gets its share plus what others leave
        unused. ``omit`` (a censoring fault's hook) drops a chunk holding any transaction it
        picks. Forced inclusion judges a batch by the same two rules
        (:func:`sequencer_net.censorship.omits`)."""
        chosen: dict[bytes, ChunkCertificate] = {}
        used: dict[int, int] = {}
        txs = size = 0
        shares = self.batch_shares
        for fair in (True, False) if shares else (False,):
            for held in self.certified.values():
                cert = held.cert
                if len(chosen) >= max_chunks:
                    break
                if cert.digest in chosen:
                    continue
                if txs + cert.tx_count > max_txs or size + cert.size_bytes > max_bytes:
                    continue
                if fair and not within_shares(cert.namespaces, used, shares):
                    continue
                if omit is not None and self._carries(cert.digest, omit):
                    continue
                chosen[cert.digest] = cert
                txs += cert.tx_count
                size += cert.size_bytes
                for entry in cert.namespaces:
                    used[entry.ns_id] = used.get(entry.ns_id, 0) + entry.tx_count
        if not shares:
            return tuple(chosen.values())
        order = {digest: i for i, digest in enumerate(self.certified)}
        return tuple(sorted(chosen.values(), key=lambda c: order[c.digest]))

    def overdue(
        self, height: int, deadline: int, built_ms: int, grace_ms: int
    ) -> list[HeldCertificate]:
        """Certified chunks held since ``height - deadline`` or earlier, and at least
        ``grace_ms`` before ``built_ms``: the proposer could have had their certificates."""
        cutoff_height, cutoff_ms = height - deadline, built_ms - grace_ms
        due = []
        for held in self.certified.values():
            if held.first_seen_height > cutoff_height:
                break  # arrival order is first-seen order
            if held.seen_ms <= cutoff_ms:
                due.append(held)
        return due

    def committed(
        self, height: int, chunks: tuple[Chunk, ...], omit: Callable[[bytes], bool] | None = None
    ) -> list[HeldCertificate]:
        """A height committed these chunks: they leave the pending state; what we knew of
        their certificates is returned (for the inclusion measurements)."""
        known = []
        for chunk in chunks:
            held = self.certified.pop(chunk.digest, None)
            if held is not None:
                known.append(held)
            self._acks.pop(chunk.digest, None)
            self._unacked.pop(chunk.digest, None)
            self._own.pop(chunk.digest, None)
            self._sealed_ms.pop(chunk.digest, None)
            self._release(chunk)
            self._committed[chunk.digest] = None
        while len(self._committed) > REMEMBER_COMMITTED:
            self._committed.popitem(last=False)
        self._served.append((height, tuple(c.digest for c in chunks)))
        while self._served and self._served[0][0] <= height - SERVE_HEIGHTS:
            for digest in self._served.popleft()[1]:
                if digest not in self._uncommitted:
                    self.chunks.pop(digest, None)
        if self._waited_ms and not self._busy():
            self.flush(omit)
        return known

    def was_committed(self, digest: bytes) -> bool:
        return digest in self._committed

    # ---- inside ----------------------------------------------------------------------------

    def _chunk_problem(self, chunk: Chunk, validators: ValidatorSet) -> str | None:
        """Why a peer's chunk is refused; None, with its namespace table kept, if it is not."""
        if chunk.size_bytes > MAX_CHUNK_BYTES:
            return "chunk exceeds the size limit"
        if chunk.bundle and chunk.size_bytes > MAX_BUNDLE_BYTES:
            return "bundle exceeds the size limit"
        share = self._params.mempool_max_bytes // max(1, len(validators.active))
        if self._author_bytes.get(chunk.author, 0) + chunk.size_bytes > share:
            return "chunk refused: its author's share of uncommitted chunks is full"
        registry = self.registry
        lookup = registry.lookup
        ns_ids: list[int] = []
        for tx in chunk.txs:
            try:
                name = tx_namespace(tx)
            except ValueError as exc:
                return f"chunk with a malformed transaction: {exc}"
            admits = lookup(name)
            if admits is None or len(tx) > admits[1]:
                problem = registry.problem(name, len(tx))
                return f"chunk with a transaction the registry refuses: {problem}"
            ns_ids.append(admits[0])
        table = chunk_table(chunk.tx_ids, ns_ids)
        self._tables[chunk.digest] = (table, table_root(table))
        return None

    def _ns_id(self, encoded: bytes) -> int:
        """The namespace id of a transaction admission already checked."""
        ns_id = self.registry.id_of(tx_namespace(encoded))
        if ns_id is None:
            raise ValueError("a transaction outside the namespace registry")
        return ns_id

    def _table_of(self, chunk: Chunk) -> tuple[NamespaceEntry, ...] | None:
        """The table of a chunk we hold (computed now for one that arrived by fetch)."""
        held = self._tables.get(chunk.digest)
        if held is not None:
            return held[0]
        try:
            ns_ids = [self._ns_id(tx) for tx in chunk.txs]
        except ValueError:
            return None
        return chunk_table(chunk.tx_ids, ns_ids)

    def _hold(self, chunk: Chunk) -> None:
        self._wanted.discard(chunk.digest)  # its author's stream may beat our fetch
        self.chunks[chunk.digest] = chunk
        self._uncommitted.add(chunk.digest)
        self._count_namespaces(chunk, 1)
        size = chunk.size_bytes
        self._author_bytes[chunk.author] = self._author_bytes.get(chunk.author, 0) + size
        ids, pending = chunk.tx_ids, self._pending
        if pending.keys().isdisjoint(ids) and len(set(ids)) == len(ids):  # the usual case
            self._pending_bytes += chunk.size_bytes
        else:  # ours (buffered until now), or a transaction seen twice: count each once
            seen: set[bytes] = set()
            for txid, tx in zip(ids, chunk.txs, strict=True):
                if txid not in pending and txid not in seen:
                    self._pending_bytes += len(tx)
                seen.add(txid)
        pending.update(dict.fromkeys(ids, chunk.digest))  # ours were buffered (None) until now

    def _release(self, chunk: Chunk) -> None:
        if chunk.digest not in self._uncommitted:
            return
        self._uncommitted.discard(chunk.digest)
        self._count_namespaces(chunk, -1)
        self._tables.pop(chunk.digest, None)
        self._author_bytes[chunk.author] -= chunk.size_bytes
        for txid, tx in zip(chunk.tx_ids, chunk.txs, strict=True):
            if txid in self._pending:
                del self._pending[txid]
                self._pending_bytes -= len(tx)

    def _count_namespaces(self, chunk: Chunk, sign: int) -> None:
        """Add (1) or take away (-1) an uncommitted chunk's transactions per namespace (kept
        only where the registry gives shares)."""
        if not self._pool_shares:
            return
        held = self._tables.get(chunk.digest)
        if held is None:  # a fetched chunk: read its table once, kept until it is released
            table = self._table_of(chunk)
            if table is None:
                return
            held = self._tables[chunk.digest] = (table, table_root(table))
        for entry in held[0]:
            self._ns_pending[entry.ns_id] = (
                self._ns_pending.get(entry.ns_id, 0) + sign * entry.tx_count
            )

    def _carries(self, digest: bytes, omit: Callable[[bytes], bool]) -> bool:
        chunk = self.chunks.get(digest)
        return chunk is not None and any(omit(tx) for tx in chunk.txs)

    def _reject(self, peer: PeerId, reason: str) -> None:
        self._outputs.append(Rejected(peer, reason))


def _row() -> dict[str, int]:
    """One author's line in a lane dump."""
    return {
        "chunks": 0,
        "txs": 0,
        "bytes": 0,
        "share_bytes": 0,
        "certified_chunks": 0,
        "certified_txs": 0,
        "oldest_certified_age_ms": 0,
    }
