"""The threshold key in config files: genesis's ``[private]`` table (the public side) and
each validator's share file (``nK/threshold_share``, mode 0600, beside its key).

genesis.toml::

    [private]
    public_key = "<hex point>"
    threshold = 13
    [private.verification_keys]
    n1 = ["<hex point>", ...]   # this validator's shares, in index order

Indices follow the validators' order in genesis: n1's shares first. Loaders check every point,
the threshold, that the counts are the stake-proportional ones, and that a share file matches
genesis, and say which file and key is wrong.
"""

from __future__ import annotations

import tomllib
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import tomli_w

from .schema import ConfigError, Table
from .secrets import _read_private, write_private

if TYPE_CHECKING:
    from ..threshold.keys import KeyShare, ThresholdPublic
    from ..validators import Validator

SHARE_FILE = "threshold_share"


def _hex_point(table: Table, key: str, text: object) -> bytes:
    from ..threshold import group

    raw = b""
    if isinstance(text, str):
        try:
            raw = bytes.fromhex(text)
        except ValueError:
            raw = b""
    if not group.is_point(raw):
        raise table.error(key, f"expected 64 hex digits of an Ed25519 group element, got {text!r}")
    return raw


def load_private(table: Table, validators: Sequence[Validator]) -> ThresholdPublic:
    """The ``[private]`` table of genesis, checked against the validator set."""
    from ..threshold import apportion
    from ..threshold.keys import ThresholdPublic

    table.only(["public_key", "threshold", "verification_keys"])
    public_key = _hex_point(table, "public_key", table.string("public_key"))
    vks = table.table("verification_keys")
    names = [v.name for v in validators]
    vks.only(names)
    counts = apportion.share_counts([v.power for v in validators])
    keys: list[bytes] = []
    owners: list[bytes] = []
    for v, count in zip(validators, counts, strict=True):
        entries = vks.strings(v.name)
        if len(entries) != count:
            raise vks.error(
                v.name,
                f"expected {count} verification keys (its stake's share), got {len(entries)}",
            )
        keys.extend(_hex_point(vks, f"{v.name}[{i}]", e) for i, e in enumerate(entries))
        owners.extend([v.public_key] * count)
    threshold = table.integer("threshold")
    expected = apportion.threshold_for(len(keys))
    if threshold != expected:
        raise table.error(
            "threshold", f"must be {expected} for {len(keys)} shares, got {threshold}"
        )
    return ThresholdPublic(public_key, threshold, tuple(keys), tuple(owners))


def private_document(public: ThresholdPublic, validators: Sequence[Validator]) -> dict[str, Any]:
    by_key = {v.public_key: v.name for v in validators}
    vks: dict[str, list[str]] = {v.name: [] for v in validators}
    for owner, vk in zip(public.owners, public.verification_keys, strict=True):
        vks[by_key[owner]].append(vk.hex())
    return {
        "public_key": public.public_key.hex(),
        "threshold": public.threshold,
        "verification_keys": vks,
    }


def write_share(path: Path, share: KeyShare) -> None:
    """The validator's secret shares, readable by its owner only; never overwritten."""
    document = {"shares": [{"index": i, "secret": x.hex()} for i, x in share.shares]}
    write_private(path, tomli_w.dumps(document).rstrip("\n"), "threshold share file")


def load_share(path: Path, table: Table, validator: bytes, public: ThresholdPublic) -> KeyShare:
    """This validator's shares from ``path`` (named by ``table``'s key_file, beside which it
    lives), checked against genesis."""
    from ..threshold import group
    from ..threshold.keys import KeyShare

    text = _read_private(path, table, "key_file", "threshold share file")
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: invalid TOML: {exc}") from None
    top = Table(path, data)
    top.only(["shares"])
    shares = []
    for entry in top.tables("shares"):
        entry.only(["index", "secret"])
        index = entry.integer("index")
        try:
            secret = bytes.fromhex(entry.string("secret"))
        except ValueError:
            secret = b""
        if not group.is_scalar(secret):
            raise entry.error("secret", "expected 64 hex digits of a reduced non-zero scalar")
        shares.append((index, secret))
    share = KeyShare(validator, tuple(shares))
    problem = share.matches(public)
    if problem:
        raise ConfigError(f"{path}: {problem} (was the cluster dir mixed with another?)")
    return share
