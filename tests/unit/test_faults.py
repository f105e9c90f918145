"""Fault injection without processes: spec parsing, the fault layer's rewriting of outgoing
sends, the fault budget, fault config in cluster specs and node.toml, and the admin API."""

from __future__ import annotations

import json
import os
import tomllib
from collections.abc import Callable
from pathlib import Path

import pytest
import tomli_w
import trio
from helpers.chunks import certificate, chunk, signed
from helpers.paths import CONFIGS
from structlog.testing import capture_logs

from sequencer_net import codec
from sequencer_net.api_protocol import ApiError
from sequencer_net.chunks import sign_ack
from sequencer_net.cli import main
from sequencer_net.client import Client
from sequencer_net.cluster import init_cluster
from sequencer_net.cluster.partition import partition_cuts
from sequencer_net.commands.errors import UsageError
from sequencer_net.config import (
    ClusterSpec,
    ConfigError,
    SpecError,
    load_cluster_spec,
    load_node_config,
)
from sequencer_net.crypto import PrivateKey
from sequencer_net.faults import (
    Amnesia,
    Censor,
    Crash,
    Delay,
    Drop,
    Equivocate,
    FaultLayer,
    FaultSpecError,
    Garbage,
    Mute,
    Withhold,
    parse_fault,
    unsafe_faults,
)
from sequencer_net.messages import (
    ChunkRequest,
    ProposalMessage,
    SignedChunk,
    SyncRequest,
    SyncResponse,
    decode_message,
)
from sequencer_net.namespaces import table_of
from sequencer_net.node_params import NodeParams
from sequencer_net.replica import Output, Send
from sequencer_net.replica.lanes import Lanes
from sequencer_net.runtime.admin import AdminServer
from sequencer_net.types import (
    Batch,
    BatchHeader,
    Tx,
    Vote,
    VoteKind,
    chunks_digest,
    evidence_digest,
    make_evidence,
    sign_proposal,
    sign_vote,
    tx_id,
)

CHAIN = "faults-test"
KEYS = {name: PrivateKey.from_label(name) for name in ("n1", "n2", "n3", "n4", "n5")}
NAMES = {key.public_key: name for name, key in KEYS.items()}
OWN = KEYS["n1"]
PEERS = {KEYS[n].public_key: n for n in ("n2", "n3", "n4", "n5")}


def layer(*faults: object) -> FaultLayer:
    return FaultLayer(OWN, CHAIN, PEERS, "n1", faults)  # type: ignore[arg-type]


def names(sends: list[Send]) -> list[str]:
    return [PEERS[s.to] for s in sends]  # type: ignore[index]


def own_proposal(height: int = 5, round: int = 0) -> ProposalMessage:
    certs = (certificate(chunk(OWN, (Tx("rollup-a", "alice", b"x").encoded,))),)
    header = BatchHeader(
        CHAIN,
        height,
        round,
        bytes(32),
        OWN.public_key,
        1_000,
        chunks_digest(certs),
        evidence_digest(()),
        bytes(32),
    )
    batch = Batch(header, certs, ())
    return ProposalMessage(sign_proposal(OWN, CHAIN, height, round, -1, batch.id), batch)


def vote(key: PrivateKey = OWN, value: bytes | None = b"v" * 32) -> Vote:
    return sign_vote(key, CHAIN, VoteKind.PREVOTE, 5, 1, value)


# ---- parsing ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "fault"),
    [
        ("mute", Mute()),
        ("withhold", Withhold()),
        ("equivocate", Equivocate()),
        ("garbage", Garbage()),
        ("amnesia", Amnesia()),
        ("delay 200", Delay(200)),
        ("drop 0.3", Drop(0.3)),
        ("drop 1", Drop(1.0)),
        ("crash 40", Crash(40)),
        ("censor sender=alice", Censor("sender", "alice")),
        ("censor namespace=rollup-b", Censor("namespace", "rollup-b")),
        ("censor prefix=DEADbeef", Censor("prefix", "deadbeef")),
        ("  delay   200 ", Delay(200)),
    ],
)
def test_every_behaviour_parses_and_prints_back(text: str, fault: object) -> None:
    parsed = parse_fault(text)
    assert parsed == fault
    assert parse_fault(str(parsed)) == parsed


