"""Keys, digests and domain-separated signatures."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sequencer_net import crypto
from sequencer_net.crypto import PrivateKey, digest, sign_bytes, verify

FAST = settings(max_examples=60, deadline=None)

KEYS = [PrivateKey.from_label(f"crypto-test-{i}") for i in range(4)]
keys = st.sampled_from(KEYS)
chain_ids = st.text(max_size=20)
kinds = st.sampled_from(["proposal", "prevote", "precommit"]) | st.text(max_size=12)
payloads = st.binary(max_size=100)


@FAST
@given(key=keys, chain_id=chain_ids, kind=kinds, payload=payloads)
def test_signature_verifies(key: PrivateKey, chain_id: str, kind: str, payload: bytes) -> None:
    sig = key.sign(chain_id, kind, payload)
    assert len(sig) == crypto.SIGNATURE_SIZE
    assert verify(key.public_key, chain_id, kind, payload, sig)
    # Ed25519 is deterministic, so signing twice gives the same signature
    assert key.sign(chain_id, kind, payload) == sig


@FAST
@given(key=keys, chain_id=chain_ids, other=chain_ids, kind=kinds, payload=payloads)
def test_signature_fails_for_other_chain(
    key: PrivateKey, chain_id: str, other: str, kind: str, payload: bytes
) -> None:
    sig = key.sign(chain_id, kind, payload)
    assert verify(key.public_key, other, kind, payload, sig) == (other == chain_id)


@FAST
@given(key=keys, chain_id=chain_ids, kind=kinds, other=kinds, payload=payloads)
def test_signature_fails_for_other_kind(
    key: PrivateKey, chain_id: str, kind: str, other: str, payload: bytes
) -> None:
    sig = key.sign(chain_id, kind, payload)
    assert verify(key.public_key, chain_id, other, payload, sig) == (other == kind)


@FAST
@given(key=keys, payload=payloads, data=st.data())
def test_signature_fails_for_modified_payload(
    key: PrivateKey, payload: bytes, data: st.DataObject
) -> None:
    sig = key.sign("chain", "prevote", payload)
    if payload:
        pos = data.draw(st.integers(0, len(payload) - 1), label="pos")
        bit = data.draw(st.integers(0, 7), label="bit")
        flipped = bytearray(payload)
        flipped[pos] ^= 1 << bit
        assert not verify(key.public_key, "chain", "prevote", bytes(flipped), sig)
        assert not verify(key.public_key, "chain", "prevote", payload[:-1], sig)
    assert not verify(key.public_key, "chain", "prevote", payload + b"\x00", sig)
    assert not verify(key.public_key, "chain", "prevote", b"\x00" + payload, sig)


@FAST
@given(signer=keys, other=keys, payload=payloads)
def test_signature_fails_for_other_key(
    signer: PrivateKey, other: PrivateKey, payload: bytes
) -> None:
    sig = signer.sign("chain", "precommit", payload)
    assert verify(other.public_key, "chain", "precommit", payload, sig) == (other is signer)


@FAST
@given(key=keys, payload=payloads, data=st.data())
def test_mangled_signature_or_key_fails(
    key: PrivateKey, payload: bytes, data: st.DataObject
) -> None:
    sig = key.sign("chain", "proposal", payload)
    pk = key.public_key
    cut = data.draw(st.integers(0, len(sig) - 1), label="cut")
    pos = data.draw(st.integers(0, len(sig) - 1), label="pos")
    flipped = bytearray(sig)
    flipped[pos] ^= 1 << data.draw(st.integers(0, 7), label="bit")
    for bad_sig in (sig[:cut], sig + b"\x00", bytes(flipped)):
        assert not verify(pk, "chain", "proposal", payload, bad_sig)
    for bad_key in (pk[:-1], pk + b"\x00", pk[1:], b"", pk * 2):
        assert not verify(bad_key, "chain", "proposal", payload, sig)
    # the untouched pair still verifies (the failures above are not cached into it)
    assert verify(pk, "chain", "proposal", payload, sig)


@pytest.mark.parametrize(
    "bad_key",
    [b"\x00" * 32, b"\x01" + b"\x00" * 31, b"\xff" * 32],
    ids=["zero", "identity-point", "non-canonical"],
)
def test_degenerate_public_keys_never_verify_or_raise(bad_key: bytes) -> None:
    sig = KEYS[0].sign("chain", "prevote", b"x")
    assert not verify(bad_key, "chain", "prevote", b"x", sig)
    assert not verify(bad_key, "chain", "prevote", b"x", b"\x00" * 64)


def test_sign_bytes_layout() -> None:
    assert sign_bytes("x", "y", b"z") == (
        b"\x00\x00\x00\x10sequencer-net/v1"
        + b"\x00\x00\x00\x01x"
        + b"\x00\x00\x00\x01y"
        + b"\x00\x00\x00\x01z"
    )
    # chain ids and kinds are UTF-8; lengths count bytes, not characters
    assert sign_bytes("é", "", b"") == (
        b"\x00\x00\x00\x10sequencer-net/v1" + b"\x00\x00\x00\x02\xc3\xa9" + b"\x00" * 8
    )


@pytest.mark.parametrize(
    ("left", "right"),
    [
        (("ab", "c", b""), ("a", "bc", b"")),
        (("a", "bc", b""), ("a", "b", b"c")),
        (("", "ab", b""), ("ab", "", b"")),
        (("chain", "prevote", b"x"), ("chainprevote", "", b"x")),
        (("", "", b"abc"), ("a", "", b"bc")),
    ],
)
def test_shifted_parts_give_different_sign_bytes(
    left: tuple[str, str, bytes], right: tuple[str, str, bytes]
) -> None:
    assert sign_bytes(*left) != sign_bytes(*right)
    sig = KEYS[0].sign(*left)
    assert verify(KEYS[0].public_key, *left, sig)
    assert not verify(KEYS[0].public_key, *right, sig)


@FAST
@given(a=st.tuples(chain_ids, kinds, payloads), b=st.tuples(chain_ids, kinds, payloads))
def test_sign_bytes_is_injective(a: tuple[str, str, bytes], b: tuple[str, str, bytes]) -> None:
    assert (sign_bytes(*a) == sign_bytes(*b)) == (a == b)


@FAST
@given(a=st.text(max_size=6), b=st.text(max_size=6), c=st.text(max_size=6))
def test_sign_bytes_distinguishes_every_split(a: str, b: str, c: str) -> None:
    # the same concatenated text split differently between chain and kind never collides
    whole = a + b + c
    splits = {(whole[:i], whole[i:]) for i in range(len(whole) + 1)}
    encoded = {sign_bytes(chain, kind, b"p") for chain, kind in splits}
    assert len(encoded) == len(splits)


def test_digest_known_vector() -> None:
    # BLAKE2b-256 of the empty string
    assert digest(b"").hex() == ("0e5751c026e543b2e8ab2eb06099daa1d1e5df47778f7787faab45cdf12fe3a8")


@FAST
@given(a=st.binary(max_size=200), b=st.binary(max_size=200))
def test_digest_size_determinism_and_distinctness(a: bytes, b: bytes) -> None:
    da = digest(a)
    assert isinstance(da, bytes) and len(da) == crypto.DIGEST_SIZE == 32
    assert digest(bytes(bytearray(a))) == da
    assert (digest(b) == da) == (a == b)


@FAST
@given(label=st.text(max_size=30), other=st.text(max_size=30))
def test_from_label_is_deterministic(label: str, other: str) -> None:
    k1, k2 = PrivateKey.from_label(label), PrivateKey.from_label(label)
    assert k1.seed == k2.seed and k1.public_key == k2.public_key
    assert len(k1.seed) == 32 and len(k1.public_key) == crypto.PUBLIC_KEY_SIZE
    assert k1.sign("c", "k", b"p") == k2.sign("c", "k", b"p")
    assert (PrivateKey.from_label(other).public_key == k1.public_key) == (other == label)


def test_from_label_known_key() -> None:
    key = PrivateKey.from_label("alice")
    assert key.seed == digest(b"sequencer-net/test-key/alice")
    assert PrivateKey(key.seed).public_key == key.public_key


def test_seed_round_trip_and_generate() -> None:
    a, b = PrivateKey.generate(), PrivateKey.generate()
    assert a.public_key != b.public_key
    restored = PrivateKey(a.seed)
    assert restored.public_key == a.public_key
    sig = restored.sign("chain", "prevote", b"payload")
    assert verify(a.public_key, "chain", "prevote", b"payload", sig)


@pytest.mark.parametrize("size", [0, 1, 31, 33, 64])
def test_bad_seed_size_raises(size: int) -> None:
    with pytest.raises(ValueError):
        PrivateKey(b"\x01" * size)
