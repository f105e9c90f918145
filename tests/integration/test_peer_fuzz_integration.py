"""A byzantine validator peer against a real 4-node cluster on 127.0.0.1: over an authenticated
link it sends proposals and votes for huge rounds and heights, bad signatures, oversized batches
and certificates, and garbage. The target must keep committing, and the CPU it spends per
committed height (from /proc/PID/stat) must stay within a generous multiple of its own
fuzz-free baseline: no field's value or collection's size may buy work before it is checked."""

from __future__ import annotations

import json
import os
import random
from collections.abc import Callable
from pathlib import Path

import trio
from helpers.cluster import height_of, wait_for_height

from sequencer_net import codec
from sequencer_net.client import parse_address
from sequencer_net.cluster.control import Cluster
from sequencer_net.config import NodeConfig, load_node_config
from sequencer_net.crypto import SIGNATURE_SIZE, PrivateKey, digest
from sequencer_net.faults.forge import badly_signed_vote, malformed_payload
from sequencer_net.messages import (
    CommittedBatch,
    Message,
    ProposalMessage,
    SyncResponse,
    TxGossip,
    encode_message,
)
from sequencer_net.net import HandshakeError, NetError, handshake
from sequencer_net.types import (
    NIL_ROUND,
    Batch,
    BatchHeader,
    Certificate,
    CommitSig,
    Proposal,
    Tx,
    VoteKind,
    evidence_digest,
    sign_proposal,
    sign_vote,
    txs_digest,
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
        "txs_digest": txs_digest(()),
        "evidence_digest": evidence_digest(()),
        "validator_set_hash": bytes(32),
    }
    fields.update(extra)
    return BatchHeader(**fields)  # type: ignore[arg-type]


def signed_proposal(
    key: PrivateKey, chain_id: str, height: int, round: int, txs: tuple[bytes, ...] = ()
) -> ProposalMessage:
    """A proposal with a valid signature by ``key`` (a real validator), for any round."""
    batch = Batch(header(key, chain_id, height, round, txs_digest=txs_digest(txs)), txs, ())
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


Hostile = Callable[[int], Message | bytes]


def hostile(key: PrivateKey, chain_id: str, rng: random.Random) -> list[Hostile]:
    """One pass of hostile messages, each built for the height the target decides when sent
    (the chain moves on quickly, and a stale message is dropped before any check)."""
    sign = sign_vote
    out: list[Hostile] = []
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
    many = tuple(rng.randbytes(8) for _ in range(150_000))
    out.append(lambda h: badly_signed(signed_proposal(key, chain_id, h, 0, many), rng))
    out.append(lambda h: signed_proposal(key, chain_id, h, 2**62, many))
    out.append(lambda h: signed_proposal(key, chain_id, h, 1, many))
    tx = codec.encode(Tx("fuzz", "mallory", b""))
    out.append(lambda h: TxGossip((tx,) * 10_000))
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
    for build in hostile(sender.key, chain_id, rng) * passes:
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
    heights = end - start
    assert per_height <= CPU_FACTOR * baseline + MESSAGE_CPU_S * sent / heights, (
        f"{per_height * 1000:.1f} ms per height while fuzzed ({sent} messages, {heights} "
        f"heights), {baseline * 1000:.1f} ms without"
    )
