"""Reading a bundle file for `tx send --bundle`: a JSON list of transactions, checked whole
before anything is sent, with one clear error for anything wrong."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ..types import MAX_BUNDLE_BYTES, MAX_BUNDLE_TXS, Tx
from .errors import UsageError

MAX_FILE_BYTES = 4 * MAX_BUNDLE_BYTES  # hex payloads double the size; a margin for JSON
FIELDS = {"namespace", "sender", "payload", "payload_hex"}


def read_bundle(path: Path, default_sender: str) -> list[Tx]:
    """The bundle's transactions, in file order; UsageError saying where a file is wrong."""
    try:
        with path.open("rb") as f:
            data = f.read(MAX_FILE_BYTES + 1)
    except OSError as exc:
        raise UsageError(f"{path}: cannot read it: {exc.strerror or exc}") from None
    if len(data) > MAX_FILE_BYTES:
        raise UsageError(f"{path}: larger than {MAX_FILE_BYTES} bytes")
    try:
        items = json.loads(data)
    except (ValueError, RecursionError) as exc:
        raise UsageError(f"{path}: not valid JSON ({exc})") from None
    if not isinstance(items, list) or not 0 < len(items) <= MAX_BUNDLE_TXS:
        raise UsageError(f"{path}: must hold a list of 1..{MAX_BUNDLE_TXS} transactions")
    txs = [_tx(item, default_sender, f"{path}: transaction {i}") for i, item in enumerate(items)]
    size = sum(len(tx.encoded) for tx in txs)
    if size > MAX_BUNDLE_BYTES:
        raise UsageError(f"{path}: the bundle is {size} bytes encoded, over {MAX_BUNDLE_BYTES}")
    return txs


def _tx(item: Any, default_sender: str, where: str) -> Tx:
    if not isinstance(item, dict):
        raise UsageError(f"{where}: must be an object with namespace and payload")
    unknown = set(item) - FIELDS
    if unknown:
        raise UsageError(f"{where}: unknown field {sorted(unknown)[0]!r}")
    namespace, sender = item.get("namespace"), item.get("sender", default_sender)
    if not isinstance(namespace, str) or not isinstance(sender, str):
        raise UsageError(f"{where}: namespace and sender must be strings")
    if ("payload" in item) == ("payload_hex" in item):
        raise UsageError(f"{where}: give payload (text) or payload_hex, not both")
    try:
        if "payload" in item:
            if not isinstance(item["payload"], str):
                raise ValueError("payload must be a string")
            payload = item["payload"].encode()
        else:
            if not isinstance(item["payload_hex"], str):
                raise ValueError("payload_hex must be a string")
            payload = bytes.fromhex(item["payload_hex"])
        return Tx(namespace, sender, payload)
    except ValueError as exc:
        raise UsageError(f"{where}: {exc}") from None
