"""`sequencer-net evidence list|show|verify` on logs written into a cluster dir, and
`sequencer-net validators` against a faked node status (the lead's integration test covers
a real node)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from helpers.cli import run
from helpers.evidence import GENESIS, KEYS, duplicate_proposal, duplicate_vote, record

from sequencer_net.commands import evidence as evidence_commands
from sequencer_net.config import Addresses, write_genesis
from sequencer_net.evidence_log import FILENAME, EvidenceLog
from sequencer_net.types import VoteKind

NODES = list(KEYS)


pytestmark = pytest.mark.usefixtures("wide_terminal")


@pytest.fixture
def records() -> list[dict[str, Any]]:
    return [
        record(duplicate_vote("n2")),
        record(duplicate_proposal("n4"), committed_height=9, reporter="n3"),
    ]


@pytest.fixture
def cluster(tmp_path: Path, records: list[dict[str, Any]]) -> Path:
    """A cluster dir: every node logged the first record, n1 and n2 also the second, n4 has
    no log at all (it never committed evidence)."""
    root = tmp_path / "cluster"
    root.mkdir()
    addresses = {
        name: Addresses(f"127.0.0.1:{27000 + i}", f"127.0.0.1:{27100 + i}")
        for i, name in enumerate(NODES)
    }
    write_genesis(root / "genesis.toml", GENESIS, addresses)
    for name in NODES:
        (root / name / "data").mkdir(parents=True)
    for name in ("n1", "n2", "n3"):
        EvidenceLog(root / name / "data" / FILENAME).append(records[:1])
    for name in ("n1", "n2"):
        EvidenceLog(root / name / "data" / FILENAME).append(records[1:])
    return root


def run_json(capsys: pytest.CaptureFixture[str], *argv: str | Path) -> Any:
    code, out, _ = run(capsys, *argv, "--json")
    assert code == 0
    return json.loads(out)


# ---- list --------------------------------------------------------------------------------


def test_list_merges_the_nodes_logs_by_id(
    cluster: Path, records: list[dict[str, Any]], capsys: pytest.CaptureFixture[str]
) -> None:
    listed = run_json(capsys, "evidence", "list", "--dir", cluster)
    assert [r["id"] for r in listed] == [r["id"] for r in records]
    assert [r["nodes"] for r in listed] == [["n1", "n2", "n3"], ["n1", "n2"]]
    assert [r["differs"] for r in listed] == [[], []]
    assert {k: v for k, v in listed[0].items() if k not in ("nodes", "differs")} == records[0]

    code, out, _ = run(capsys, "evidence", "list", "--dir", cluster)
    assert code == 0
    assert records[0]["id"][:12] in out and records[1]["id"][:12] in out
    assert "prevote" in out and "proposal" in out
    assert "100 → 95" in out and "40 → 38" in out and "n1, n2, n3" in out


def test_list_flags_a_node_whose_copy_differs(
    cluster: Path, records: list[dict[str, Any]], capsys: pytest.CaptureFixture[str]
) -> None:
    log = cluster / "n3" / "data" / FILENAME
    log.unlink()
    EvidenceLog(log).append([{**records[0], "committed_height": 8}])
    listed = run_json(capsys, "evidence", "list", "--dir", cluster)
    assert listed[0]["nodes"] == ["n1", "n2", "n3"] and listed[0]["differs"] == ["n3"]
    code, out, _ = run(capsys, "evidence", "list", "--dir", cluster)
    assert code == 0 and "(n3: different copy)" in out


def test_list_defaults_to_the_cluster_started_last(
    cluster: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(cluster.parent)
    (cluster.parent / "runs").mkdir()
    (cluster.parent / "runs" / ".current").write_text(f"{cluster}\n")
    assert len(run_json(capsys, "evidence", "list")) == 2


@pytest.mark.parametrize(
    ("where", "count", "nodes"),
    [
        (["--node", "n3"], 1, ["n3"]),
        (["--node", "n4"], 0, []),
        (["--dir", "{root}/n2/data"], 2, ["n2"]),
        (["--dir", "{root}/n1"], 2, ["n1"]),
    ],
)
def test_list_one_node(
    cluster: Path,
    where: list[str],
    count: int,
    nodes: list[str],
    capsys: pytest.CaptureFixture[str],
) -> None:
    argv = [w.format(root=cluster) for w in where]
    if "--node" in argv:
        argv += ["--dir", str(cluster)]
    listed = run_json(capsys, "evidence", "list", *argv)
    assert len(listed) == count
    assert all(r["nodes"] == nodes for r in listed)


def test_hand_edited_fields_are_shown_as_text(
    cluster: Path, records: list[dict[str, Any]], capsys: pytest.CaptureFixture[str]
) -> None:
    edited = {**records[0], "offender": {"name": "[/x] [bold]n2", "public_key": "ab"}}
    del edited["kind"]
    EvidenceLog(cluster / "n4" / "data" / FILENAME).append([{**edited, "id": "ab" * 32}])
    code, out, _ = run(capsys, "evidence", "list", "--dir", cluster)
    assert code == 0 and "[/x] [bold]n2" in out
    code, out, _ = run(capsys, "evidence", "show", "abab", "--dir", cluster)
    assert code == 0 and "[/x] [bold]n2" in out and re.search(r"│ kind +│ \? +│", out)


def test_list_with_no_evidence_says_so(cluster: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "evidence", "list", "--dir", cluster, "--node", "n4")
    assert code == 0 and "no evidence committed" in out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--dir", "{root}/nowhere"], "no such directory"),
        (["--dir", "{root}", "--node", "n9"], "no node 'n9'"),
        (["--dir", "{root}/n1/data", "--node", "n1"], "--node needs a cluster dir"),
    ],
)
def test_list_bad_arguments_give_one_line(
    cluster: Path, argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run(capsys, "evidence", "list", *(a.format(root=cluster) for a in argv))
    assert code == 2 and message in err and "Traceback" not in err
    assert err.count("\n") == 1


def test_list_without_a_cluster_explains(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    code, _, err = run(capsys, "evidence", "list")
    assert code == 2 and "no cluster given" in err


def test_a_malformed_log_names_file_and_line(
    cluster: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    log = cluster / "n3" / "data" / FILENAME
    with log.open("a") as f:
        f.write("{oops\n")
    code, _, err = run(capsys, "evidence", "list", "--dir", cluster)
    assert code == 2 and f"{log}: line 2: not valid JSON" in err and "Traceback" not in err


# ---- show --------------------------------------------------------------------------------


def test_show_prints_both_messages_in_full(
    cluster: Path, records: list[dict[str, Any]], capsys: pytest.CaptureFixture[str]
) -> None:
    wanted = records[0]
    code, out, _ = run(capsys, "evidence", "show", wanted["id"][:8], "--dir", cluster)
    assert code == 0
    assert "signed message 1" in out and "signed message 2" in out
    for message in wanted["messages"]:
        assert message["signature"][:40] in out.replace("\n", "").replace(" ", "").replace("│", "")
    assert "prevote" in out and "nil" in out and "100 → 95" in out

    shown = run_json(capsys, "evidence", "show", wanted["id"][:8].upper(), "--dir", cluster)
    assert shown == {**wanted, "nodes": ["n1", "n2", "n3"], "differs": []}


def test_show_refuses_ambiguous_and_unknown_ids(
    cluster: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # More records until two ids share a first hex digit, to have an ambiguous prefix.
    log = EvidenceLog(cluster / "n1" / "data" / FILENAME)
    seen = {i[0] for i in log.ids()}
    height = 10
    while True:
        extra = record(duplicate_vote("n3", VoteKind.PRECOMMIT, height), committed_height=height)
        if extra["id"][0] in seen:
            break
        height += 1
    log.append([extra])
    code, _, err = run(capsys, "evidence", "show", extra["id"][0], "--dir", cluster)
    assert code == 2 and "ambiguous" in err
    unknown = next(c for c in "0123456789abcdef" if c not in seen | {extra["id"][0]})
    code, _, err = run(capsys, "evidence", "show", unknown * 6, "--dir", cluster)
    assert code == 2 and "no evidence with id" in err
    code, _, err = run(capsys, "evidence", "show", "xyz", "--dir", cluster)
    assert code == 2 and "not a hex evidence id" in err


# ---- verify ------------------------------------------------------------------------------


def test_verify_a_good_log(cluster: Path, capsys: pytest.CaptureFixture[str]) -> None:
    log, genesis = cluster / "n1" / "data" / FILENAME, cluster / "genesis.toml"
    code, out, _ = run(capsys, "evidence", "verify", log, "--genesis", genesis)
    lines = out.splitlines()
    assert code == 0 and len(lines) == 3
    assert lines[0].endswith(": ok") and lines[1].endswith(": ok")
    assert "2 record(s): 2 verified, 0 failed" in lines[2]

    report = run_json(capsys, "evidence", "verify", log, "--genesis", genesis)
    assert report["ok"] and report["verified"] == 2 and report["failed"] == 0
    assert [r["line"] for r in report["results"]] == [1, 2]


def test_verify_a_tampered_log_fails(
    tmp_path: Path,
    cluster: Path,
    records: list[dict[str, Any]],
    capsys: pytest.CaptureFixture[str],
) -> None:
    log = tmp_path / FILENAME
    tampered = {**records[1], "stake_after": 40}
    EvidenceLog(log).append([records[0], tampered])
    genesis = cluster / "genesis.toml"
    code, out, _ = run(capsys, "evidence", "verify", log, "--genesis", genesis)
    assert code == 1
    lines = out.splitlines()
    assert lines[0].endswith(": ok") and lines[1].endswith(": FAIL")
    assert "stake_after 40 is not 38" in lines[2]
    assert "1 verified, 1 failed" in lines[-1]

    report = json.loads(run(capsys, "evidence", "verify", log, "--genesis", genesis, "--json")[1])
    assert not report["ok"] and report["results"][1]["problems"]


def test_verify_a_malformed_log_fails_naming_the_line(
    tmp_path: Path, cluster: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    log = tmp_path / FILENAME
    log.write_text('{"id": "ab"}\nnot json\n')
    code, out, _ = run(capsys, "evidence", "verify", log, "--genesis", cluster / "genesis.toml")
    assert code == 1 and "line 2: not valid JSON" in out


def test_verify_an_empty_log_fails_in_one_line(
    tmp_path: Path, cluster: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Nothing verified is not a pass: a script must not read an empty log as clean."""
    log = tmp_path / FILENAME
    log.write_bytes(b"")
    genesis = cluster / "genesis.toml"
    code, out, _ = run(capsys, "evidence", "verify", log, "--genesis", genesis)
    assert code == 1 and out == f"FAIL {log}: no evidence records in the file\n"
    code, out, _ = run(capsys, "evidence", "verify", log, "--genesis", genesis, "--json")
    assert code == 1 and not json.loads(out)["ok"]


