"""Namespaces as part of the protocol: the genesis registry (from a cluster spec, through
genesis.toml), refusal at admission and in a peer's chunk, the chunk and batch namespace
tables, and valid(v) refusing a header whose namespaces root is not its certificates'."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
from helpers.chunks import signed

from sequencer_net import merkle
from sequencer_net.chunks import sign_ack
from sequencer_net.cluster.init import init_cluster
from sequencer_net.config import ClusterSpec, ConfigError, load_cluster_spec, load_genesis
from sequencer_net.crypto import PrivateKey
from sequencer_net.genesis import Genesis
from sequencer_net.messages import SignedChunk
from sequencer_net.namespaces import (
    OPEN_ID_BASE,
    Namespace,
    Registry,
    batch_root,
    batch_table,
    chunk_table,
    open_id,
    table_of,
)
from sequencer_net.node_params import NodeParams
from sequencer_net.replica import Output, Rejected, Send
from sequencer_net.replica.batches import build_batch
from sequencer_net.replica.lanes import Lanes
from sequencer_net.replica.validity import batch_problem
from sequencer_net.types import Chunk, ChunkAck, ChunkCertificate, NamespaceEntry, Tx, tx_id
from sequencer_net.validators import Validator, ValidatorSet

CHAIN = "ns"
KEYS = {f"n{i}": PrivateKey.from_label(f"ns-{i}") for i in range(1, 5)}
SET = ValidatorSet([Validator(n, k.public_key, 10) for n, k in KEYS.items()])
REGISTRY = Registry([Namespace("rollup-a", 1, 0.5, 200), Namespace("rollup-b", 2, 0.25, 100)])


def tx(namespace: str, n: int, size: int = 4) -> bytes:
    return Tx(namespace, "alice", n.to_bytes(size, "big")).encoded


def lanes(name: str, registry: Registry = REGISTRY) -> tuple[Lanes, list[Output]]:
    outputs: list[Output] = []
    return Lanes(KEYS[name], CHAIN, NodeParams(), outputs, registry), outputs


def sent(outputs: list[Output], kind: type) -> list:
    return [o.message for o in outputs if isinstance(o, Send) and isinstance(o.message, kind)]


# ---- the registry ---------------------------------------------------------------------------


def test_no_registry_admits_every_namespace_under_an_open_id() -> None:
    open_registry = Registry()
    assert open_registry.is_open and open_registry.problem("anything", 10**6) is None
    assert open_registry.id_of("x") == open_id("x") >= OPEN_ID_BASE
    assert open_id("x") != open_id("y")


def test_the_registry_refuses_unknown_namespaces_and_oversized_transactions() -> None:
    assert REGISTRY.id_of("rollup-a") == 1 and REGISTRY.id_of("rollup-z") is None
    assert REGISTRY.problem("rollup-a", 200) is None
    unknown = REGISTRY.problem("rollup-z", 1)
    assert unknown == "unknown namespace 'rollup-z' (genesis registers: rollup-a, rollup-b)"
    assert REGISTRY.problem("rollup-b", 101) == (
        "transaction of 101 bytes exceeds namespace 'rollup-b''s max_tx_bytes 100"
    )


@pytest.mark.parametrize(
    ("namespaces", "problem"),
    [
        ([Namespace("a", 1, 0.5, 10), Namespace("a", 2, 0.1, 10)], "share a name"),
        ([Namespace("a", 1, 0.5, 10), Namespace("b", 1, 0.1, 10)], "share an id"),
        ([Namespace("a", 1, 0.7, 10), Namespace("b", 2, 0.7, 10)], "more than 1"),
    ],
)
def test_a_registry_that_cannot_be_is_refused(namespaces: list[Namespace], problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        Registry(namespaces)
    with pytest.raises(ValueError, match=problem):
        Genesis(CHAIN, tuple(SET.validators), namespaces=tuple(namespaces))


@pytest.mark.parametrize(
    ("args", "problem"),
    [(("", 1, 0.5, 1), "name"), (("a", 70_000, 0.5, 1), "id"), (("a", 1, 0, 1), "share"),
     (("a", 1, 0.5, 0), "max_tx_bytes")],
)  # fmt: skip
def test_a_namespace_out_of_range_is_refused(args: tuple, problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        Namespace(*args)


SPEC = """
[cluster]
name = "spec"
nodes = 4

