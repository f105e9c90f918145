"""The evidence log: record schema, the append-only file, and offline re-verification catching
every kind of tampering."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import msgpack
import pytest
from helpers.evidence import (
    CHAIN,
    GENESIS,
    KEYS,
    TIME_MS,
    duplicate_proposal,
    duplicate_vote,
    record,
    slash_record,
)

from sequencer_net import codec
from sequencer_net.crypto import PrivateKey, digest
from sequencer_net.evidence_log import (
    EvidenceLog,
    EvidenceLogError,
    make_record,
    read_log,
    verify_records,
)
from sequencer_net.genesis import ChainParams, Genesis
from sequencer_net.types import (
    DuplicateVote,
    Evidence,
    Vote,
    VoteKind,
    sign_vote,
)
from sequencer_net.validators import Validator


def good_records() -> list[dict[str, Any]]:
    return [
        record(duplicate_vote("n2")),
        record(duplicate_vote("n3", VoteKind.PRECOMMIT), reporter="n2"),
        record(duplicate_proposal("n4"), committed_height=9),
    ]


def problems(records: list[dict[str, Any]], genesis: Genesis = GENESIS) -> list[str]:
    return [p.message for p in verify_records(records, genesis)]


# ---- the record --------------------------------------------------------------------------


def test_record_spells_out_both_messages_and_the_slash() -> None:
    evidence = duplicate_vote("n2", VoteKind.PRECOMMIT)
    assert isinstance(evidence, DuplicateVote)
    r = record(evidence)
    assert tuple(r) == (
        "id",
        "chain_id",
        "time",
        "time_ms",
        "kind",
        "height",
        "round",
        "offender",
        "messages",
        "evidence",
        "stake_before",
        "stake_after",
        "committed_height",
        "reporter",
    )
    assert r["chain_id"] == CHAIN
    assert r["time"] == "2025-01-01T12:00:00.123Z" and r["time_ms"] == TIME_MS
    assert (r["kind"], r["height"], r["round"]) == ("duplicate_precommit", 5, 1)
    assert r["offender"] == {"name": "n2", "public_key": KEYS["n2"].public_key.hex()}
    assert r["reporter"] == {"name": "n1", "public_key": KEYS["n1"].public_key.hex()}
    assert (r["stake_before"], r["stake_after"], r["committed_height"]) == (100, 95, 7)
    first = evidence.first
    assert r["messages"][0] == {
        "kind": "precommit",
        "height": 5,
        "round": 1,
        "value": first.value.hex() if first.value else None,
        "validator": KEYS["n2"].public_key.hex(),
        "signature": first.signature.hex(),
    }
    assert {r["messages"][0]["value"], r["messages"][1]["value"]} == {None, digest(b"batch").hex()}
    assert codec.decode(bytes.fromhex(r["evidence"]), Evidence) == evidence
    json.dumps(r)  # plain JSON, nothing left as bytes


def test_proposal_record_has_every_proposal_field() -> None:
    r = record(duplicate_proposal("n4"))
    assert r["kind"] == "duplicate_proposal" and r["round"] == 2
    assert set(r["messages"][0]) == {
        "height",
        "round",
        "pol_round",
        "batch_id",
        "proposer",
        "signature",
    }
    assert r["messages"][0]["pol_round"] == -1


def test_unknown_keys_get_no_name() -> None:
    r = make_record(slash_record(duplicate_vote("n2")), CHAIN, {})
    assert r["offender"]["name"] is None and r["reporter"]["name"] is None


# ---- the file ----------------------------------------------------------------------------


def test_append_creates_then_only_appends(tmp_path: Path) -> None:
    path = tmp_path / "evidence.jsonl"
    log = EvidenceLog(path)
    assert log.ids() == set()
    first, second, third = good_records()
    log.append([first])
    before = path.read_bytes()
    log.append([second, third])
    log.append([])
    assert path.read_bytes().startswith(before)
    assert len(path.read_bytes().splitlines()) == 3
    assert read_log(path) == [first, second, third]
    assert log.ids() == {first["id"], second["id"], third["id"]}


@pytest.mark.parametrize("before", [0, 1])
def test_a_torn_last_line_is_ignored_then_cut_before_the_next_append(
    tmp_path: Path, before: int
) -> None:
    path = tmp_path / "evidence.jsonl"
    first, second, _ = good_records()
    log = EvidenceLog(path)
    log.append([first][:before])
    with path.open("ab") as f:
        f.write(json.dumps(second).encode()[:50])  # a crash in the middle of a write
    assert log.ids() == ({first["id"]} if before else set())
    with pytest.raises(EvidenceLogError, match=f"line {before + 1}"):
        read_log(path)
    log.append([second])
    assert read_log(path) == [first, second][-1 - before :]


def test_a_whole_last_line_without_newline_is_kept(tmp_path: Path) -> None:
    """A hand-edited log may lose its final newline; that record is not a torn write."""
    path = tmp_path / "evidence.jsonl"
    first, second, _ = good_records()
    path.write_text(json.dumps(first))
    assert read_log(path) == [first] and EvidenceLog(path).ids() == {first["id"]}
    EvidenceLog(path).append([second])
    assert read_log(path) == [first, second]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b'{"id": "a"}\nnot json\n', "line 2: not valid JSON"),
        (b"[1, 2]\n", "line 1: not a JSON object"),
        (b'{"id": "a"}\n\n', "line 2: not valid JSON"),
    ],
)
def test_malformed_lines_name_file_and_line(tmp_path: Path, content: bytes, message: str) -> None:
    path = tmp_path / "evidence.jsonl"
    path.write_bytes(content)
    with pytest.raises(EvidenceLogError, match=message) as caught:
        read_log(path)
    assert str(path) in str(caught.value)


def test_missing_log_is_an_error_for_read_but_empty_for_ids(tmp_path: Path) -> None:
    with pytest.raises(EvidenceLogError, match="file not found"):
        read_log(tmp_path / "nope.jsonl")
    assert EvidenceLog(tmp_path / "nope.jsonl").ids() == set()


# ---- verification: the good case ---------------------------------------------------------


def test_good_records_verify(tmp_path: Path) -> None:
    path = tmp_path / "evidence.jsonl"
    EvidenceLog(path).append(good_records())
    assert verify_records(read_log(path), GENESIS) == []


def test_the_same_record_twice_is_fine() -> None:
    r = record(duplicate_vote("n2"))
    assert problems([r, copy.deepcopy(r)]) == []


def test_age_limit_is_inclusive() -> None:
    age = GENESIS.params.max_evidence_age
    assert problems([record(duplicate_vote("n2", height=5), committed_height=5 + age)]) == []
    assert problems([record(duplicate_vote("n2", height=5), committed_height=5)]) == []


def test_slash_rule_uses_genesis_params() -> None:
    params = ChainParams(slash_fraction_ppm=0)
    genesis = Genesis(CHAIN, GENESIS.validators, params=params)
    unslashed = record(duplicate_vote("n2"), stake_after=100)
    assert problems([unslashed], genesis) == []
    assert any("stake_after 100 is not 95" in p for p in problems([unslashed]))


# ---- verification: tampering -------------------------------------------------------------

Tamper = Callable[[dict[str, Any]], None]


def _set(path: str, value: Any) -> Tamper:
    """Set a field given as a dotted path with list indices, e.g. ``messages.0.round``."""

    def tamper(r: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        target: Any = r
        for part in parents:
            target = target[int(part)] if isinstance(target, list) else target[part]
        target[int(last) if isinstance(target, list) else last] = value

    return tamper


def _flip_evidence_byte(r: dict[str, Any]) -> None:
    raw = bytearray(bytes.fromhex(r["evidence"]))
    raw[-1] ^= 1
    r["evidence"] = raw.hex()


def _swap_messages(r: dict[str, Any]) -> None:
    r["messages"].reverse()


def _add_field(r: dict[str, Any]) -> None:
    r["note"] = "harmless?"


def _drop_field(r: dict[str, Any]) -> None:
    del r["round"]


def _other_sig(r: dict[str, Any]) -> None:
    sig = bytearray(bytes.fromhex(r["messages"][1]["signature"]))
    sig[10] ^= 0xFF
    r["messages"][1]["signature"] = sig.hex()


OTHER_KEY = PrivateKey.from_label("stranger").public_key.hex()


@pytest.mark.parametrize(
    ("tamper", "expected"),
    [
        (_set("id", "00" * 32), "id: recorded"),
        (_set("chain_id", "other-chain"), "chain_id: recorded"),
        (_set("time", "2030-01-01T00:00:00.000Z"), "time: recorded"),
        (_set("time_ms", TIME_MS + 1), "time: recorded"),
        (_set("time_ms", 10**20), "time_ms: 100000000000000000000 is not a representable time"),
        (_set("kind", "duplicate_precommit"), "kind: recorded"),
        (_set("height", 4), "height: recorded"),
        (_set("round", 0), "round: recorded"),
        (_set("round", "1"), "round: recorded"),
        (_set("offender.name", "n3"), "offender.name: recorded"),
        (_set("offender.public_key", KEYS["n3"].public_key.hex()), "offender.public_key"),
        (_set("messages.0.height", 6), "messages[0].height: recorded"),
        (_set("messages.0.kind", "precommit"), "messages[0].kind: recorded"),
        (_set("messages.1.value", "ab" * 32), "messages[1].value: recorded"),
        (_set("messages.0.validator", OTHER_KEY), "messages[0].validator: recorded"),
        (_other_sig, "messages[1].signature: recorded"),
        (_swap_messages, "messages[0].signature: recorded"),
        (_set("messages", []), "messages: recorded"),
        (_flip_evidence_byte, "second message: signature does not verify"),
        (_set("evidence", "zz"), "evidence does not decode"),
        (_set("evidence", 42), "evidence: missing or not a hex string"),
        (_set("stake_before", 90), "stake_before 90 is not n2's genesis stake 100"),
        (_set("stake_after", 96), "stake_after 96 is not 95"),
        (_set("stake_after", -1), "stake_after: expected a non-negative integer"),
        (_set("committed_height", 4), "committed earlier, at 4"),
        (_set("committed_height", 106), "older than max_evidence_age 100"),
        (_set("committed_height", True), "committed_height: expected a non-negative integer"),
        (_set("reporter.name", "n2"), "reporter.name: recorded"),
        (_set("reporter.public_key", OTHER_KEY), "is not a genesis validator"),
        (_set("reporter.public_key", "abc"), "reporter.public_key: expected 64 hex digits"),
        (_add_field, "note: unexpected field"),
        (_drop_field, "round: missing"),
    ],
)
def test_tampering_with_any_field_is_caught(tamper: Tamper, expected: str) -> None:
    r = record(duplicate_vote("n2"))
    tamper(r)
    found = problems([r])
    assert any(expected in p for p in found), found


def _forged(evidence: DuplicateVote) -> DuplicateVote:
    """``evidence`` with one bit of the first signature flipped, keeping signature order."""
    first = evidence.first
    bad = bytes([*first.signature[:-1], first.signature[-1] ^ 1])
    forged = Vote(first.kind, first.height, first.round, first.value, first.validator, bad)
    return DuplicateVote(forged, evidence.second)


def test_a_bad_signature_is_caught_even_with_every_field_recomputed() -> None:
    evidence = duplicate_vote("n2")
    assert isinstance(evidence, DuplicateVote)
    found = problems([record(_forged(evidence))])
    assert found == [f"first message: signature does not verify for chain {CHAIN!r}"]


def test_evidence_signed_for_another_chain_is_caught() -> None:
    found = problems([record(duplicate_vote("n2", chain="other-chain"))])
    assert len(found) == 2 and all("does not verify" in p for p in found)


def _hand_made(first: Vote, second: Vote) -> dict[str, Any]:
    """A record whose evidence bytes encode two votes as given, bypassing DuplicateVote's own
    checks (an attacker need not use our constructor)."""
    r = record(duplicate_vote("n2"))
    tag = codec.to_wire(duplicate_vote("n2"))[0]
    r["evidence"] = msgpack.packb(
        [tag, codec.to_wire(first), codec.to_wire(second)], use_bin_type=True
    ).hex()
    return r


@pytest.mark.parametrize(
    ("make_pair", "expected"),
    [
        (
            lambda: (
                sign_vote(KEYS["n2"], CHAIN, VoteKind.PREVOTE, 5, 1, None),
                sign_vote(KEYS["n3"], CHAIN, VoteKind.PREVOTE, 5, 1, digest(b"x")),
            ),
            "different validators",
        ),
        (
            lambda: (
                sign_vote(KEYS["n2"], CHAIN, VoteKind.PREVOTE, 5, 1, None),
                sign_vote(KEYS["n2"], CHAIN, VoteKind.PREVOTE, 6, 1, digest(b"x")),
            ),
            "do not conflict",
        ),
        (
            lambda: (
                sign_vote(KEYS["n2"], CHAIN, VoteKind.PREVOTE, 5, 1, None),
                sign_vote(KEYS["n2"], CHAIN, VoteKind.PREVOTE, 5, 2, digest(b"x")),
            ),
            "do not conflict",
        ),
        (
            lambda: (
                sign_vote(KEYS["n2"], CHAIN, VoteKind.PREVOTE, 5, 1, None),
                sign_vote(KEYS["n2"], CHAIN, VoteKind.PRECOMMIT, 5, 1, digest(b"x")),
            ),
            "do not conflict",
        ),
        (
            lambda: (
                sign_vote(KEYS["n2"], CHAIN, VoteKind.PREVOTE, 5, 1, None),
                sign_vote(KEYS["n2"], CHAIN, VoteKind.PREVOTE, 5, 1, None),
            ),
            "same value",
        ),
        (
            lambda: sorted(
                (
                    sign_vote(KEYS["n2"], CHAIN, VoteKind.PREVOTE, 5, 1, None),
                    sign_vote(KEYS["n2"], CHAIN, VoteKind.PREVOTE, 5, 1, digest(b"x")),
                ),
                key=lambda v: v.signature,
                reverse=True,
            ),
            "ordered by signature",
        ),
    ],
)
def test_evidence_that_is_not_an_equivocation_is_refused(
    make_pair: Callable[[], tuple[Vote, Vote]], expected: str
) -> None:
    found = problems([_hand_made(*make_pair())])
    assert len(found) == 1 and "evidence does not decode" in found[0] and expected in found[0]


def test_wrong_genesis_is_caught() -> None:
    records = good_records()
    other_chain = Genesis("other-chain", GENESIS.validators)
    assert any("chain_id: recorded" in p for p in problems(records, other_chain))
    assert any(
        "does not verify for chain 'other-chain'" in p for p in problems(records, other_chain)
    )
    richer = Genesis(
        CHAIN, tuple(Validator(v.name, v.public_key, 1000) for v in GENESIS.validators)
    )
    assert any("genesis stake 1000" in p for p in problems(records, richer))
    without_n2 = Genesis(CHAIN, tuple(v for v in GENESIS.validators if v.name != "n2"))
    found = problems(records[:1], without_n2)
    assert any("is not a genesis validator" in p for p in found)
    assert any("offender.name: recorded" in p for p in found)


def test_an_offender_is_slashed_only_once() -> None:
    first = record(duplicate_vote("n2"))
    second = record(duplicate_vote("n2", VoteKind.PRECOMMIT))
    found = verify_records([first, second], GENESIS)
    assert [(p.index, p.id) for p in found] == [(1, second["id"])]
    assert "already slashed by" in found[0].message


def test_problems_name_the_record() -> None:
    records = good_records()
    records[2]["stake_after"] = 0
    [problem] = verify_records(records, GENESIS)
    assert (problem.index, problem.id) == (2, records[2]["id"])
