"""A byzantine validator peer against a real 4-node cluster on 127.0.0.1: over an authenticated
link it sends proposals and votes for huge rounds and heights, bad signatures, oversized batches
and certificates, malformed, oversized or forged chunks, acks, chunk certificates and chunk
requests, and garbage. The target must keep committing, and the CPU it spends per committed
height (from /proc/PID/stat) must stay within a generous multiple of its own fuzz-free
baseline: no field's value or collection's size may buy work before it is checked."""

from __future__ import annotations

import json
import os
import random
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import msgpack
import trio
from helpers.chunks import certificate, chunk, signed
from helpers.cluster import height_of, wait_for_height

from sequencer_net import codec
from sequencer_net.client import parse_address
from sequencer_net.cluster.control import Cluster
from sequencer_net.config import NodeConfig, load_node_config
from sequencer_net.crypto import SIGNATURE_SIZE, PrivateKey, digest
from sequencer_net.faults.forge import badly_signed_vote, malformed_payload
from sequencer_net.messages import (
    MAX_CHUNKS_PER_FETCH,
    ChunkRequest,
    ChunkResponse,
    CommittedBatch,
    Message,
    ProposalMessage,
    SignedChunk,
    SyncResponse,
    encode_message,
)
from sequencer_net.net import HandshakeError, NetError, handshake
from sequencer_net.types import (
    MAX_BATCH_CHUNKS,
    MAX_CHUNK_BYTES,
    MAX_CHUNK_TXS,
    NIL_ROUND,
    Batch,
    BatchHeader,
    Certificate,
    ChunkAck,
    ChunkCertificate,
    CommitSig,
    NamespaceEntry,
    Proposal,
    Tx,
    VoteKind,
    chunks_digest,
    evidence_digest,
    sign_proposal,
    sign_vote,
)

HUGE = (1_000_000, 2**62)
BASELINE_HEIGHTS = 12
FUZZ_PASSES = 3
# Generous: a busy machine adds rounds (and so CPU) to a height, fuzz or not; and a hostile
# message may cost what decoding its bytes costs (a 1.5 MB batch: about 20 ms), no more.
CPU_FACTOR = 3
MESSAGE_CPU_S = 0.02
FUZZ_GUARD_S = 120


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process, from /proc/PID/stat."""
    text = Path(f"/proc/{pid}/stat").read_text()
    fields = text[text.rindex(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def header(key: PrivateKey, chain_id: str, height: int, round: int, **extra: object) -> BatchHeader:
    fields: dict[str, object] = {
        "chain_id": chain_id,
        "height": height,
        "round": round,
        "parent_id": bytes(32),
        "proposer": key.public_key,
        "timestamp_ms": 1,
        "chunks_digest": chunks_digest(()),
        "evidence_digest": evidence_digest(()),
        "validator_set_hash": bytes(32),
    }
    fields.update(extra)
    return BatchHeader(**fields)  # type: ignore[arg-type]


def signed_proposal(
    key: PrivateKey,
    chain_id: str,
    height: int,
    round: int,
    certs: tuple[ChunkCertificate, ...] = (),
) -> ProposalMessage:
    """A proposal with a valid signature by ``key`` (a real validator), for any round."""
    body = header(key, chain_id, height, round, chunks_digest=chunks_digest(certs))
    batch = Batch(body, certs, ())
    return ProposalMessage(sign_proposal(key, chain_id, height, round, NIL_ROUND, batch.id), batch)


def badly_signed(message: ProposalMessage, rng: random.Random) -> ProposalMessage:
    p = message.proposal
    forged = Proposal(
        p.height, p.round, p.pol_round, p.batch_id, p.proposer, rng.randbytes(SIGNATURE_SIZE)
    )
    return ProposalMessage(forged, message.batch)


def huge_certificate(rng: random.Random, height: int, batch_id: bytes) -> Certificate:
    sigs = tuple(CommitSig(rng.randbytes(32), rng.randbytes(SIGNATURE_SIZE)) for _ in range(5_000))
    return Certificate(height, 0, batch_id, sigs)


def fake_certificates(
    count: int, author: bytes, signers: list[bytes], rng: random.Random, tx_count: int = 1
) -> tuple[ChunkCertificate, ...]:
    """Certificates of chunks no one holds, claiming acks by ``signers`` with random
    signatures: checking one costs a signature verification per signer."""
    return tuple(
        ChunkCertificate(
            rng.randbytes(32),
            author,
            tx_count,
            tx_count,
            tuple(CommitSig(s, rng.randbytes(SIGNATURE_SIZE)) for s in signers),
            (NamespaceEntry(0, tx_count, bytes(32)),),  # no draw: the rng sequence stays put
        )
        for _ in range(count)
    )


def raw(*wire: object) -> bytes:
    """A message's bytes built by hand, for what the types refuse to construct."""
    return msgpack.packb(list(wire), use_bin_type=True)