@pytest.mark.parametrize(
    ("text", "fragments"),
    [
        ("", ["empty fault spec", "delay MS"]),
        ("explode", ["unknown fault behaviour 'explode'", "mute", "censor sender=X"]),
        ("Mute", ["unknown fault behaviour 'Mute'"]),
        ("mute now", ["'mute'", "takes no parameter"]),
        ("delay", ["'delay'", "delay MS", "exactly one parameter"]),
        ("delay 1 2", ["exactly one parameter"]),
        ("delay abc", ["delay MS", "MS must be a whole number", "'abc'"]),
        ("delay 0", ["from 1 to 60000"]),
        ("delay -5", ["'-5'"]),
        ("drop 0", ["drop FRACTION", "above 0 and at most 1"]),
        ("drop 1.5", ["above 0 and at most 1"]),
        ("drop nan", ["above 0 and at most 1"]),
        ("crash 0", ["crash HEIGHT", "HEIGHT must be"]),
        ("censor alice", ["censor sender=X|namespace=X|prefix=HEX", "got 'alice'"]),
        ("censor colour=red", ["expected sender=X"]),
        ("censor sender=", ["expected sender=X"]),
        ("censor prefix=xyz", ["prefix must be hex digits"]),
        ("censor sender=" + "a" * 65, ["at most 64 characters"]),
    ],
)
def test_bad_specs_give_one_clear_line(text: str, fragments: list[str]) -> None:
    with pytest.raises(FaultSpecError) as caught:
        parse_fault(text)
    message = str(caught.value)
    assert "\n" not in message
    for fragment in fragments:
        assert fragment in message, f"{fragment!r} not in {message!r}"


def test_censor_filters_match_sender_namespace_and_payload_prefix() -> None:
    tx = Tx("rollup-a", "alice", bytes.fromhex("deadbeef00")).encoded
    assert parse_fault("censor sender=alice").matches(tx)  # type: ignore[union-attr]
    assert not parse_fault("censor sender=bob").matches(tx)  # type: ignore[union-attr]
    assert parse_fault("censor namespace=rollup-a").matches(tx)  # type: ignore[union-attr]
    assert parse_fault("censor prefix=dead").matches(tx)  # type: ignore[union-attr]
    assert not parse_fault("censor prefix=beef").matches(tx)  # type: ignore[union-attr]
    assert not parse_fault("censor sender=alice").matches(b"\xc1junk")  # type: ignore[union-attr]


# ---- the layer -------------------------------------------------------------------------------


def test_without_faults_sends_pass_unchanged() -> None:
    send = Send(None, vote())
    assert layer().outgoing(send) == [send]


def test_mute_says_nothing_but_still_asks_to_catch_up() -> None:
    muted = layer(Mute())
    answer = SyncResponse(())
    data = chunk(OWN, (Tx("rollup-a", "alice", b"t").encoded,))
    own_data = (
        signed(data, OWN, CHAIN),
        sign_ack(OWN, CHAIN, data, table_of(data)),
        certificate(data, [OWN], CHAIN),
    )
    for message in (vote(), own_proposal(), *own_data, vote(KEYS["n3"]), answer):
        assert muted.outgoing(Send(None, message)) == []
    assert muted.outgoing(Send(KEYS["n2"].public_key, vote())) == []
    # A node that cannot ask for the heights (and chunks) it missed never follows again.
    ask = Send(KEYS["n2"].public_key, SyncRequest(7))
    assert muted.outgoing(ask) == [ask]
    fetch = Send(None, ChunkRequest((data.digest,)))
    assert len(muted.outgoing(fetch)) == 4


