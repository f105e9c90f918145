"""`tx send --encrypt`: the set's threshold public key, from genesis on this machine.

The key comes from a genesis file (``--genesis``, else the cluster dir's), never from a node:
an entry node that answered with a key of its own could read what it was sent.
"""

from __future__ import annotations

from pathlib import Path

from ..cluster.layout import Layout
from .errors import UsageError
from .target import _genesis, cluster_dir

NO_GENESIS = (
    "--encrypt needs the chain's genesis for its public key: pass --genesis PATH or --dir, "
    "or start a cluster with `cluster up --private`"
)


def threshold_public_key(genesis: Path | None, directory: Path | None) -> bytes:
    """The public key in ``genesis`` (or the chosen cluster dir's genesis.toml)."""
    path = genesis if genesis is not None else Layout(cluster_dir(directory, NO_GENESIS)).genesis
    private = _genesis(path).genesis.private
    if private is None:
        raise UsageError(
            f"{path} has no [private] table: this chain takes no encrypted transactions "
            "(create the cluster with `cluster init --private`)"
        )
    return private.public_key


def shown_plaintext(plaintext: bytes, limit: int = 60) -> str:
    """A decrypted payload for people (rich markup escaped): its text when it is UTF-8, else
    hex; shortened."""
    from rich.markup import escape

    try:
        text = repr(plaintext.decode())
    except UnicodeDecodeError:
        text = plaintext.hex()
    return escape(text if len(text) <= limit else text[: limit - 3] + "...")


def decryption_note(status: dict[str, object]) -> str:
    """``, decrypted: 'text'`` (or failed, pending) for an encrypted transaction's status."""
    state = status.get("decryption")
    if state == "done" and isinstance(status.get("plaintext"), bytes):
        return f", decrypted: {shown_plaintext(status['plaintext'])}"  # type: ignore[arg-type]
    if state in ("failed", "pending"):
        return f", decryption {state}"
    return ""
