"""Early release of decryption shares as evidence: the `leak-shares` forgery is caught by an
honest node that holds the transaction (also when the shares come before its chunk), the
evidence round-trips on the wire, passes the evidence rules only with the chain's word that
the claimed height did not commit it, and its evidence-log record verifies offline."""

from __future__ import annotations

from dataclasses import replace

from helpers.private import GENESIS, KEYS, SHARES, Entry, encrypted_txs

from sequencer_net import codec
from sequencer_net.evidence import SlashRecord, evidence_problem
from sequencer_net.evidence_log import make_record, verify_records
from sequencer_net.faults.leak import early_shares
from sequencer_net.replica.decryption import Decryption
from sequencer_net.replica.outputs import Output
from sequencer_net.threshold.leak import EarlyRelease, leak_problem, release_problem
from sequencer_net.types import Chunk, Evidence

NAMES = {v.public_key: v.name for v in GENESIS.validators}


def _leak() -> tuple[list[bytes], EarlyRelease]:
    txs, _ = encrypted_txs(2)
    chunk = Chunk(KEYS["n2"].public_key, 0, tuple(txs))
    message = early_shares(SHARES[1], KEYS["n2"], GENESIS.chain_id, 1, chunk)
    assert message is not None and message.height == 1 and len(message.sets) == 2
    return txs, EarlyRelease(message, txs[0])


def _node(held: dict[bytes, bytes], reported: list[Evidence], outs: list[Output]) -> Decryption:
    node = Decryption(
        GENESIS,
        KEYS["n1"],
        SHARES[0],
        outs,
        committed_at=lambda _t: None,
        find_tx=held.get,
        report=reported.append,
    )
    node.on_commit(Entry(1, ()))  # type: ignore[arg-type]
    return node


def test_an_honest_node_holding_the_transaction_reports_the_leak_once() -> None:
    txs, evidence = _leak()
    reported: list[Evidence] = []
    node = _node({Entry(0, (t,)).tx_ids[0]: t for t in txs}, reported, [])
    node.receive(b"n2", evidence.shares)
    node.receive(b"n2", evidence.shares)
    assert len(reported) == 1
    [found] = reported
    assert isinstance(found, EarlyRelease) and found.offender == KEYS["n2"].public_key
    assert codec.decode(codec.encode(found), Evidence) == found


def test_shares_that_come_before_their_chunk_are_judged_once_it_is_held() -> None:
    txs, evidence = _leak()
    held: dict[bytes, bytes] = {}
    reported: list[Evidence] = []
    node = _node(held, reported, [])
    node.receive(b"n2", evidence.shares)
    assert not reported
    held.update({Entry(0, (t,)).tx_ids[0]: t for t in txs})
    node.on_rebroadcast()
    assert len(reported) == 1


def test_the_rules_need_the_chain_and_the_claimed_height_committed_without_it() -> None:
    _, evidence = _leak()
    vs = GENESIS.validator_set
    chain_id = GENESIS.chain_id
    assert evidence_problem(evidence, chain_id, vs, 2, 100) == "early release needs the chain"

    def judge(committed_at: int | None, last: int) -> str | None:
        return leak_problem(evidence, GENESIS.private, lambda _t: committed_at, last)

    assert judge(None, 1) is None
    assert judge(3, 5) is None  # committed later: released before its commit
    assert "committed the transaction" in (judge(1, 5) or "")
    assert "not committed yet" in (judge(None, 0) or "")
    assert evidence_problem(evidence, chain_id, vs, 2, 100, lambda e: judge(None, 1)) is None


def test_forged_or_foreign_shares_are_not_evidence() -> None:
    txs, evidence = _leak()
    leaked = evidence.leaked
    skewed = replace(leaked, shares=(replace(leaked.shares[0], point=leaked.shares[1].point),))
    message = replace(evidence.shares, sets=(skewed,))
    assert "fails its proof" in (
        release_problem(EarlyRelease(message, txs[0]), GENESIS.private) or ""
    )
    assert not EarlyRelease(replace(message, signature=bytes(64)), txs[0]).verify(GENESIS.chain_id)
    foreign = EarlyRelease(replace(evidence.shares, validator=KEYS["n3"].public_key), txs[0])
    assert "not the offender's" in (release_problem(foreign, GENESIS.private) or "")


def test_the_evidence_log_record_verifies_offline() -> None:
    _, evidence = _leak()
    record = SlashRecord(evidence, 3, 1_700_000_000_000, 10, 9, KEYS["n1"].public_key)
    line = make_record(record, GENESIS.chain_id, NAMES)
    assert line["kind"] == "early_release" and line["round"] is None
    assert line["messages"][0]["tx_id"] == evidence.tx_id.hex()
    assert verify_records([line], GENESIS) == []
    forged = replace(evidence, shares=replace(evidence.shares, signature=bytes(64)))
    bad = make_record(replace(record, evidence=forged), GENESIS.chain_id, NAMES)
    problems = verify_records([bad], GENESIS)
    assert problems and "signature does not verify" in problems[0].message
