"""The fast check of a transaction's encoding, apart from :mod:`.types` so that msgspec loads
only when a node first checks one (the CLI's ``--help`` imports the types, not this).

msgspec decodes and re-encodes a transaction in about a third of the time msgpack's generic
unpack and pack take; every transaction of every chunk is checked on every node.
"""

from __future__ import annotations

import msgspec

from .types import _TX_TAG, MAX_NAME, MAX_PAYLOAD


class _TxFields(msgspec.Struct, array_like=True):
    """A transaction's wire fields: ``[tag, namespace, sender, payload]``."""

    tag: int
    namespace: str
    sender: str
    payload: bytes


_DECODER = msgspec.msgpack.Decoder(_TxFields)
_ENCODER = msgspec.msgpack.Encoder()


def plain_namespace(encoded: bytes) -> str | None:
    """The namespace if ``encoded`` is a transaction's canonical encoding within the bounds;
    None for anything else (the codec then says what is wrong)."""
    try:
        fields = _DECODER.decode(encoded)
    except msgspec.DecodeError:  # ValidationError included
        return None
    if (
        fields.tag == _TX_TAG
        and 0 < len(fields.namespace) <= MAX_NAME
        and len(fields.sender) <= MAX_NAME
        and len(fields.payload) <= MAX_PAYLOAD
        and _ENCODER.encode(fields) == encoded  # canonical: one encoding per transaction
    ):
        return fields.namespace
    return None
