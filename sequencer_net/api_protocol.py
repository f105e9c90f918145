"""The client API's wire format, shared by the node's server and the client library.

Plain TCP (loopback), frames ``u32 length | msgpack``. A request is a map
``{"id": int, "method": str, "params": map}``; each answer is ``{"id", "result"}`` or
``{"id", "error"}``; a subscription answers once and then sends ``{"id", "event"}`` maps.
Client traffic is not consensus data, so maps are fine here; the node still bounds every
frame and refuses anything malformed with an error answer.
"""

from __future__ import annotations

from typing import Any

import msgpack

MAX_CLIENT_FRAME = 32 * 1024 * 1024
MAX_TXS_PER_SUBMIT = 20_000
# The refusal of a transaction that is already in the chain: a repeat of a submit, which the
# client reports as committed rather than as an error.
ALREADY_COMMITTED = "transaction already committed"


class ApiError(Exception):
    """The node answered a request with an error, or the exchange itself failed."""


def pack(message: dict[str, Any]) -> bytes:
    return msgpack.packb(message, use_bin_type=True)


def unpack(data: bytes) -> dict[str, Any]:
    try:
        message = msgpack.unpackb(
            data, raw=False, strict_map_key=True, max_bin_len=MAX_CLIENT_FRAME
        )
    except Exception as exc:
        raise ApiError(f"malformed frame: {exc}") from None
    if not isinstance(message, dict):
        raise ApiError("a frame must hold a map")
    return message
