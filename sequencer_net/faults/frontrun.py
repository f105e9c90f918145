"""The ``frontrun`` fault's logic: a validator that reads the pending transactions it holds,
and for each whose payload starts with a chosen prefix slips in a transaction of its own and
keeps the victim out of its batches until its own one has committed.

It works through the replica's ``omit`` hook, which the replica consults for every pending
transaction it chunks or orders, so it sees exactly what the node can read: the plaintext of
plaintext transactions, and only ciphertext of encrypted ones (whose payload never starts
with a readable prefix). ``scripts/private_demo.py`` measures its success rate on both.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable

from .. import codec
from ..types import Tx, tx_id

SENDER = "frontrunner"
TAG = b"FRONTRUN:"  # payload: TAG + the victim's tx id
MAX_VICTIMS = 10_000


class Frontrunner:
    def __init__(self, prefix: bytes) -> None:
        self.prefix = prefix
        self.victims: OrderedDict[bytes, bytes] = OrderedDict()  # victim id -> our tx id
        self._injections: list[bytes] = []
        # Whether a tx id is committed (the node sets it: its chain store's word).
        self.is_committed: Callable[[bytes], bool] = lambda _txid: False

    def omit(self, encoded: bytes) -> bool:
        """Leave ``encoded`` out for now: it is a victim whose front-runner has not committed."""
        ours = self._front_runner_of(encoded)
        return ours is not None and not self.is_committed(ours)

    def observe(self, txs: tuple[bytes, ...]) -> None:
        """A peer's chunk arrived: front-run the victims it carries at once."""
        for encoded in txs:
            self._front_runner_of(encoded)

    def _front_runner_of(self, encoded: bytes) -> bytes | None:
        """Our transaction's id if ``encoded`` is a victim (a new one gets it queued for
        :meth:`take_injections`), else None."""
        if self.prefix not in encoded:
            return None
        try:
            tx = codec.decode(encoded, Tx)
        except codec.DecodeError:
            return None
        if not isinstance(tx, Tx) or tx.sender == SENDER or not tx.payload.startswith(self.prefix):
            return None
        victim = tx_id(encoded)
        ours = self.victims.get(victim)
        if ours is None:
            mine = Tx(tx.namespace, SENDER, TAG + victim).encoded
            ours = tx_id(mine)
            self.victims[victim] = ours
            self._injections.append(mine)
            while len(self.victims) > MAX_VICTIMS:
                self.victims.popitem(last=False)
        return ours

    def take_injections(self) -> list[bytes]:
        """Our front-running transactions to submit to our own lane now."""
        taken, self._injections = self._injections, []
        return taken
