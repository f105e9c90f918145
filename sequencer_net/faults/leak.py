"""The ``leak-shares`` fault's forgery: this validator's decryption shares for the encrypted
transactions of a chunk it is sending, released at once instead of after their commit, and
signed as if they were shares of the height it last committed (which did not commit them)."""

from __future__ import annotations

from .. import codec
from ..crypto import PrivateKey
from ..threshold import envelope
from ..threshold.keys import KeyShare
from ..threshold.shares import make_shares
from ..threshold.wire import (
    MAX_SETS_PER_MESSAGE,
    DecryptionShares,
    ShareSet,
    WireShare,
    sign_shares,
)
from ..types import Chunk, Tx


def early_shares(
    share: KeyShare, key: PrivateKey, chain_id: str, height: int, chunk: Chunk
) -> DecryptionShares | None:
    """The leak for ``chunk``'s ciphertexts (None: it carries none)."""
    sets = []
    for txid, encoded in zip(chunk.tx_ids, chunk.txs, strict=True):
        if envelope.PREFIX not in encoded:
            continue
        tx = codec.decode(encoded, Tx)
        assert isinstance(tx, Tx)
        try:
            ct = envelope.ciphertext_of(tx.payload)
        except ValueError:
            continue
        made = make_shares(share, ct)
        sets.append(ShareSet(txid, tuple(WireShare(s.index, s.point, s.proof) for s in made)))
        if len(sets) == MAX_SETS_PER_MESSAGE:
            break
    if not sets:
        return None
    return sign_shares(key, chain_id, max(height, 1), tuple(sets))
