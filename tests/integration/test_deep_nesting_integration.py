"""Requests nested thousands of levels deep against a real node process, on its client, admin
and peer ports (a stranger's hello and an authenticated validator's message): each is refused
with an error answer or a dropped connection, and the node keeps committing. Such a request
once escaped validation as a RecursionError and stopped the node."""

from __future__ import annotations

import trio
from helpers.cluster import height_of, wait_for_height
from helpers.hostile import DEEP_ADMIN_REQUESTS, DEEP_CLIENT_REQUESTS, DEPTH, nested

from sequencer_net.api_protocol import unpack
from sequencer_net.client import parse_address
from sequencer_net.cluster.control import Cluster
from sequencer_net.config import NodeConfig, load_node_config
from sequencer_net.net import FrameReader, HandshakeError, NetError, encode_frame, handshake
from sequencer_net.net.handshake import MAX_HANDSHAKE_FRAME_BYTES


async def refused(address: str, frame: bytes) -> None:
    """Send ``frame`` on a fresh connection: the answer must be an error, or no answer."""
    stream = await trio.open_tcp_stream(*parse_address(address))
    try:
        await stream.send_all(encode_frame(frame))
        with trio.fail_after(10):
            answer = unpack(await FrameReader(stream, 1 << 20).receive())
        assert "error" in answer, answer
    except (NetError, trio.BrokenResourceError):
        pass  # dropped: also a refusal
    finally:
        await stream.aclose()


async def deep_peer_traffic(target: NodeConfig, sender: NodeConfig) -> None:
    host, port = parse_address(target.addresses[target.name].peer)
    # A stranger's hello, as deep as the handshake's frame limit allows.
    stream = await trio.open_tcp_stream(host, port)
    try:
        await stream.send_all(encode_frame(nested(MAX_HANDSHAKE_FRAME_BYTES - 8)))
        with trio.move_on_after(5):
            while await stream.receive_some(4096):
                pass
    except (trio.BrokenResourceError, OSError):
        pass
    finally:
        await stream.aclose()
    # An authenticated validator's messages.
    for frame in (nested(DEPTH), nested(DEPTH, "map"), b"\x92\x01" + nested(DEPTH)):
        stream = await trio.open_tcp_stream(host, port)
        chain_id = target.genesis.chain_id
        try:
            link = await handshake(stream, sender.key, chain_id, {target.key.public_key}, True)
            await link.send(frame)
            await link.aclose()
        except (HandshakeError, NetError, OSError):
            pass


async def test_deeply_nested_requests_are_refused_on_every_port(cluster: Cluster) -> None:
    root = cluster.root
    n1 = load_node_config(root / "n1" / "node.toml")
    n4 = load_node_config(root / "n4" / "node.toml")
    # Nodes accept links only from smaller keys (the smaller key dials), so send from it.
    target, sender = (n1, n4) if n4.key.public_key < n1.key.public_key else (n4, n1)
    client = target.addresses[target.name].client
    assert target.admin_address is not None
    start = await wait_for_height(client, 1)

    for frame in DEEP_CLIENT_REQUESTS:
        await refused(client, frame)
        assert await height_of(client) is not None, frame[:40]
    for frame in DEEP_ADMIN_REQUESTS:
        await refused(target.admin_address, frame)
        assert await height_of(client) is not None, frame[:40]
    await deep_peer_traffic(target, sender)

    alive = {p.name for p in cluster.processes() if p.state.value == "alive"}
    assert target.name in alive
    await wait_for_height(client, start + 3)