[[namespaces]]
name = "rollup-a"
id = 1
share = 0.5
max_tx_bytes = 200
{extra}
"""


def test_cluster_init_writes_the_spec_registry_into_genesis(tmp_path: Path) -> None:
    path = tmp_path / "spec.toml"
    path.write_text(SPEC.format(extra=""))
    spec = load_cluster_spec(path)
    assert spec.namespaces == (Namespace("rollup-a", 1, 0.5, 200),)
    root = init_cluster(spec, tmp_path / "cluster")
    genesis = load_genesis(root / "genesis.toml").genesis
    assert genesis.namespaces == spec.namespaces
    assert genesis.registry.id_of("rollup-a") == 1 and genesis.registry.id_of("other") is None
    # Without [[namespaces]] genesis has no registry and admits everything, as before.
    plain = load_genesis(init_cluster(ClusterSpec("plain", 4), tmp_path / "plain") / "genesis.toml")
    assert plain.genesis.namespaces == () and plain.genesis.registry.is_open


@pytest.mark.parametrize(
    ("extra", "problem"),
    [
        ('[[namespaces]]\nname = "rollup-b"\nid = 1\nshare = 0.1\nmax_tx_bytes = 9', "share an id"),
        ('[[namespaces]]\nname = "b"\nid = 2\nshare = 0.6\nmax_tx_bytes = 9', "more than 1"),
        ('[[namespaces]]\nname = "b"\nid = 2\nshare = "half"\nmax_tx_bytes = 9', "share"),
        ('[[namespaces]]\nname = "b"\nid = 2\nshare = 0.1\nmax_tx_bytes = 9\nsize = 1', "size"),
    ],
)
def test_a_bad_namespaces_table_is_a_config_error(tmp_path: Path, extra: str, problem: str) -> None:
    path = tmp_path / "spec.toml"
    path.write_text(SPEC.format(extra=extra))
    with pytest.raises(ConfigError, match=problem):
        load_cluster_spec(path)


# ---- admission and peers' chunks ------------------------------------------------------------


def test_admission_refuses_what_the_registry_does_not_admit() -> None:
    from sequencer_net.replica.core import Replica
    from sequencer_net.store.memory import MemoryChainStore, MemorySignStateStore

    genesis = Genesis(CHAIN, tuple(SET.validators), namespaces=REGISTRY.namespaces)
    node = Replica(genesis, KEYS["n1"], MemoryChainStore(), MemorySignStateStore())
    txid, _ = node.submit(tx("rollup-a", 1), 0)
    assert txid == tx_id(tx("rollup-a", 1))
    for encoded, reason in [
        (tx("rollup-z", 1), "refused: unknown namespace 'rollup-z'"),
        (tx("rollup-b", 1, size=120), "refused: transaction of"),
    ]:
        txid, outputs = node.submit(encoded, 0)
        assert txid is None
        (rejected,) = [o for o in outputs if isinstance(o, Rejected)]
        assert rejected.reason.startswith(reason)


def test_a_peer_chunk_carrying_an_unregistered_or_oversized_transaction_is_not_acked() -> None:
    peer, outputs = lanes("n2")
    for bad in (tx("rollup-z", 1), tx("rollup-b", 2, size=120)):
        data = Chunk(KEYS["n1"].public_key, 0, (tx("rollup-a", 1), bad))
        peer.on_chunk(b"n1", signed(data, KEYS["n1"], CHAIN), SET)
        assert not sent(outputs, ChunkAck)
        (rejected,) = [o for o in outputs if isinstance(o, Rejected)]
        assert "registry refuses" in rejected.reason
        outputs.clear()


# ---- tables ---------------------------------------------------------------------------------


def test_the_chunk_table_is_sorted_by_id_and_counts_and_hashes_each_namespace() -> None:
    txs = [tx("rollup-b", 1), tx("rollup-a", 2), tx("rollup-b", 3)]
    ids = [tx_id(t) for t in txs]
    table = chunk_table(ids, [2, 1, 2])
    assert table == (
        NamespaceEntry(1, 1, merkle.root([ids[1]])),
        NamespaceEntry(2, 2, merkle.root([ids[0], ids[2]])),
    )
    assert table_of(Chunk(KEYS["n1"].public_key, 0, tuple(txs)), REGISTRY) == table


def test_the_author_seals_one_chunk_per_namespace_and_certifies_each_with_its_table() -> None:
    author, outputs = lanes("n1")
    for i, namespace in enumerate(["rollup-b", "rollup-a", "rollup-a"]):
        encoded = tx(namespace, i)
        author.add_client_tx(encoded, tx_id(encoded))
    author.flush()
    chunks = sent(outputs, SignedChunk)
    tables = [table_of(m.chunk, REGISTRY) for m in chunks]
    assert [[(e.ns_id, e.tx_count) for e in t] for t in tables] == [[(1, 2)], [(2, 1)]]
    peer, peer_out = lanes("n2")
    for message, table in zip(chunks, tables, strict=True):
        peer.on_chunk(b"n1", message, SET)
        ack = sent(peer_out, ChunkAck)[-1]
        count = len(message.chunk.txs)
        assert (
            ack.namespaces_root
            == ChunkCertificate(
                ack.digest, ack.author, count, ack.size_bytes, (), table
            ).namespaces_root
        )
        # An ack on another table (a signer that read the chunk otherwise) does not count.
        other = sign_ack(KEYS["n3"], CHAIN, message.chunk, (replace(table[0], root=bytes(32)),))
        assert not author.on_ack(other, SET, 1, 0)
        assert author.on_ack(ack, SET, 1, 0)
    certs = sent(outputs, ChunkCertificate)
    assert [c.namespaces for c in certs] == tables


def _cert(name: str, seq: int, *txs: bytes) -> ChunkCertificate:
    from helpers.chunks import certificate

    data = Chunk(KEYS[name].public_key, seq, txs)
    return certificate(data, [KEYS["n1"], KEYS["n2"]], CHAIN, REGISTRY)


def test_the_batch_table_merges_chunk_tables_in_batch_order() -> None:
    c1 = _cert("n1", 0, tx("rollup-a", 1), tx("rollup-b", 2))
    c2 = _cert("n2", 0, tx("rollup-a", 3))
    table = batch_table([c1, c2])
    a1, b1 = c1.namespaces
    (a2,) = c2.namespaces
    assert table == (
        NamespaceEntry(1, 2, merkle.commitment([a1.encoded, a2.encoded])),
        NamespaceEntry(2, 1, merkle.commitment([b1.encoded])),
    )
    # Batch order matters: the other order commits to another table.
    assert batch_root([c2, c1]) != batch_root([c1, c2])
    assert batch_root([]) == merkle.EMPTY_COMMITMENT


def test_valid_v_refuses_a_header_whose_namespaces_root_is_not_the_certificates() -> None:
    from sequencer_net.censorship import Limits
    from sequencer_net.replica.validity import ChainView

    genesis = Genesis(CHAIN, tuple(SET.validators), namespaces=REGISTRY.namespaces)
    view = ChainView(
        chain_id=CHAIN,
        height=1,
        parent=None,
        validators=genesis.validator_set,
        previous=None,
        params=genesis.params,
        limits=Limits(16, 1000, 10**6),
        known=lambda cert: False,
        committed=lambda digest: False,
    )
    certs = (_cert("n1", 0, tx("rollup-a", 1), tx("rollup-b", 2)),)
    proposer = view.validators.proposer_for_round(0).public_key
    good = build_batch(view, 0, proposer, 1_000, certs, ())
    assert batch_problem(view, good) is None
    for root in (bytes(32), merkle.EMPTY_COMMITMENT, batch_root(())):
        bad = replace(good, header=replace(good.header, namespaces_root=root))
        assert batch_problem(view, bad) == (
            "namespaces root does not match the certificates' namespace tables"
        )
