"""The client API's wire format, shared by the node's server and the client library.

Plain TCP (loopback), frames ``u32 length | msgpack``. A request is a map
``{"id": int, "method": str, "params": map}``; each answer is ``{"id", "result"}`` or
``{"id", "error"}``; a subscription answers once and then sends ``{"id", "event"}`` maps.
Client traffic is not consensus data, so maps are fine here. The params of every method
have a schema below; the node decodes each request against it before any work (see
:mod:`sequencer_net.runtime.rpc`) and refuses anything else with an error answer.

``submit`` answers one ``[txid, None]`` or ``[None, reason]`` per transaction, in order. The
reason :data:`BUSY` is backpressure, not a verdict: the node's mempool is full, nothing of that
transaction was kept, and the client should send it again after a short pause. Every other
reason is final. A ``[txid, None]`` is an acknowledgement: the transaction is on the node's
disk and will be proposed. ``submit_bundle`` answers the bundle's ids (all acknowledged) or an
error (none kept; a busy node's error is :data:`BUSY`).
"""

from __future__ import annotations

from typing import Annotated, Any

import msgpack
import msgspec

MAX_REQUEST_FRAME = 4 * 1024 * 1024  # what a node reads from a client; a submit fits ~25k txs
MAX_ANSWER_FRAME = 32 * 1024 * 1024  # what a client reads: a batch with its transactions
MAX_TXS_PER_SUBMIT = 20_000
MAX_BUNDLE_TXS = 64  # as sequencer_net.types.MAX_BUNDLE_TXS (this module stays import-light)
TXID_BYTES = 32
MAX_HEIGHT = 2**63 - 1
# The refusal of a transaction that is already in the chain: a repeat of a submit, which the
# client reports as committed rather than as an error.
ALREADY_COMMITTED = "transaction already committed"
# The refusal of a transaction that a full node cannot take now: retry it after a short pause.
BUSY = "busy: mempool full, retry later"


class SubmitParams(msgspec.Struct, forbid_unknown_fields=True):
    txs: Annotated[list[bytes], msgspec.Meta(max_length=MAX_TXS_PER_SUBMIT)]


class SubmitBundleParams(msgspec.Struct, forbid_unknown_fields=True):
    """An atomic bundle: committed in one batch, contiguous and in this order, or not at
    all. The answer is the list of ids, or an error saying why nothing was taken."""

    txs: Annotated[list[bytes], msgspec.Meta(min_length=1, max_length=MAX_BUNDLE_TXS)]


class TxStatusParams(msgspec.Struct, forbid_unknown_fields=True):
    txid: Annotated[bytes, msgspec.Meta(min_length=TXID_BYTES, max_length=TXID_BYTES)]


class BatchParams(msgspec.Struct, forbid_unknown_fields=True):
    height: Annotated[int, msgspec.Meta(ge=1, le=MAX_HEIGHT)]
    with_txs: bool = False


class NamespaceProofParams(msgspec.Struct, forbid_unknown_fields=True):
    """A namespace proof for (namespace, height); see :mod:`sequencer_net.nsproof`."""

    namespace: Annotated[str, msgspec.Meta(min_length=1, max_length=64)]
    height: Annotated[int, msgspec.Meta(ge=1, le=MAX_HEIGHT)]


class SubscribeParams(msgspec.Struct, forbid_unknown_fields=True):
    """``tx_ids``: each commit event also lists the batch's transaction ids, in order, so a
    follower that matches transactions needs no ``batch`` request per height."""

    tx_ids: bool = False


class ApiError(Exception):
    """The node answered a request with an error, or the exchange itself failed."""


def pack(message: dict[str, Any]) -> bytes:
    return msgpack.packb(message, use_bin_type=True)


def unpack(data: bytes) -> dict[str, Any]:
    try:
        message = msgpack.unpackb(
            data, raw=False, strict_map_key=True, max_bin_len=MAX_ANSWER_FRAME
        )
    except Exception as exc:
        raise ApiError(f"malformed frame: {exc}") from None
    if not isinstance(message, dict):
        raise ApiError("a frame must hold a map")
    return message