def test_withhold_drops_its_own_votes_and_the_certificates_that_hold_them() -> None:
    withholding = layer(Withhold())
    assert withholding.outgoing(Send(None, vote())) == []
    assert withholding.outgoing(Send(KEYS["n2"].public_key, SyncResponse(()))) == []
    others = vote(KEYS["n3"])  # a POL prevote the replica re-broadcasts
    assert [s.message for s in withholding.outgoing(Send(None, others))] == [others] * 4
    proposal = own_proposal()
    assert names(withholding.outgoing(Send(None, proposal))) == ["n2", "n3", "n4", "n5"]
    data = signed(chunk(OWN, (b"t",)), OWN, CHAIN)  # dissemination is not a vote: it flows
    assert len(withholding.outgoing(Send(None, data))) == 4


def test_equivocating_proposer_sends_two_valid_proposals_to_disjoint_halves() -> None:
    original = own_proposal()
    with capture_logs() as logs:
        sends = layer(Equivocate()).outgoing(Send(None, original))
        layer_again = layer(Equivocate())
        layer_again.outgoing(Send(None, original))
        layer_again.outgoing(Send(None, original))  # a re-broadcast: logged once
    by_peer = {PEERS[s.to]: s.message for s in sends}  # type: ignore[index]
    assert sorted(by_peer) == ["n2", "n3", "n4", "n5"]
    assert by_peer["n2"] == by_peer["n3"] == original
    twin = by_peer["n4"]
    assert by_peer["n5"] == twin and twin != original
    assert isinstance(twin, ProposalMessage)
    p, q = original.proposal, twin.proposal
    assert (q.height, q.round, q.pol_round, q.proposer) == (p.height, p.round, -1, p.proposer)
    assert q.verify(CHAIN) and q.batch_id == twin.batch.id != original.batch.id
    assert twin.batch.body_matches_header()
    assert twin.batch.header.timestamp_ms == original.batch.header.timestamp_ms + 1
    assert make_evidence(p, q).verify(CHAIN)  # a provable double-proposal
    events = [e for e in logs if e["event"] == "equivocated"]
    assert len(events) == 2 and events[0] == {
        "event": "equivocated",
        "kind": "proposal",
        "height": 5,
        "round": 0,
        "log_level": "warning",
    }


@pytest.mark.parametrize("value", [b"v" * 32, None])
def test_equivocating_voter_sends_two_conflicting_votes_to_every_peer(
    value: bytes | None,
) -> None:
    original = vote(value=value)
    sends = layer(Equivocate()).outgoing(Send(None, original))
    assert names(sends) == ["n2", "n2", "n3", "n3", "n4", "n4", "n5", "n5"]
    other = next(s.message for s in sends if s.message != original)
    assert isinstance(other, Vote) and other.verify(CHAIN)
    assert (other.kind, other.height, other.round) == (original.kind, 5, 1)
    assert (other.value is None) == (value is not None)
    assert make_evidence(original, other).verify(CHAIN)
    orders = {PEERS[s.to]: [] for s in sends}  # type: ignore[index]
    for s in sends:
        orders[PEERS[s.to]].append(s.message)  # type: ignore[index]
    assert orders["n2"] == orders["n3"] == [original, other]
    assert orders["n4"] == orders["n5"] == [other, original]
    # Another validator's vote is relayed untouched.
    relayed = vote(KEYS["n2"])
    assert [s.message for s in layer(Equivocate()).outgoing(Send(None, relayed))] == [relayed] * 4


def test_drop_is_reproducible_per_node_name() -> None:
    def delivered(name: str, seed: str = "") -> list[str]:
        dropping = FaultLayer(OWN, CHAIN, PEERS, name, [Drop(0.3)], seed=seed)
        return [
            f"{i}:{PEERS[s.to]}"  # type: ignore[index]
            for i in range(200)
            for s in dropping.outgoing(Send(None, vote()))
        ]

    first = delivered("n1")
    assert first == delivered("n1")
    assert first != delivered("n7")
    assert delivered("n1", "5/") == delivered("n1", "5/") != first  # the simulator's seeds
    assert 0.6 * 800 < len(first) < 0.8 * 800  # about 30% of 200 sends to 4 peers lost


