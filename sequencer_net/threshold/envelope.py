"""Encrypted payloads inside the ordinary transaction envelope: a reserved prefix marks them,
so the types, the chunks and consensus carry them unchanged.

A payload that begins with :data:`PREFIX` is an encrypted one and must parse and carry a valid
proof of knowledge for its namespace and sender; on a chain without a threshold key it is
refused. Any other payload is plaintext, as before.
"""

from __future__ import annotations

from . import group
from .hybrid import HEADER_SIZE, TAG_SIZE, Ciphertext, encrypt
from .keys import ThresholdPublic

PREFIX = b"\x00sn-enc/1\x00"
MIN_SIZE = len(PREFIX) + HEADER_SIZE + TAG_SIZE


def is_encrypted(payload: bytes) -> bool:
    return payload.startswith(PREFIX)


def seal(public_key: bytes, namespace: str, sender: str, plaintext: bytes) -> bytes:
    """The payload to send in place of ``plaintext``, encrypted to the set's ``public_key``
    (take it from genesis: a node's word for it is not to be trusted)."""
    return PREFIX + encrypt(public_key, namespace, sender, plaintext)


def ciphertext_of(payload: bytes) -> Ciphertext:
    """The parsed ciphertext of an encrypted payload; ValueError saying what is wrong."""
    if not is_encrypted(payload):
        raise ValueError("payload is not encrypted")
    return Ciphertext.parse(payload[len(PREFIX) :])


def payload_problem(
    public: ThresholdPublic | None, namespace: str, sender: str, payload: bytes
) -> str | None:
    """Why an encrypted payload may not be admitted (None: it may, or it is plaintext)."""
    if not is_encrypted(payload):
        return None
    if public is None:
        return "encrypted payload, but this chain has no threshold key ([private] in genesis)"
    try:
        ct = ciphertext_of(payload)
    except ValueError as exc:
        return f"malformed encrypted payload: {exc}"
    if not ct.label_holds(namespace, sender):
        return "encrypted payload's proof does not hold for its namespace and sender"
    return None


def shape_problem(public: ThresholdPublic | None, payload: bytes) -> str | None:
    """Why an encrypted payload may not be admitted, from its shape alone: a chain with a
    key, the size, the proof scalars reduced. No group operation: a client's request of
    20,000 of them must not hold the node (the point and the proof are checked once, after
    the commit, before any share is made; one that fails gets the failed verdict)."""
    if not is_encrypted(payload):
        return None
    if public is None:
        return "encrypted payload, but this chain has no threshold key ([private] in genesis)"
    if len(payload) < MIN_SIZE:
        return f"malformed encrypted payload: shorter than {MIN_SIZE} bytes"
    body = payload[len(PREFIX) :]
    if not (group.is_scalar(body[32:64]) and group.is_scalar(body[64:96])):
        return "malformed encrypted payload: its proof scalars are out of range"
    return None


def tx_problem(public: ThresholdPublic | None, encoded: bytes) -> str | None:
    """:func:`shape_problem` for an encoded transaction already known to decode; cheap for
    the plaintext ones, whose bytes do not hold the prefix."""
    if PREFIX not in encoded:
        return None
    from .. import codec
    from ..types import Tx

    tx = codec.decode(encoded, Tx)
    assert isinstance(tx, Tx)
    return shape_problem(public, tx.payload)