def hostile_chunks(
    key: PrivateKey, chain_id: str, validators: list[bytes], rng: random.Random
) -> list[Hostile]:
    """The data path's messages, malformed, oversized or forged."""
    tx = codec.encode(Tx("fuzz", "mallory", b""))
    stranger = PrivateKey.from_label("fuzz-stranger")
    me = key.public_key
    out: list[Hostile] = []
    # Wire bounds: refused on the length, before an item is decoded.
    out.append(lambda h: raw(29, [10, me, 0, [tx] * (MAX_CHUNK_TXS + 1), False], bytes(64)))
    out.append(lambda h: raw(27, [bytes(32)] * (MAX_CHUNKS_PER_FETCH + 1)))
    out.append(lambda h: raw(28, [[0]] * (MAX_CHUNKS_PER_FETCH + 1)))
    big_cert = [
        12,
        bytes(32),
        me,
        1,
        1,
        [[6, rng.randbytes(32), bytes(64)]] * 5_000,
        [[13, 0, 1, bytes(32)]],
    ]
    out.append(lambda h: raw(*big_cert))

    # Checked chunks: by an outsider, too big, a transaction that does not decode (last, so
    # every earlier one is decoded: a bounded cost).
    def streamed(author: PrivateKey, txs: tuple[bytes, ...]) -> SignedChunk:
        return signed(chunk(author, txs, rng.randrange(2**32)), author, chain_id)

    out.append(lambda h: streamed(stranger, (tx,)))
    # Claims another validator's lane: the author's signature does not verify.
    out.append(lambda h: replace(streamed(key, (tx,)), signature=rng.randbytes(64)))
    half = b"\x00" * (MAX_CHUNK_BYTES // 2 + 1)
    out.append(lambda h: streamed(key, (half, half)))
    out.append(lambda h: streamed(key, (tx,) * 999 + (b"\xc1",)))
    # Acks and certificates: forged, from outsiders, short of a third of the stake.
    data = chunk(key, (tx,), 0)
    no_sig = bytes(SIGNATURE_SIZE)
    out.append(lambda h: ChunkAck(rng.randbytes(32), me, 1, 1, bytes(32), me, no_sig))
    out.append(lambda h: certificate(data, [stranger, key], chain_id))
    out.append(lambda h: certificate(data, [key], chain_id))
    out.append(lambda h: fake_certificates(1, me, validators, rng)[0])
    outsiders = [rng.randbytes(32) for _ in range(1_000)]
    out.append(lambda h: fake_certificates(1, me, outsiders, rng)[0])
    # Requests for chunks no one has, and answers no one asked for.
    unknown = tuple(rng.randbytes(32) for _ in range(MAX_CHUNKS_PER_FETCH))
    out.append(lambda h: ChunkRequest(unknown))
    junk = tuple(chunk(key, (tx,), rng.randrange(2**32)) for _ in range(MAX_CHUNKS_PER_FETCH))
    out.append(lambda h: ChunkResponse(junk))
    # A full chunk of one transaction repeated: well formed, held within its author's share.
    # Last of the data path: its check (every transaction read, its namespace table hashed)
    # is the longest, and the real node holding the sender's key redials meanwhile, which
    # closes the fuzzer's link and loses what is in flight; the messages the assertions
    # below need are through by then.
    out.append(lambda h: streamed(key, (tx,) * MAX_CHUNK_TXS))
    return out


Hostile = Callable[[int], Message | bytes]


def hostile(
    key: PrivateKey, chain_id: str, validators: list[bytes], rng: random.Random
) -> list[Hostile]:
    """One pass of hostile messages, each built for the height the target decides when sent
    (the chain moves on quickly, and a stale message is dropped before any check)."""
    sign = sign_vote
    # The data path's first: the proposals below may earn the sender a slash for equivocating
    # (it is a real validator), and once jailed its chunks are refused before any other check.
    out: list[Hostile] = hostile_chunks(key, chain_id, validators, rng)
    for r in HUGE:
        out.append(lambda h, r=r: signed_proposal(key, chain_id, h, r))
        out.append(lambda h, r=r: badly_signed(signed_proposal(key, chain_id, h, r), rng))
        out.extend(lambda h, r=r, k=k: sign(key, chain_id, k, h, r, digest(b"x")) for k in VoteKind)
        out.append(lambda h, r=r: badly_signed_vote(rng, key.public_key, h, r))
    # The proposer of round r was once r steps away: one walk per height, so repeat the claim.
    out.extend(lambda h: signed_proposal(key, chain_id, h, HUGE[0]) for _ in range(5))
    out.append(lambda h: signed_proposal(key, chain_id, h + 1, 0))
    out.append(lambda h: sign(key, chain_id, VoteKind.PRECOMMIT, h + 1, 2**62, None))
    out.append(lambda h: signed_proposal(key, chain_id, 2**62, 0))
    out.append(lambda h: sign(key, chain_id, VoteKind.PREVOTE, 2**62, 2**62, None))
    for r in range(3):
        out.append(lambda h, r=r: badly_signed(signed_proposal(key, chain_id, h, r), rng))
        out.append(lambda h, r=r: badly_signed_vote(rng, key.public_key, h, r))
    # Batches of as many certificates as the wire allows, each claiming every validator's ack
    # (over the chunk limit), of 64 (over the transaction limit) and of one (its forged acks
    # refused); then one certificate more than the wire allows, refused before decoding.
    many = fake_certificates(
        MAX_BATCH_CHUNKS, key.public_key, validators, rng, tx_count=MAX_CHUNK_TXS
    )
    out.append(lambda h: badly_signed(signed_proposal(key, chain_id, h, 0, many), rng))
    out.append(lambda h: signed_proposal(key, chain_id, h, 2**62, many))
    out.append(lambda h: signed_proposal(key, chain_id, h, 1, many))
    for r in range(3):
        out.append(lambda h, r=r: signed_proposal(key, chain_id, h, r, many[:64]))
        out.append(lambda h, r=r: signed_proposal(key, chain_id, h, r, many[:1]))
    over = codec.to_wire(signed_proposal(key, chain_id, 1, 0, many))  # [20, proposal, batch]
    over[2][2].append(over[2][2][0])  # the batch's chunks: one more than the wire allows
    out.append(lambda h: raw(*over))
    # A certificate of thousands of signatures: in a sync entry, and as a batch's last commit.
    out.append(lambda h: sync_with_huge_certificate(key, chain_id, h, rng))
    for r in (0, 2**62):
        out.append(lambda h, r=r: with_huge_last_commit(key, chain_id, h, r, rng))
        out.append(
            lambda h, r=r: badly_signed(with_huge_last_commit(key, chain_id, h, r, rng), rng)
        )
    out.extend(lambda h: malformed_payload(rng) for _ in range(20))
    return out


def sync_with_huge_certificate(
    key: PrivateKey, chain_id: str, height: int, rng: random.Random
) -> SyncResponse:
    batch = Batch(header(key, chain_id, height, 0), (), ())
    return SyncResponse((CommittedBatch(batch, huge_certificate(rng, height, batch.id)),))


def with_huge_last_commit(
    key: PrivateKey, chain_id: str, height: int, round: int, rng: random.Random
) -> ProposalMessage:
    last = huge_certificate(rng, height - 1, digest(b"parent"))
    batch = Batch(header(key, chain_id, height, round, last_commit=last), (), ())
    return ProposalMessage(sign_proposal(key, chain_id, height, round, NIL_ROUND, batch.id), batch)


async def fuzz(target: NodeConfig, sender: NodeConfig, passes: int) -> int:
    """Send ``passes`` rounds of hostile messages to ``target`` as ``sender``, reconnecting when
    the target drops the link. Returns the number of messages sent."""
    host, port = parse_address(target.addresses[target.name].peer)
    client = target.addresses[target.name].client
    chain_id = target.genesis.chain_id
    rng = random.Random(9)
    sent = 0
    link = None
    committed = await height_of(client)
    assert committed is not None
    validators = [v.public_key for v in target.genesis.validators]
    for build in hostile(sender.key, chain_id, validators, rng) * passes:
        # A busy target may miss a probe: keep the last height then (the CPU check judges).
        committed = await height_of(client) or committed
        item = build(committed + 1)
        payload = item if isinstance(item, bytes) else encode_message(item)
        for _attempt in range(5):
            try:
                if link is None:
                    stream = await trio.open_tcp_stream(host, port)
                    link = await handshake(
                        stream, sender.key, chain_id, {target.key.public_key}, True
                    )
                await link.send(payload)
                sent += 1
                break
            except (HandshakeError, NetError, OSError):
                if link is not None:
                    await link.aclose()
                link = None
                await trio.sleep(0.1)
    if link is not None:
        await link.aclose()
    return sent


def rejections(cluster: Cluster, name: str) -> list[str]:
    log = cluster.root / name / "data" / "node.log"
    records = [json.loads(line) for line in log.read_text().splitlines()]
    return [r["reason"] for r in records if r["event"] in ("rejected", "peer_message_rejected")]


async def test_a_byzantine_peer_cannot_stall_or_burn_a_node(cluster: Cluster) -> None:
    root = cluster.root
    n1 = load_node_config(root / "n1" / "node.toml")
    n4 = load_node_config(root / "n4" / "node.toml")
    # Nodes accept links only from smaller keys (the smaller key dials), so send from it.
    target, sender = (n1, n4) if n4.key.public_key < n1.key.public_key else (n4, n1)
    client = target.addresses[target.name].client
    pid = next(p.pid for p in cluster.processes() if p.name == target.name)
    assert pid is not None

    start = await wait_for_height(client, 2, timeout=60)
    cpu_start = cpu_seconds(pid)
    end = await wait_for_height(client, start + BASELINE_HEIGHTS, timeout=120)
    baseline = (cpu_seconds(pid) - cpu_start) / (end - start)

    start = await wait_for_height(client, end)
    cpu_start = cpu_seconds(pid)
    # Only a guard against a hang (a target stuck in work stops reading its link).
    with trio.fail_after(FUZZ_GUARD_S):
        sent = await fuzz(target, sender, FUZZ_PASSES)
    after = await height_of(client)
    assert after is not None
    end = await wait_for_height(client, max(after + 3, start + BASELINE_HEIGHTS), timeout=120)
    per_height = (cpu_seconds(pid) - cpu_start) / (end - start)

    reasons = rejections(cluster, target.name)
    assert sent >= FUZZ_PASSES * 40, "the hostile messages never reached the node"
    assert any("too far ahead" in r for r in reasons)
    assert any("bad signature" in r for r in reasons)
    assert any("at most 1000 items" in r for r in reasons)
    for refused in (
        f"at most {MAX_CHUNK_TXS} items",
        f"at most {MAX_CHUNKS_PER_FETCH} items",
        f"at most {MAX_BATCH_CHUNKS} items",
        "chunk from a key outside the validator set",
        "chunk exceeds the size limit",
        "chunk with a malformed transaction",
        "chunk certificate refused: an ack from a key outside the active set",
        "chunk certificate refused: acks hold a third of the stake or less",
        "chunk certificate refused: an ack signature does not verify",
    ):
        assert any(refused in r for r in reasons), refused
    heights = end - start
    assert per_height <= CPU_FACTOR * baseline + MESSAGE_CPU_S * sent / heights, (
        f"{per_height * 1000:.1f} ms per height while fuzzed ({sent} messages, {heights} "
        f"heights), {baseline * 1000:.1f} ms without"
    )