def test_censor_keeps_matching_transactions_out_of_the_lane_and_sets_the_omit_predicate() -> None:
    alice = Tx("rollup-a", "alice", b"1").encoded
    bob = Tx("rollup-a", "bob", b"2").encoded
    censoring = layer(Censor("sender", "alice"))
    omit = censoring.omit
    assert omit is not None and omit(alice) and not omit(bob)

    def sent_chunks(omit: Callable[[bytes], bool] | None) -> list[SignedChunk]:
        """The chunks this node's lane sends after buffering two of alice's transactions and
        one of bob's under ``omit``."""
        outputs: list[Output] = []
        lanes = Lanes(OWN, CHAIN, NodeParams(), outputs)
        for tx in (alice, bob, Tx("rollup-a", "alice", b"3").encoded):
            lanes.add_client_tx(tx, tx_id(tx), omit)
        lanes.flush(omit)
        return [
            o.message for o in outputs if isinstance(o, Send) and isinstance(o.message, SignedChunk)
        ]

    censored = sent_chunks(omit)
    assert [c.chunk.txs for c in censored] == [(bob,)]
    # The layer does not rewrite a chunk (its digest is what peers ack): the lane did it.
    assert censoring.outgoing(Send(None, censored[0]))[0].message == censored[0]
    assert censoring.outgoing(Send(None, vote())) != []  # consensus traffic is untouched
    censoring.clear("censor")
    assert censoring.omit is None
    assert [len(c.chunk.txs) for c in sent_chunks(censoring.omit)] == [3]


def test_partition_cuts_sends_and_frames_both_ways_until_healed() -> None:
    cut = layer()
    with capture_logs() as logs:
        cut.partition(["n3", "n4"])
        assert names(cut.outgoing(Send(None, vote()))) == ["n2", "n5"]
        assert cut.outgoing(Send(KEYS["n3"].public_key, vote())) == []
        assert not cut.accepts_from(KEYS["n4"].public_key)
        assert cut.accepts_from(KEYS["n2"].public_key)
        assert cut.partitioned_from == ["n3", "n4"]
        cut.heal()
    assert cut.accepts_from(KEYS["n4"].public_key) and cut.partitioned_from == []
    assert cut.outgoing(Send(None, vote())) == [Send(None, vote())]
    assert [e["event"] for e in logs] == ["partitioned", "healed"]
    with pytest.raises(ValueError, match="not a peer of this node: n1, n9"):
        cut.partition(["n9", "n1"])


def test_faults_combine_and_clear_one_by_one_or_all() -> None:
    with capture_logs() as logs:
        faulty = layer(Withhold(), Delay(50))
        faulty.set(Delay(80))  # replaces the first delay
        faulty.set(Drop(1.0))
        assert [str(f) for f in faulty.active] == ["withhold", "delay 80", "drop 1"]
        assert faulty.delay_ms == 80
        assert faulty.outgoing(Send(None, own_proposal())) == []  # drop 1: nothing arrives
        assert [str(f) for f in faulty.clear("drop")] == ["drop 1"]
        assert faulty.clear("drop") == []
        assert len(faulty.outgoing(Send(None, own_proposal()))) == 4
        assert faulty.outgoing(Send(None, vote())) == []  # still withholding
        faulty.clear()
    assert faulty.active == [] and faulty.delay_ms == 0
    assert [e["event"] for e in logs].count("fault_set") == 4
    assert [e["event"] for e in logs].count("fault_cleared") == 3


