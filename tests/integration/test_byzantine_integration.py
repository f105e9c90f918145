"""Byzantine validators with real node processes on 127.0.0.1: an equivocator and a node with
amnesia are caught, slashed and jailed while the honest nodes keep committing; their evidence
logs verify offline and tampered copies do not; forged evidence from a peer is refused and
logged without harm. Every test stops every process it starts."""

from __future__ import annotations

import functools
import json
import os
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import msgpack
import pytest
import trio
from helpers.cluster import (
    FAST,
    addresses,
    assert_chains_agree,
    chains,
    cli,
    events,
    evidence_logged,
    height_of,
    running,
    wait_for_height,
)
from helpers.paths import CONFIGS

from sequencer_net import codec
from sequencer_net.cli import main
from sequencer_net.client import parse_address
from sequencer_net.cluster.control import Cluster
from sequencer_net.cluster.probe import probe
from sequencer_net.config import ClusterSpec, NodeConfig, load_cluster_spec, load_node_config
from sequencer_net.crypto import PrivateKey
from sequencer_net.evidence_log import FILENAME, EvidenceLog, read_log
from sequencer_net.messages import EvidenceGossip, encode_message
from sequencer_net.net import NetError, handshake
from sequencer_net.types import Evidence, Vote, VoteKind, make_evidence, sign_vote

BYZANTINE_4 = CONFIGS / "byzantine-4.toml"
HONEST = ("n2", "n3", "n4")  # n1 is the byzantine node in every cluster of this module
KINDS = {"duplicate_proposal", "duplicate_prevote", "duplicate_precommit"}
# n1 double-signs from height 1 on: its evidence must be committed (and n1 slashed) by then.
SLASHED_BY_HEIGHT = 10
FAR_FUTURE = 1_000_000