def test_verify_against_another_chains_genesis_says_wrong_chain(
    tmp_path: Path, cluster: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    log = cluster / "n1" / "data" / FILENAME
    other = tmp_path / "other-genesis.toml"
    ours = (cluster / "genesis.toml").read_text()
    theirs = ours.replace(f'chain_id = "{GENESIS.chain_id}"', 'chain_id = "another-chain"')
    assert theirs != ours
    other.write_text(theirs)
    code, out, _ = run(capsys, "evidence", "verify", log, "--genesis", other)
    assert code == 1
    [line] = out.splitlines()  # one line, not a signature failure for every record
    assert line.startswith("FAIL wrong chain: ")
    assert f"chain {GENESIS.chain_id!r}" in line and "chain 'another-chain'" in line
    code, out, _ = run(capsys, "evidence", "verify", log, "--genesis", other, "--json")
    report = json.loads(out)
    assert code == 1 and not report["ok"]
    assert (report["chain_id"], report["record_chain_ids"]) == ("another-chain", [GENESIS.chain_id])


@pytest.mark.parametrize(
    ("file", "genesis", "message"),
    [
        ("missing.jsonl", "{root}/genesis.toml", "no such file"),
        ("{root}/n1/data/evidence.jsonl", "{root}/none.toml", "file not found"),
        ("{root}/n1/data/evidence.jsonl", "{root}/n1/data/evidence.jsonl", "invalid TOML"),
    ],
)
def test_verify_usage_errors_exit_2(
    cluster: Path, file: str, genesis: str, message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["evidence", "verify", file.format(root=cluster), "--genesis"]
    code, _, err = run(capsys, *argv, genesis.format(root=cluster))
    assert code == 2 and message in err and "Traceback" not in err


# ---- validators --------------------------------------------------------------------------


def _fake_status(with_slashing_fields: bool) -> dict[str, Any]:
    validators = [
        {"name": "n2", "power": 95, "jailed": True, "slashed": True, "evidence": 1},
        {"name": "n1", "power": 100, "jailed": False, "slashed": False, "evidence": 0},
        {"name": "n4", "power": 40, "jailed": False, "slashed": False, "evidence": 0},
        {"name": "n3", "power": 100, "jailed": False, "slashed": False, "evidence": 0},
    ]
    if not with_slashing_fields:
        for v in validators:
            del v["slashed"], v["evidence"]
    return {"name": "n1", "chain_id": GENESIS.chain_id, "height": 12, "validators": validators}


@pytest.mark.parametrize("with_slashing_fields", [True, False])
def test_validators_from_a_node_status(
    cluster: Path,
    with_slashing_fields: bool,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    calls: list[tuple[str, str]] = []

    def fake_call(address: str, method: str) -> dict[str, Any]:
        calls.append((address, method))
        return _fake_status(with_slashing_fields)

    monkeypatch.setattr(evidence_commands, "_call", fake_call)
    answer = run_json(capsys, "validators", "--dir", cluster, "--node", "n2")
    assert calls == [("127.0.0.1:27101", "status")]
    assert answer["height"] == 12 and answer["node"] == "n2"
    rows = answer["validators"]
    assert [r["name"] for r in rows] == NODES  # genesis order
    assert rows[1] == {
        "name": "n2",
        "genesis_stake": 100,
        "stake": 95,
        "jailed": True,
        "slashed": True if with_slashing_fields else None,
        "evidence": 1 if with_slashing_fields else None,
    }

    code, out, _ = run(capsys, "validators", "--dir", cluster, "--node", "n2")
    assert code == 0 and "validators at height 12" in out
    n2 = next(line for line in out.splitlines() if " n2 " in line)
    assert "100" in n2 and "95" in n2 and "yes" in n2
    if not with_slashing_fields:
        assert "-" in n2


def test_validators_by_address_without_a_cluster_leaves_genesis_stake_unknown(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(evidence_commands, "_call", lambda a, m: _fake_status(True))
    answer = run_json(capsys, "validators", "--node", "127.0.0.1:27100")
    assert all(r["genesis_stake"] is None for r in answer["validators"])


def test_validators_unreachable_node_is_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "validators", "--node", "127.0.0.1:1")
    assert code == 1 and "cannot reach node at 127.0.0.1:1" in err and "Traceback" not in err