def test_crash_and_amnesia_triggers() -> None:
    crashing = layer(Crash(40))
    assert not crashing.crash_due(39) and crashing.crash_due(40) and crashing.crash_due(41)
    assert not layer().crash_due(10**6)
    forgetful = layer(Amnesia(), Delay(5))
    assert not forgetful.amnesia_due(vote())
    batch = own_proposal().batch
    other = sign_proposal(KEYS["n2"], CHAIN, 5, 0, -1, batch.id)
    assert not forgetful.amnesia_due(ProposalMessage(other, batch))
    assert [str(f) for f in forgetful.active] == ["amnesia", "delay 5"]
    with capture_logs() as logs:
        assert forgetful.amnesia_due(own_proposal(height=5))
    # Amnesia fires once: it is gone, so `fault list` no longer shows it, and the restarted
    # replica's proposals (this height and later ones) pass untouched.
    assert [str(f) for f in forgetful.active] == ["delay 5"]
    assert [(e["event"], e["fault"]) for e in logs] == [("fault_fired", "amnesia")]
    assert not forgetful.amnesia_due(own_proposal(height=5, round=1))
    assert not forgetful.amnesia_due(own_proposal(height=6))
    forgetful.set(Amnesia())  # set again, it fires again
    assert forgetful.amnesia_due(own_proposal(height=7))
    assert not layer().amnesia_due(own_proposal(height=7))


def test_garbage_is_malformed_frames_and_badly_signed_votes_to_reachable_peers() -> None:
    assert layer().garbage(5, 0) == []
    noisy = layer(Garbage())
    noisy.partition(["n5"])
    pairs = noisy.garbage(5, 2)
    assert sorted({NAMES[p] for p, _ in pairs}) == ["n2", "n3", "n4"]
    assert len(pairs) == 6
    decoded = []
    for _, payload in pairs:
        try:
            decoded.append(decode_message(payload))
        except codec.DecodeError:
            continue
    assert len(decoded) == 3
    for message in decoded:
        assert isinstance(message, Vote) and (message.height, message.round) == (5, 2)
        assert message.validator == OWN.public_key and not message.verify(CHAIN)
    noisy.set(Mute())
    assert noisy.garbage(5, 2) == []


# ---- the fault budget ------------------------------------------------------------------------


def test_faulty_stake_must_stay_below_a_third() -> None:
    stakes = {"n1": 10, "n2": 10, "n3": 10, "n4": 10}
    assert unsafe_faults(stakes, {"n1": [Equivocate()]}) is None
    assert unsafe_faults(stakes, {"n1": []}) is None
    problem = unsafe_faults(stakes, {"n1": [Equivocate()], "n3": [Mute(), Delay(5)]})
    assert problem is not None
    for fragment in ("n1 (equivocate)", "n3 (mute, delay 5)", "20 of 40", "50.0%", "1/3"):
        assert fragment in problem
    weighted = {"a": 30, "b": 20, "c": 15, "d": 10, "e": 10, "f": 10, "g": 5}
    assert unsafe_faults(weighted, {"b": [Equivocate()], "f": [Mute()]}) is None
    assert unsafe_faults(weighted, {"a": [Mute()], "g": [Mute()]}) is not None  # 35 of 100


def write_spec(path: Path, faults: dict[str, list[str]], nodes: int = 4) -> Path:
    document = {
        "cluster": {"name": "f", "nodes": nodes},
        "nodes": {name: {"faults": specs} for name, specs in faults.items()},
    }
    path.write_text(tomli_w.dumps(document))
    return path


