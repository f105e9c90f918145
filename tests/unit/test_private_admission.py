"""Admission of encrypted transactions: a well-formed ciphertext with a proof for its own
namespace and sender is admitted and carried as it is (the node never sees the plaintext); a
malformed one, one moved to another sender, or one sent to a chain without a threshold key is
refused with the reason; plaintext transactions are untouched."""

from __future__ import annotations

import pytest

from sequencer_net.crypto import PrivateKey
from sequencer_net.genesis import Genesis
from sequencer_net.replica.core import Replica
from sequencer_net.replica.outputs import Rejected
from sequencer_net.store.memory import MemoryChainStore, MemorySignStateStore
from sequencer_net.threshold import envelope, keys
from sequencer_net.types import Tx
from sequencer_net.validators import Validator

NAMES = ("n1", "n2", "n3", "n4")
KEYS = {n: PrivateKey.from_label(n) for n in NAMES}
VALIDATORS = tuple(Validator(n, KEYS[n].public_key, 10) for n in NAMES)
PUBLIC, _SHARES = keys.deal([v.public_key for v in VALIDATORS], [10] * 4)


def _node(private: bool = True) -> Replica:
    genesis = Genesis("priv", VALIDATORS, private=PUBLIC if private else None)
    return Replica(genesis, KEYS["n1"], MemoryChainStore(), MemorySignStateStore())


def _refusal(node: Replica, tx: Tx) -> str | None:
    txid, outputs = node.submit(tx.encoded, 0)
    if txid is not None:
        assert txid == tx.id
        return None
    (rejected,) = [o for o in outputs if isinstance(o, Rejected)]
    return rejected.reason


def test_an_encrypted_transaction_is_admitted_as_ciphertext() -> None:
    node = _node()
    payload = envelope.seal(PUBLIC.public_key, "rollup-a", "alice", b"buy 100 at market")
    tx = Tx("rollup-a", "alice", payload)
    assert _refusal(node, tx) is None
    assert b"buy 100" not in tx.encoded
    assert tx.id in node.lanes
    assert _refusal(node, Tx("rollup-a", "alice", b"plain as before")) is None


@pytest.mark.parametrize(
    ("make", "reason"),
    [
        (lambda p: Tx("rollup-a", "alice", envelope.PREFIX + b"short"), "shorter than"),
        (lambda p: Tx("rollup-a", "alice", envelope.PREFIX + bytes(200)), "out of range"),
    ],
)
def test_a_malformed_encrypted_transaction_is_refused(make: object, reason: str) -> None:
    payload = envelope.seal(PUBLIC.public_key, "rollup-a", "alice", b"secret")
    tx = make(payload)  # type: ignore[operator]
    assert reason in (_refusal(_node(), tx) or "")


def test_a_moved_ciphertext_is_admitted_by_shape_and_never_opened() -> None:
    """Its proof is checked after the commit, where it gets the failed verdict and no share
    (tests/unit/test_decryption.py); admission does no group operation, so a flood of
    encrypted transactions costs a node what plaintext ones do."""
    payload = envelope.seal(PUBLIC.public_key, "rollup-a", "alice", b"secret")
    assert _refusal(_node(), Tx("rollup-a", "mallory", payload)) is None
    assert "proof does not hold" in (
        envelope.payload_problem(PUBLIC, "rollup-a", "mallory", payload) or ""
    )


def test_a_chain_without_a_threshold_key_refuses_encrypted_payloads() -> None:
    payload = envelope.seal(PUBLIC.public_key, "rollup-a", "alice", b"secret")
    reason = _refusal(_node(private=False), Tx("rollup-a", "alice", payload))
    assert "no threshold key" in (reason or "")
    assert _refusal(_node(private=False), Tx("rollup-a", "alice", b"plain")) is None
