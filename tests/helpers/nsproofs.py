"""A small chain of really signed committed batches with namespaced transactions, for the
namespace proof tests: four validators, a registry of four namespaces (one never used, so
every height has an absent one), chunks certified by real acks and batches committed by real
precommits. ``build_chain(seed)`` is deterministic in its seed."""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from helpers.chunks import certificate
from sequencer_net.crypto import PrivateKey
from sequencer_net.evidence import SlashRecord
from sequencer_net.genesis import Genesis
from sequencer_net.messages import CommittedBatch
from sequencer_net.namespaces import Namespace, batch_root
from sequencer_net.nsproof import NamespaceProof, build_proof
from sequencer_net.replica.validity import GENESIS_PARENT
from sequencer_net.types import (
    Batch,
    BatchHeader,
    Certificate,
    Chunk,
    CommitSig,
    DuplicateVote,
    Tx,
    VoteKind,
    chunks_digest,
    evidence_digest,
    make_evidence,
    sign_vote,
    tx_namespace,
)
from sequencer_net.validators import Validator

CHAIN = "ns-proofs"
KEYS = [PrivateKey.from_label(f"nsproof-{i}") for i in range(4)]
NAMESPACES = (
    Namespace("rollup-a", 1, 0.4, 1_000),
    Namespace("rollup-b", 2, 0.3, 1_000),
    Namespace("other-ns", 7, 0.2, 1_000),
    Namespace("quiet", 9, 0.1, 1_000),  # never sent to: absent at every height
)
GENESIS = Genesis(
    CHAIN,
    tuple(Validator(f"n{i}", k.public_key, 10) for i, k in enumerate(KEYS)),
    namespaces=NAMESPACES,
)
USED = ("rollup-a", "rollup-b", "other-ns")


@dataclass
class Chain:
    entries: dict[int, CommittedBatch] = field(default_factory=dict)
    slashes: list[SlashRecord] = field(default_factory=list)

    def proof(self, namespace: str, height: int) -> NamespaceProof:
        ns_id = GENESIS.registry.id_of(namespace)
        assert ns_id is not None
        return build_proof(self.entries[height], namespace, ns_id, self.slashes)

    @staticmethod
    def namespace_of(tx: bytes) -> str:
        return tx_namespace(tx)

    @staticmethod
    def tx_of(namespace: str) -> bytes:
        return Tx(namespace, "mallory", b"slipped in").encoded


def double_vote(key: PrivateKey, height: int) -> DuplicateVote:
    """Real evidence: ``key`` prevoted two values at (height, 0)."""
    a, b = (sign_vote(key, CHAIN, VoteKind.PREVOTE, height, 0, bytes([v]) * 32) for v in (1, 2))
    evidence = make_evidence(a, b)
    assert isinstance(evidence, DuplicateVote)
    return evidence


def build_chain(seed: int, heights: int = 4, slash_at: int | None = None) -> Chain:
    """``slash_at``: that height's batch carries evidence against the last validator, who is
    jailed (and votes no more) from the next height on."""
    rng = random.Random(seed)
    chain = Chain()
    parent: CommittedBatch | None = None
    validators = GENESIS.validator_set
    seq = 0
    for height in range(1, heights + 1):
        chunks = []
        # Height 2 is empty: its table is empty, every namespace absent.
        for _ in range(0 if height == 2 else rng.randint(1, 3)):
            txs = [
                Tx(
                    rng.choice(USED[: rng.randint(1, 3)]), "u", rng.randbytes(rng.randint(0, 8))
                ).encoded
                for _ in range(rng.randint(1, 6))
            ]
            if rng.random() < 0.3:
                txs.append(txs[0])  # carried twice: counts once
            chunks.append(Chunk(KEYS[seq % 4].public_key, seq, tuple(txs)))
            seq += 1
        certs = tuple(certificate(c, KEYS[:2], CHAIN, GENESIS.registry) for c in chunks)
        evidence = (double_vote(KEYS[3], height - 1),) if height == slash_at else ()
        header = BatchHeader(
            chain_id=CHAIN,
            height=height,
            round=0,
            parent_id=parent.batch.id if parent else GENESIS_PARENT,
            proposer=KEYS[height % 4].public_key,
            timestamp_ms=1_000 * height,
            chunks_digest=chunks_digest(certs),
            evidence_digest=evidence_digest(evidence),
            validator_set_hash=validators.hash,
            last_commit=parent.certificate if parent else None,
            namespaces_root=batch_root(certs),
        )
        batch = Batch(header, certs, evidence)
        votes = [sign_vote(k, CHAIN, VoteKind.PRECOMMIT, height, 0, batch.id) for k in KEYS[:3]]
        sigs = tuple(CommitSig(v.validator, v.signature) for v in votes)
        parent = CommittedBatch(batch, Certificate(height, 0, batch.id, sigs), tuple(chunks))
        chain.entries[height] = parent
        if evidence:
            fraction = GENESIS.params.slash_fraction_ppm
            validators = validators.punish([e.offender for e in evidence], fraction)
            chain.slashes += [SlashRecord(e, height, 0, 10, 9, header.proposer) for e in evidence]
    return chain