@pytest.fixture(scope="module")
def equivocating(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    """The cluster of configs/byzantine-4.toml (n1 equivocates), shared by this module."""
    root = tmp_path_factory.mktemp("byzantine-4") / "cluster"
    with running(load_cluster_spec(BYZANTINE_4), root) as cluster:
        yield cluster


def evidence_path(cluster: Cluster, name: str) -> Path:
    """Node ``name``'s evidence log (absent until it commits evidence)."""
    return cluster.root / name / "data" / FILENAME


async def wait_for_evidence(
    cluster: Cluster, nodes: tuple[str, ...], timeout: float = 30
) -> dict[str, list[dict[str, Any]]]:
    """Each node's evidence records, once every one of them has logged at least one."""
    with trio.fail_after(timeout):
        while not all(EvidenceLog(evidence_path(cluster, name)).ids() for name in nodes):
            await trio.sleep(0.1)
    return {name: read_log(evidence_path(cluster, name)) for name in nodes}


async def validators_seen_by(address: str) -> dict[str, dict[str, Any]]:
    """The validator set a running node reports in its status, by name."""
    status = await probe(address, timeout=2)
    assert status is not None, f"{address} does not answer"
    return {v["name"]: v for v in status["validators"]}


def verify(cluster: Cluster, log: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    """`sequencer-net evidence verify LOG --genesis GENESIS`: exit status and output."""
    code = main(["evidence", "verify", str(log), "--genesis", str(cluster.root / "genesis.toml")])
    return code, capsys.readouterr().out


async def jailed_everywhere(nodes: dict[str, str], offender: str) -> bool:
    """Whether every honest node's status shows ``offender`` jailed (a node that does not
    answer this time counts as not yet)."""
    for name in HONEST:
        status = await probe(nodes[name], timeout=2)
        jailed = status is not None and any(
            v["name"] == offender and v["jailed"] for v in status["validators"]
        )
        if not jailed:
            return False
    return True


def unharmed(validator: dict[str, Any]) -> bool:
    """A validator of a status report still has its genesis stake and no evidence against it."""
    return validator["power"] == 10 and not validator["jailed"] and validator["evidence"] == 0


async def test_equivocator_is_caught_slashed_and_jailed_while_the_chain_goes_on(
    equivocating: Cluster, capsys: pytest.CaptureFixture[str]
) -> None:
    cluster = equivocating
    nodes = addresses(cluster)
    logs = await wait_for_evidence(cluster, HONEST)
    [record] = logs["n2"]
    assert record["offender"]["name"] == "n1" and record["kind"] in KINDS
    assert (record["stake_before"], record["stake_after"]) == (10, 9)
    assert record["committed_height"] <= SLASHED_BY_HEIGHT, record
    # Every node writes the same record down to the byte, and each copy verifies offline.
    assert len({evidence_path(cluster, name).read_bytes() for name in HONEST}) == 1
    for name in HONEST:
        code, out = verify(cluster, evidence_path(cluster, name), capsys)
        assert code == 0 and "1 record(s): 1 verified, 0 failed" in out, out
    assert main(["evidence", "list", "--dir", str(cluster.root), "--json"]) == 0
    [listed] = json.loads(capsys.readouterr().out)
    assert listed["id"] == record["id"] and listed["differs"] == []
    assert set(HONEST) <= set(listed["nodes"])

    for name in HONEST:
        seen = await validators_seen_by(nodes[name])
        assert seen["n1"] == {
            "name": "n1",
            "power": 9,
            "jailed": True,
            "slashed": True,
            "evidence": 1,
        }, name
        assert all(unharmed(seen[other]) for other in HONEST), (name, seen)

    after_slash = await height_of(nodes["n2"])
    assert after_slash is not None
    for name in HONEST:
        await wait_for_height(nodes[name], after_slash + 10)
    cluster.down()
    assert {e["offender"] for e in evidence_logged(cluster)} == {"n1"}
    assert_chains_agree(
        {n: chain for n, chain in chains(cluster).items() if n in HONEST},
        at_least=after_slash + 10,
    )


def _raise_stake_after(record: dict[str, Any]) -> None:
    """Claim a smaller slash than the rule gives."""
    record["stake_after"] += 1


def _flip_last_digit(text: str) -> str:
    return text[:-1] + ("0" if text[-1] != "0" else "1")


def _edit_shown_signature(record: dict[str, Any]) -> None:
    """Change a readable signature field only (the evidence bytes keep the real one)."""
    message = record["messages"][0]
    message["signature"] = _flip_last_digit(message["signature"])


def _edit_signed_signature(record: dict[str, Any]) -> None:
    """Change the signature inside the canonical evidence bytes (the fields then disagree)."""
    signature = record["messages"][1]["signature"]
    record["evidence"] = record["evidence"].replace(signature, _flip_last_digit(signature))


@pytest.mark.parametrize(
    ("tamper", "problem"),
    [
        (_raise_stake_after, "stake_after 10 is not 9"),
        (_edit_shown_signature, "messages[0].signature: recorded"),
        (_edit_signed_signature, "second message: signature does not verify"),
    ],
    ids=["stake_after", "shown signature", "signed signature"],
)
async def test_a_tampered_evidence_record_fails_verify(
    equivocating: Cluster,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    tamper: Callable[[dict[str, Any]], None],
    problem: str,
) -> None:
    logs = await wait_for_evidence(equivocating, ("n3",))
    [record] = logs["n3"]
    tamper(record)
    copy = tmp_path / FILENAME
    copy.write_text(json.dumps(record) + "\n")
    code, out = verify(equivocating, copy, capsys)
    assert code == 1, out
    assert problem in out and "1 record(s): 0 verified, 1 failed" in out, out


async def test_a_node_with_amnesia_is_caught_and_jailed(tmp_path: Path) -> None:
    """At its next proposal n1 restarts without its sign state and proposes again."""
    with running(ClusterSpec("amnesia", 4, timeouts=FAST), tmp_path / "cluster") as cluster:
        nodes = addresses(cluster)
        await wait_for_height(nodes["n2"], 3)
        await cli(cluster, "fault", "set", "n1", "amnesia")
        # A guard against a hang, not a timing: on a loaded machine (a full suite beside a
        # 10-node simulation campaign) 60 s ran out once before n1's restart and next proposal.
        with trio.fail_after(180):
            while not await jailed_everywhere(nodes, "n1"):
                await trio.sleep(0.2)
        logs = await wait_for_evidence(cluster, HONEST)
        assert events(cluster, "n1", "amnesia_restart")
        for name in HONEST:
            [record] = logs[name]
            assert record["offender"]["name"] == "n1" and record["kind"] in KINDS, record
            assert (record["stake_before"], record["stake_after"]) == (10, 9)
            assert all(
                unharmed(v) for n, v in (await validators_seen_by(nodes[name])).items() if n != "n1"
            )
        before = await height_of(nodes["n2"])
        assert before is not None
        await wait_for_height(nodes["n2"], before + 5)


# ---- forged evidence from a peer -----------------------------------------------------------

# What each forged message must be refused with at every node: (node.log event, reason).
REFUSALS = {
    "bad signature": ("rejected", "evidence refused: evidence signature does not verify"),
    "far future": ("rejected", f"evidence refused: evidence from height {FAR_FUTURE}, ahead"),
    "not a validator": ("rejected", "evidence refused: offender is not a validator"),
    "identical votes": ("peer_message_rejected", "evidence votes are for the same value"),
    "different heights": ("peer_message_rejected", "votes do not conflict"),
}


def forged_messages(me: NodeConfig, height: int, victim: bytes) -> dict[str, bytes]:
    """Frames ``me`` sends, keyed like :data:`REFUSALS`. None is evidence a node may accept:
    the only validly signed ones are against ``me`` and from far in the future."""
    chain_id = me.genesis.chain_id

    def double_prevote(key: PrivateKey, at: int) -> Evidence:
        votes = [sign_vote(key, chain_id, VoteKind.PREVOTE, at, 0, v) for v in (None, bytes(32))]
        return make_evidence(*votes)

    unsigned = [
        Vote(VoteKind.PREVOTE, height, 0, v, victim, os.urandom(64)) for v in (None, bytes(32))
    ]
    future = codec.to_wire(EvidenceGossip(double_prevote(me.key, FAR_FUTURE)))
    gossip_tag, (evidence_tag, vote, _) = future
    later = codec.to_wire(sign_vote(me.key, chain_id, VoteKind.PREVOTE, FAR_FUTURE + 1, 0, None))
    return {
        "bad signature": encode_message(EvidenceGossip(make_evidence(*unsigned))),
        "far future": msgpack.packb(future, use_bin_type=True),
        "not a validator": encode_message(
            EvidenceGossip(double_prevote(PrivateKey.from_label("outsider"), height))
        ),
        # Raw frames: decoding builds DuplicateVote, which refuses both shapes.
        "identical votes": msgpack.packb(
            [gossip_tag, [evidence_tag, vote, vote]], use_bin_type=True
        ),
        "different heights": msgpack.packb(
            [gossip_tag, [evidence_tag, vote, later]], use_bin_type=True
        ),
    }


async def speak_as(
    me: NodeConfig,
    frames: Callable[[str], Awaitable[list[bytes]]],
    heard: Callable[[], bool],
) -> None:
    """Act as validator ``me``: open a sealed link to every other validator the way nodes do
    (dial those with a greater key, accept those with a smaller one on ``me``'s peer port),
    send each peer ``await frames(its name)``, read and drop what it sends, until ``heard()``."""
    others = {v.public_key: v.name for v in me.genesis.validators if v.name != me.name}
    reached: set[str] = set()

    async def serve(stream: trio.SocketStream, initiator: bool) -> None:
        try:
            link = await handshake(stream, me.key, me.genesis.chain_id, set(others), initiator)
        except NetError:
            return
        peer = others[link.peer_key]
        try:
            for frame in await frames(peer):
                await link.send(frame)
            reached.add(peer)
            while True:
                await link.receive()
        except NetError:
            pass
        finally:
            await link.aclose()

    async def dial(address: str) -> None:
        host, port = parse_address(address)
        while True:  # the peer may still be binding its port
            try:
                stream = await trio.open_tcp_stream(host, port)
                break
            except OSError:
                await trio.sleep(0.1)
        await serve(stream, initiator=True)

    host, port = parse_address(me.addresses[me.name].peer)
    with trio.fail_after(30):
        async with trio.open_nursery() as nursery:
            listeners = await trio.open_tcp_listeners(port, host=host)
            accept = functools.partial(serve, initiator=False)
            nursery.start_soon(trio.serve_listeners, accept, listeners)
            for key, name in others.items():
                if me.key.public_key < key:
                    nursery.start_soon(dial, me.addresses[name].peer)
            while not (len(reached) == len(others) and heard()):
                await trio.sleep(0.1)
            nursery.cancel_scope.cancel()


def missing_refusals(cluster: Cluster, name: str) -> list[str]:
    """The forged messages node ``name`` has not (yet) logged as refused from n4."""
    return [
        forgery
        for forgery, (event, reason) in REFUSALS.items()
        if not any(
            e["peer"] == "n4" and reason in e["reason"] for e in events(cluster, name, event)
        )
    ]


async def test_forged_evidence_from_a_peer_is_refused_and_logged_without_harm(
    tmp_path: Path,
) -> None:
    """The test speaks as n4 (its node is killed; the cluster dir holds its key) to n1..n3,
    which alone hold 30 of 40, a quorum."""
    with running(ClusterSpec("forged", 4, timeouts=FAST), tmp_path / "cluster") as cluster:
        cluster.kill("n4")
        nodes = addresses(cluster)
        others = ("n1", "n2", "n3")
        await wait_for_height(nodes["n1"], 3)
        me = load_node_config(cluster.root / "n4" / "node.toml")
        victim = next(v.public_key for v in me.genesis.validators if v.name == "n2")

        async def frames(peer: str) -> list[bytes]:
            """Forgeries about the peer's last committed height: in its evidence window."""
            height = await height_of(nodes[peer])
            assert height is not None
            return list(forged_messages(me, height, victim).values())  # n2 is framed

        await speak_as(
            me,
            frames,
            lambda: not any(missing_refusals(cluster, name) for name in others),
        )
        before = await height_of(nodes["n1"])
        assert before is not None
        for name in others:
            await wait_for_height(nodes[name], before + 10)
            seen = await validators_seen_by(nodes[name])
            assert all(unharmed(v) for v in seen.values()), (name, seen)
            assert not evidence_path(cluster, name).exists()
        cluster.down()
        assert not any(events(cluster, name, "evidence_found") for name in others)
        assert_chains_agree(
            {n: chain for n, chain in chains(cluster).items() if n in others},
            at_least=before + 10,
        )
