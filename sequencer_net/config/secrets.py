"""Secret files (a node's key, its admin token): written 0600, refused if not private.

Every secret goes through :func:`write_private`, the one writer: created with mode 0600 in
the same call (no window in which others could read it) and never over an existing file, since
overwriting a key loses it. Readers refuse a file that group or others may access.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path
from secrets import token_hex

from ..crypto import PrivateKey
from .schema import ConfigError, Table

SEED_SIZE = 32
ADMIN_TOKEN_BYTES = 32


def write_private(path: Path, text: str, what: str) -> None:
    """Create ``path`` holding ``text`` plus a newline, readable by the owner only."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise ConfigError(f"{path}: refusing to overwrite an existing {what}") from None
    with os.fdopen(fd, "w") as f:
        f.write(text + "\n")


def write_key(path: Path, key: PrivateKey) -> None:
    """Write the hex seed readable by the owner only; never overwrite a key (that loses it)."""
    write_private(path, key.seed.hex(), "key file")


def write_admin_token(path: Path) -> None:
    """Write a fresh random admin token readable by the owner only."""
    write_private(path, token_hex(ADMIN_TOKEN_BYTES), "admin token")


def _read_private(path: Path, table: Table, key: str, what: str) -> str:
    """The stripped text of a secret file named by ``key``, refused if others may read it."""
    try:
        mode = path.stat().st_mode
        text = path.read_text(encoding="ascii").strip()
    except FileNotFoundError:
        raise table.error(key, f"{path}: file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise table.error(key, f"{path}: cannot read: {exc}") from None
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise ConfigError(
            f"{path}: {what} is accessible by others (mode {stat.S_IMODE(mode):04o}); "
            f"run: chmod 600 {path}"
        )
    return text


def load_admin_token(path: Path, table: Table) -> str:
    """The token that authorises fault injection: a secret, so kept private like a key.
    ``table`` is the node.toml table naming the file, so errors point at its key."""
    token = _read_private(path, table, "admin_token_file", "admin token")
    if not token:
        raise table.error("admin_token_file", f"{path}: the file is empty")
    return token


def load_key(path: Path, table: Table) -> PrivateKey:
    """The Ed25519 key in ``path``, named by ``key_file`` in ``table``."""
    text = _read_private(path, table, "key_file", "key file")
    try:
        seed = bytes.fromhex(text)
    except ValueError:
        seed = b""
    if len(seed) != SEED_SIZE:
        raise ConfigError(f"{path}: expected {2 * SEED_SIZE} hex digits (an Ed25519 seed)")
    return PrivateKey(seed)
