"""Namespaces: the registry genesis holds, and the namespace tables of chunks and batches.

A chunk's table has one entry per namespace it carries, sorted by id: (id, count, Merkle root
over those transactions' ids in chunk order). Its author computes it when packing, each
acker from the data when checking, and the acks sign its root, so a certificate's table is
vouched for by at least one honest holder of the data. A batch's table merges its
certificates' tables: per namespace, the count and the root over the chunk entries that
carry it, in batch order. It is computed from certificates alone, so every validator checks a
proposal's ``namespaces_root`` in ``valid(v)`` without holding a single chunk.

With no ``[[namespaces]]`` in genesis every namespace is admitted and gets an *open* id, a
hash of its name above the registered range; with a registry only its names are admitted.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache

from . import merkle
from .crypto import digest
from .types import MAX_NAME, Chunk, ChunkCertificate, NamespaceEntry, table_root, tx_namespace

MAX_REGISTERED_ID = 0xFFFF  # registered ids are short: 0..65535
OPEN_ID_BASE = 1 << 16  # open ids (no registry) are this plus 48 bits of the name's hash
MAX_NAMESPACES = 256
OPEN_CACHE = 4096  # open names remembered (id, limit) before the memo starts afresh
NO_LIMIT = 1 << 62


@dataclass(frozen=True)
class Namespace:
    """One registered namespace: ``share`` of batch capacity (a fraction, for the proposer's
    fair shares) and the largest encoded transaction it admits."""

    name: str
    id: int
    share: float
    max_tx_bytes: int

    def __post_init__(self) -> None:
        if not 0 < len(self.name) <= MAX_NAME:
            raise ValueError(f"namespace name must be 1..{MAX_NAME} characters")
        if not 0 <= self.id <= MAX_REGISTERED_ID:
            raise ValueError(f"namespace {self.name!r}: id must be 0..{MAX_REGISTERED_ID}")
        if not 0 < self.share <= 1:
            raise ValueError(f"namespace {self.name!r}: share must be in (0, 1]")
        if self.max_tx_bytes < 1:
            raise ValueError(f"namespace {self.name!r}: max_tx_bytes must be >= 1")


@lru_cache(maxsize=4096)
def open_id(name: str) -> int:
    """The id of a namespace when genesis has no registry: stable across nodes, above every
    registered id. Two names sharing 48 hash bits would share a table entry; their proofs
    then fail (the verifier checks every transaction's namespace), nothing else does."""
    return OPEN_ID_BASE + int.from_bytes(digest(name.encode())[:6], "big")


class Registry:
    """The namespaces genesis admits (empty: all of them)."""

    def __init__(self, namespaces: Iterable[Namespace] = ()) -> None:
        self.namespaces = tuple(sorted(namespaces, key=lambda n: n.id))
        if len(self.namespaces) > MAX_NAMESPACES:
            raise ValueError(f"at most {MAX_NAMESPACES} namespaces")
        self._by_name = {n.name: n for n in self.namespaces}
        if len(self._by_name) != len(self.namespaces):
            raise ValueError("two namespaces share a name")
        if len({n.id for n in self.namespaces}) != len(self.namespaces):
            raise ValueError("two namespaces share an id")
        if sum(n.share for n in self.namespaces) > 1 + 1e-9:
            raise ValueError("namespace shares add up to more than 1")
        # name -> (id, max_tx_bytes): one dict lookup per transaction on the hot path.
        self._admits: dict[str, tuple[int, int]] = {
            n.name: (n.id, n.max_tx_bytes) for n in self.namespaces
        }

    @property
    def is_open(self) -> bool:
        return not self.namespaces

    def get(self, name: str) -> Namespace | None:
        return self._by_name.get(name)

    def lookup(self, name: str) -> tuple[int, int] | None:
        """(id, max_tx_bytes) of ``name``, None when the registry does not admit it."""
        found = self._admits.get(name)
        if found is None and self.is_open:
            if len(self._admits) >= OPEN_CACHE:
                self._admits.clear()
            found = self._admits[name] = (open_id(name), NO_LIMIT)
        return found

    def id_of(self, name: str) -> int | None:
        """The id of ``name``, None when the registry does not admit it."""
        if self.is_open:
            return open_id(name)
        entry = self._by_name.get(name)
        return None if entry is None else entry.id

    def problem(self, name: str, size: int) -> str | None:
        """Why a transaction of ``size`` encoded bytes in namespace ``name`` is refused."""
        if self.is_open:
            return None
        entry = self._by_name.get(name)
        if entry is None:
            known = ", ".join(sorted(self._by_name))
            return f"unknown namespace {name!r} (genesis registers: {known})"
        if size > entry.max_tx_bytes:
            return (
                f"transaction of {size} bytes exceeds namespace {name!r}'s "
                f"max_tx_bytes {entry.max_tx_bytes}"
            )
        return None


def chunk_table(tx_ids: Sequence[bytes], ns_ids: Sequence[int]) -> tuple[NamespaceEntry, ...]:
    """A chunk's table from its transactions' ids and namespace ids, in chunk order."""
    groups: dict[int, list[bytes]] = {}
    for txid, ns in zip(tx_ids, ns_ids, strict=True):
        groups.setdefault(ns, []).append(txid)
    return tuple(
        NamespaceEntry(ns, len(ids), merkle.root(ids)) for ns, ids in sorted(groups.items())
    )


def batch_groups(
    certs: Iterable[ChunkCertificate],
) -> dict[int, list[NamespaceEntry]]:
    """Per namespace id, the chunk entries that carry it, in batch order."""
    groups: dict[int, list[NamespaceEntry]] = {}
    for cert in certs:
        for entry in cert.namespaces:
            groups.setdefault(entry.ns_id, []).append(entry)
    return groups


def batch_table(certs: Iterable[ChunkCertificate]) -> tuple[NamespaceEntry, ...]:
    """A batch's table: per namespace, its count and the root over its chunk entries."""
    return tuple(
        NamespaceEntry(ns, sum(e.tx_count for e in entries), table_root(tuple(entries)))
        for ns, entries in sorted(batch_groups(certs).items())
    )


def batch_root(certs: Iterable[ChunkCertificate]) -> bytes:
    """What a batch header's ``namespaces_root`` must be."""
    return table_root(batch_table(certs))


def table_of(chunk: Chunk, registry: Registry | None = None) -> tuple[NamespaceEntry, ...]:
    """A chunk's table read from its transactions (ValueError for one that is malformed or
    that ``registry`` refuses): for tools and tests; the lanes compute it as they check."""
    registry = registry or Registry()
    ns_ids = []
    for tx in chunk.txs:
        name = tx_namespace(tx)
        ns_id = registry.id_of(name)
        if ns_id is None:
            raise ValueError(f"unknown namespace {name!r}")
        ns_ids.append(ns_id)
    return chunk_table(chunk.tx_ids, ns_ids)


def reservations(registry: Registry, max_txs: int) -> dict[int, int]:
    """Fair shares: per registered namespace id, the transactions of a batch of ``max_txs``
    kept for it (its share, rounded down). A proposer fills these first; what a namespace
    leaves unused goes to whoever has more (see :func:`within_shares`)."""
    return {n.id: int(n.share * max_txs) for n in registry.namespaces}


def within_shares(
    table: Iterable[NamespaceEntry], used: Mapping[int, int], reserved: Mapping[int, int]
) -> bool:
    """Whether a chunk with namespace ``table`` fits the reservations beside ``used`` (each
    of its namespaces stays within its share). A namespace outside the registry has none."""
    return all(used.get(e.ns_id, 0) + e.tx_count <= reserved.get(e.ns_id, 0) for e in table)


def usage(certs: Iterable[ChunkCertificate]) -> dict[int, int]:
    """Transactions per namespace id across ``certs``."""
    used: dict[int, int] = {}
    for cert in certs:
        for entry in cert.namespaces:
            used[entry.ns_id] = used.get(entry.ns_id, 0) + entry.tx_count
    return used
