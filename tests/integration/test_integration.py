"""Real node processes on 127.0.0.1: commits under load, crash and catch-up, double-sign safety
across kill -9, refused impostors, and fuzzed frames. Every test stops every process it starts."""

from __future__ import annotations

import json
import os
import random
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import trio
from helpers.cluster import (
    addresses,
    assert_chains_agree,
    chains,
    evidence_logged,
    height_of,
    wait_for_height,
)

from sequencer_net import codec
from sequencer_net.client import parse_address
from sequencer_net.cluster.control import Cluster
from sequencer_net.cluster.init import init_cluster
from sequencer_net.config import ClusterSpec, load_node_config
from sequencer_net.crypto import PrivateKey
from sequencer_net.load import run_load
from sequencer_net.messages import encode_message
from sequencer_net.net import HandshakeError, NetError, encode_frame, handshake
from sequencer_net.types import VoteKind, sign_vote


async def test_four_nodes_commit_under_load_and_agree(cluster: Cluster) -> None:
    nodes = addresses(cluster)
    await wait_for_height(nodes["n1"], 1)
    report = await run_load(list(nodes.values()), rate=2000, duration_s=3, size=100)
    assert report.committed == report.submitted > 0, report
    for address in nodes.values():  # a height count, not a rate: the load may end before 30
        await wait_for_height(address, 30)
    cluster.down()
    assert_chains_agree(chains(cluster), at_least=30)
    assert evidence_logged(cluster) == []


async def test_killed_node_others_continue_and_it_catches_up_after_restart(
    cluster: Cluster,
) -> None:
    nodes = addresses(cluster)
    await wait_for_height(nodes["n2"], 5)
    cluster.kill("n2")
    before = await height_of(nodes["n1"])
    assert before is not None
    await wait_for_height(nodes["n1"], before + 8)
    assert await height_of(nodes["n2"]) is None
    cluster.restart("n2")
    target = await height_of(nodes["n1"])
    assert target is not None
    await wait_for_height(nodes["n2"], target)
    cluster.down()
    found = chains(cluster)
    assert_chains_agree(found, at_least=target)


async def test_repeated_kill_9_never_makes_a_node_sign_twice(cluster: Cluster) -> None:
    nodes = addresses(cluster)
    rng = random.Random(20261121)
    await wait_for_height(nodes["n3"], 3)
    for _ in range(8):
        await trio.sleep(rng.uniform(0.05, 0.6))
        cluster.kill("n3")
        cluster.restart("n3")
    reference = await height_of(nodes["n1"])
    assert reference is not None
    await wait_for_height(nodes["n3"], reference + 5)
    cluster.down()
    assert evidence_logged(cluster) == [], "a restarted node signed conflicting messages"
    assert_chains_agree(chains(cluster), at_least=reference)


async def test_impostor_key_is_refused_at_the_handshake(cluster: Cluster) -> None:
    config = load_node_config(cluster.root / "n1" / "node.toml")
    host, port = parse_address(config.addresses["n1"].peer)
    impostor = PrivateKey.from_label("not-a-validator")
    with trio.fail_after(10):
        while True:  # the node may still be binding its port
            try:
                stream = await trio.open_tcp_stream(host, port)
                break
            except OSError:
                await trio.sleep(0.1)
        with pytest.raises(NetError):
            link = await handshake(
                stream, impostor, config.genesis.chain_id, {config.key.public_key}, True
            )
            await link.receive()
    before = await height_of(config.addresses["n1"].client)
    assert before is not None
    await wait_for_height(config.addresses["n1"].client, before + 5)
    log = (cluster.root / "n1" / "data" / "node.log").read_text()
    assert "peer_refused" in log


async def test_fuzzed_frames_from_a_peer_do_not_stop_a_node(cluster: Cluster) -> None:
    """Speak to n1 as n4 (whose key the test holds): garbage, truncated and mutated messages,
    bad signatures and oversized frames. n1 must keep committing and stay in agreement."""
    root = cluster.root
    n1 = load_node_config(root / "n1" / "node.toml")
    n4 = load_node_config(root / "n4" / "node.toml")
    # Nodes accept links only from smaller keys (the smaller key dials), so send from it.
    target, sender = (n1, n4) if n4.key.public_key < n1.key.public_key else (n4, n1)
    host, port = parse_address(target.addresses[target.name].peer)
    client = target.addresses[target.name].client
    await wait_for_height(client, 3)
    rng = random.Random(7)
    chain_id = target.genesis.chain_id
    real = encode_message(sign_vote(sender.key, chain_id, VoteKind.PREVOTE, 5, 0, bytes(32)))
    forged = encode_message(
        sign_vote(PrivateKey.from_label("x"), chain_id, VoteKind.PREVOTE, 5, 0, None)
    )
    for attempt in range(6):
        stream = await trio.open_tcp_stream(host, port)
        try:
            link = await handshake(stream, sender.key, chain_id, {target.key.public_key}, True)
        except HandshakeError:
            continue
        try:
            for _ in range(200):
                kind = rng.randrange(5)
                if kind == 0:
                    payload = os.urandom(rng.randint(1, 300))
                elif kind == 1:
                    payload = real[: rng.randint(1, len(real) - 1)]
                elif kind == 2:
                    mutated = bytearray(real)
                    mutated[rng.randrange(len(mutated))] ^= 1 << rng.randrange(8)
                    payload = bytes(mutated)
                elif kind == 3:
                    payload = forged
                else:
                    payload = codec.encode([999, b"x"])
                await link.send(payload)
            if attempt == 5:  # finally a frame over the limit, which must close the link
                await stream.send_all(encode_frame(b"x")[:4] + b"\xff\xff\xff\xff")
        except NetError:
            pass
        finally:
            await link.aclose()
    before = await height_of(client)
    assert before is not None
    await wait_for_height(client, before + 10)
    cluster.down()
    assert_chains_agree(chains(cluster), at_least=before + 10)
    assert evidence_logged(cluster) == []
    log = [json.loads(line) for line in (root / target.name / "data" / "node.log").open()]
    refused = [r for r in log if r["event"] == "peer_message_rejected"]
    assert len(refused) >= 100, "the fuzzed frames never reached the node's decoder"


def test_port_in_use_gives_one_clear_line(tmp_path: Path) -> None:
    root = init_cluster(ClusterSpec(name="busy", nodes=4), tmp_path / "c")
    config = load_node_config(root / "n1" / "node.toml")
    host, port = parse_address(config.addresses["n1"].client)
    with socket.socket() as blocker:
        blocker.bind((host, port))
        blocker.listen()
        proc = subprocess.run(
            [
                sys.executable,
                "-m",
                "sequencer_net",
                "node",
                "--config",
                str(root / "n1" / "node.toml"),
            ],
            capture_output=True,
            text=True,
            timeout=30,
        )
    assert proc.returncode == 2
    assert "already in use" in proc.stderr and "Traceback" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1