def test_cluster_init_and_up_refuse_a_third_of_faulty_stake(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    spec = write_spec(tmp_path / "two.toml", {"n1": ["equivocate"], "n2": ["mute"]})
    for argv in (["cluster", "up", str(spec)], ["cluster", "init", str(spec)]):
        assert main(argv) == 2
        err = capsys.readouterr().err
        assert "n1 (equivocate), n2 (mute)" in err and "50.0%" in err
        assert "--allow-unsafe" in err and "strictly below 1/3" in err
        assert len(err.strip().splitlines()) == 1
    assert not (tmp_path / "runs").exists(), "a refused config must create nothing"
    assert main(["cluster", "init", str(spec), "--dir", "c", "--allow-unsafe"]) == 0
    capsys.readouterr()
    assert main(["cluster", "up", "c"]) == 2  # the dir's node.toml faults are checked too
    assert "--allow-unsafe" in capsys.readouterr().err
    assert not (tmp_path / "c" / "cluster.json").exists()


# ---- config ----------------------------------------------------------------------------------


def test_shipped_byzantine_configs_load_and_stay_below_a_third() -> None:
    for file, faulty in (
        ("byzantine-4.toml", {"n1": ["equivocate"]}),
        ("byzantine-7-weighted.toml", {"n2": ["equivocate"], "n6": ["mute"]}),
    ):
        spec = load_cluster_spec(CONFIGS / file)
        assert {n: [str(f) for f in fs] for n, fs in spec.faults.items()} == faulty
        stakes = dict(zip(spec.node_names, spec.stakes, strict=True))
        assert unsafe_faults(stakes, spec.faults) is None


def test_init_writes_faults_admin_address_and_a_private_token(tmp_path: Path) -> None:
    spec = ClusterSpec("f", 3, faults={"n2": (Mute(), Delay(20))})
    root = init_cluster(spec, tmp_path / "c")
    tokens = {n: root / n / "admin_token" for n in ("n1", "n2", "n3")}
    for token in tokens.values():
        assert token.stat().st_mode & 0o777 == 0o600 and len(token.read_text().strip()) == 64
    configs = {n: load_node_config(root / n / "node.toml") for n in ("n1", "n2", "n3")}
    assert configs["n2"].faults == (Mute(), Delay(20)) and configs["n1"].faults == ()
    assert 'faults = [\n    "mute",\n    "delay 20",\n]' in (root / "n2" / "node.toml").read_text()
    admin = [c.admin_address for c in configs.values()]
    assert all(a is not None and a.startswith("127.0.0.1:") for a in admin)
    peers = {a for c in configs.values() for a in c.addresses[c.name]}
    assert len(set(admin) | peers) == 9, "admin ports must differ from each other and the rest"
    # One token per node: whoever holds one node's cannot drive another's admin API.
    assert {n: c.admin_token for n, c in configs.items()} == {
        n: t.read_text().strip() for n, t in tokens.items()
    }
    assert len({c.admin_token for c in configs.values()}) == 3
    with pytest.raises(SpecError, match="no node 'n9'"):
        ClusterSpec("f", 3, faults={"n9": (Mute(),)})


@pytest.mark.parametrize(
    ("nodes", "fragments"),
    [
        ({"n7": {"faults": ["mute"]}}, ["nodes.n7", "no such node", "n1..n4"]),
        ({"n1": {"faults": ["explode"]}}, ["nodes.n1.faults[0]", "unknown fault behaviour"]),
        ({"n1": {"faults": ["mute", "delay x"]}}, ["nodes.n1.faults[1]", "delay MS"]),
        ({"n1": {"faults": "mute"}}, ["nodes.n1.faults", "expected an array of strings"]),
        ({"n1": {"faults": [3]}}, ["nodes.n1.faults[0]", "expected a string"]),
        ({"n1": {"fault": ["mute"]}}, ["nodes.n1.fault", "unknown key"]),
    ],
)
def test_bad_faults_in_a_cluster_spec_name_file_and_key(
    tmp_path: Path, nodes: dict[str, object], fragments: list[str]
) -> None:
    path = tmp_path / "spec.toml"
    path.write_text(tomli_w.dumps({"cluster": {"name": "f", "nodes": 4}, "nodes": nodes}))
    with pytest.raises(ConfigError) as caught:
        load_cluster_spec(path)
    for fragment in [str(path), *fragments]:
        assert fragment in str(caught.value)


@pytest.mark.parametrize(
    ("change", "fragments"),
    [
        ({"faults": ["drop 2"]}, ["faults[0]", "drop FRACTION"]),
        ({"admin_address": "0.0.0.0:7000"}, ["admin_address", "loopback"]),
        ({"admin_address": "10.1.2.3:7000"}, ["admin_address", "loopback"]),
        ({"admin_token_file": "other"}, ["admin_token_file", "file not found"]),
        ({"admin_token_file": None}, ["admin_token_file", "missing"]),
    ],
)
def test_bad_fault_or_admin_settings_in_node_toml(
    tmp_path: Path, change: dict[str, object], fragments: list[str]
) -> None:
    root = init_cluster(ClusterSpec("f", 1), tmp_path / "c")
    path = root / "n1" / "node.toml"
    document = tomllib.loads(path.read_text())
    for key, value in change.items():
        if value is None:
            del document[key]
        else:
            document[key] = value
    path.write_text(tomli_w.dumps(document))
    with pytest.raises(ConfigError) as caught:
        load_node_config(path)
    for fragment in fragments:
        assert fragment in str(caught.value)


def test_the_admin_address_is_parsed_once_for_the_runtime(tmp_path: Path) -> None:
    root = init_cluster(ClusterSpec("f", 1), tmp_path / "c")
    path = root / "n1" / "node.toml"
    assert load_node_config(path).admin_endpoint is not None
    document = tomllib.loads(path.read_text())
    document["admin_address"] = "[::1]:7000"
    path.write_text(tomli_w.dumps(document))
    config = load_node_config(path)
    assert config.admin_endpoint == ("::1", 7000) and config.admin_address == "[::1]:7000"
    del document["admin_address"], document["admin_token_file"]
    path.write_text(tomli_w.dumps(document))
    config = load_node_config(path)
    assert config.admin_endpoint is None and config.admin_address is None


def test_an_admin_token_others_can_read_is_refused(tmp_path: Path) -> None:
    root = init_cluster(ClusterSpec("f", 1), tmp_path / "c")
    os.chmod(root / "n1" / "admin_token", 0o644)
    with pytest.raises(ConfigError, match="chmod 600"):
        load_node_config(root / "n1" / "node.toml")


# ---- the admin API ---------------------------------------------------------------------------


async def test_admin_api_needs_the_token_and_drives_the_layer() -> None:
    faults = layer()
    changes: list[int] = []
    server = AdminServer(faults, "s3cret", lambda: changes.append(1))
    async with trio.open_nursery() as nursery:
        port = await nursery.start(server.serve, "127.0.0.1", 0)
        address = f"127.0.0.1:{port}"
        with capture_logs() as logs:
            async with await Client.connect(address) as client:
                with pytest.raises(ApiError, match="wrong or missing admin token"):
                    await client.call("fault_set", token="s3cre", spec="mute")
                with pytest.raises(ApiError, match="failed"):  # the node closed the connection
                    await client.call("fault_list", token="s3cret")
            async with await Client.connect(address) as client:
                with pytest.raises(ApiError, match="wrong or missing admin token"):
                    await client.call("fault_list")
        assert [e["event"] for e in logs] == ["admin_refused", "admin_refused"]
        assert faults.active == [] and changes == []

        async with await Client.connect(address) as client:
            answer = await client.call("fault_set", token="s3cret", spec="delay 30")
            assert answer == {"faults": ["delay 30"], "partitioned_from": []}
            await client.call("fault_set", token="s3cret", spec="censor sender=eve")
            answer = await client.call("partition", token="s3cret", peers=["n3"])
            assert answer == {
                "faults": ["delay 30", "censor sender=eve"],
                "partitioned_from": ["n3"],
            }
            with pytest.raises(ApiError, match="unknown fault behaviour 'nap'"):
                await client.call("fault_set", token="s3cret", spec="nap 3")
            with pytest.raises(ApiError, match="not a peer of this node: n9"):
                await client.call("partition", token="s3cret", peers=["n9"])
            with pytest.raises(ApiError, match="unknown admin method"):
                await client.call("shutdown", token="s3cret")
            await client.call("fault_clear", token="s3cret", behaviour="delay")
            await client.call("heal", token="s3cret")
            answer = await client.call("fault_list", token="s3cret")
            assert answer == {"faults": ["censor sender=eve"], "partitioned_from": []}
            answer = await client.call("fault_clear", token="s3cret")
            assert answer == {"faults": [], "partitioned_from": []}
        assert len(changes) == 7  # every successful call, after it was answered
        nursery.cancel_scope.cancel()


async def test_admin_consensus_state_needs_the_token_and_changes_nothing() -> None:
    faults = layer()
    changes: list[int] = []
    dump = {"name": "n1", "consensus": {"height": 7, "rounds": []}, "timers": []}
    server = AdminServer(faults, "s3cret", lambda: changes.append(1), consensus=lambda: dump)
    bare = AdminServer(layer(), "s3cret", lambda: None)  # a server given no consensus view
    async with trio.open_nursery() as nursery:
        port = await nursery.start(server.serve, "127.0.0.1", 0)
        bare_port = await nursery.start(bare.serve, "127.0.0.1", 0)
        with capture_logs() as logs:
            async with await Client.connect(f"127.0.0.1:{port}") as client:
                with pytest.raises(ApiError, match="wrong or missing admin token"):
                    await client.call("consensus_state")
        assert [e["event"] for e in logs] == ["admin_refused"]
        async with await Client.connect(f"127.0.0.1:{port}") as client:
            with pytest.raises(ApiError, match="bad request for consensus_state"):
                await client.call("consensus_state", token="s3cret", height=3)
            answer = await client.call("consensus_state", token="s3cret")
        assert answer == {**dump, "faults": [], "partitioned_from": []}
        assert changes == []  # a read: the fault hook did not run
        async with await Client.connect(f"127.0.0.1:{bare_port}") as client:
            with pytest.raises(ApiError, match="serves no consensus state"):
                await client.call("consensus_state", token="s3cret")
        nursery.cancel_scope.cancel()


async def test_admin_api_listens_on_loopback_only() -> None:
    server = AdminServer(layer(), "t", lambda: None)
    for host in ("0.0.0.0", "192.168.1.1", "::", "host1", "localhost.example.org"):
        with pytest.raises(ValueError, match="loopback only"):
            await server.serve(host, 0)
    async with trio.open_nursery() as nursery:
        await nursery.start(server.serve, "127.0.0.1", 0)
        nursery.cancel_scope.cancel()


# ---- command line ----------------------------------------------------------------------------


def test_partition_groups_cut_each_named_node_off_from_the_other_groups() -> None:
    nodes = ["n1", "n2", "n3", "n4", "n5"]
    assert partition_cuts("n1,n2|n3,n4", nodes) == {
        "n1": ["n3", "n4"],
        "n2": ["n3", "n4"],
        "n3": ["n1", "n2"],
        "n4": ["n1", "n2"],
    }
    assert partition_cuts(" n1 | n2 | n3 ", nodes) == {
        "n1": ["n2", "n3"],
        "n2": ["n1", "n3"],
        "n3": ["n1", "n2"],
    }
    for text, message in (
        ("n1,n2", "at least two groups"),
        ("n1||n2", "empty node name or group"),
        ("n1,|n2", "empty node name or group"),
        ("n1|n9", "no node 'n9'"),
        ("n1,n2|n2", "n2 named more than once"),
    ):
        with pytest.raises(UsageError, match=message):
            partition_cuts(text, nodes)


def test_fault_commands_give_one_clear_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = str(init_cluster(ClusterSpec("f", 2), tmp_path / "c"))  # initialised, not running
    for argv, message, code in (
        (["fault", "set", "n1", "delay", "abc"], "MS must be a whole number", 2),
        (["fault", "set", "n1", "nap"], "unknown fault behaviour 'nap'", 2),
        (["fault", "clear", "n1", "nap"], "unknown fault behaviour 'nap'", 2),
        (["fault", "set", "n9", "mute"], "no node 'n9'", 2),
        (
            ["fault", "set", "n1", "mute", "--allow-unsafe"],
            "n1: cannot reach node at 127.0.0.1:",
            1,
        ),
        (["cluster", "partition", "n1|n7"], "no node 'n7'", 2),
    ):
        assert main([*argv, "--dir", root]) == code
        err = capsys.readouterr().err
        assert message in err and "Traceback" not in err
        assert len(err.strip().splitlines()) == 1
    assert main(["fault", "list", "--json", "--dir", root]) == 1  # nobody answers
    listed = json.loads(capsys.readouterr().out)
    assert sorted(listed) == ["n1", "n2"] and "cannot reach" in listed["n1"]["error"]
