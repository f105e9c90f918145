"""A dealt four-validator chain for private-sequencing unit tests, and what they commit."""

from __future__ import annotations

from dataclasses import dataclass

from sequencer_net.crypto import PrivateKey
from sequencer_net.genesis import Genesis
from sequencer_net.threshold import envelope, keys
from sequencer_net.types import Tx, tx_id
from sequencer_net.validators import Validator

NAMES = ("n1", "n2", "n3", "n4")
KEYS = {n: PrivateKey.from_label(n) for n in NAMES}
VALIDATORS = tuple(Validator(n, KEYS[n].public_key, 10) for n in NAMES)
PUBLIC, SHARES = keys.deal([v.public_key for v in VALIDATORS], [10] * 4)
GENESIS = Genesis("priv", VALIDATORS, private=PUBLIC)


@dataclass
class Entry:
    """What the decryption service reads of a committed batch."""

    height: int
    txs: tuple[bytes, ...]

    @property
    def tx_ids(self) -> tuple[bytes, ...]:
        return tuple(tx_id(t) for t in self.txs)


def encrypted_txs(count: int) -> tuple[list[bytes], list[bytes]]:
    """``count`` encoded encrypted transactions and their plaintexts."""
    txs, plaintexts = [], []
    for i in range(count):
        plaintext = f"order {i}".encode()
        payload = envelope.seal(PUBLIC.public_key, "rollup-a", f"u{i}", plaintext)
        txs.append(Tx("rollup-a", f"u{i}", payload).encoded)
        plaintexts.append(plaintext)
    return txs, plaintexts
