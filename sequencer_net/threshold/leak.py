"""Early release as evidence: a validator's signed decryption shares for a ciphertext that the
height it names did not commit.

An honest validator releases shares only for the transactions of a height it committed, and
its signature names that height (:mod:`.wire`). A signed release that names height ``h`` for a
transaction ``h`` did not commit is therefore a leak: the shares were sent while the
ciphertext was still pending (or for one that never committed), which is what lets a
front-runner read it. :class:`EarlyRelease` carries the signed message and the transaction,
so anyone can check the signature and each share's proof against the ciphertext; whether
``h`` committed the transaction is read from the chain below the judging height, which every
node holds the same (``docs/private.md``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING

from .. import codec
from ..crypto import digest
from .wire import DecryptionShares, ShareSet

if TYPE_CHECKING:
    from .keys import ThresholdPublic

MAX_LEAKED_TX = 70 * 1024  # an encoded transaction: payload up to 64 KiB plus the envelope


@codec.register(74)
@dataclass(frozen=True)
class EarlyRelease:
    shares: DecryptionShares
    tx: bytes

    def __post_init__(self) -> None:
        if len(self.tx) > MAX_LEAKED_TX:
            raise ValueError(f"leaked transaction exceeds {MAX_LEAKED_TX} bytes")
        if not any(s.tx_id == self.tx_id for s in self.shares.sets):
            raise ValueError("the signed shares do not name the transaction")

    @cached_property
    def tx_id(self) -> bytes:
        return digest(self.tx)

    @property
    def offender(self) -> bytes:
        return self.shares.validator

    @property
    def height(self) -> int:
        """The height the offender's signature claims it had committed."""
        return self.shares.height

    @property
    def leaked(self) -> ShareSet:
        return next(s for s in self.shares.sets if s.tx_id == self.tx_id)

    def verify(self, chain_id: str) -> bool:
        return self.shares.verify(chain_id)


def release_problem(evidence: EarlyRelease, public: ThresholdPublic | None) -> str | None:
    """Why the released shares are not real decryption shares of the transaction's
    ciphertext by the offender (None: they are). Needs genesis only, no chain."""
    from ..types import Tx
    from . import envelope
    from .shares import DecryptionShare, share_valid

    if public is None:
        return "this chain has no threshold key"
    try:
        tx = codec.decode(evidence.tx, Tx)
        assert isinstance(tx, Tx)
        ct = envelope.ciphertext_of(tx.payload)
    except ValueError as exc:
        return f"the transaction is not an encrypted one: {exc}"
    if not ct.label_holds(tx.namespace, tx.sender):
        return "the ciphertext's proof does not hold: its shares reveal nothing"
    owned = set(public.indices_of(evidence.offender))
    for w in evidence.leaked.shares:
        if w.index not in owned:
            return f"share {w.index} is not the offender's"
        if not share_valid(public, ct, DecryptionShare(w.index, w.point, w.proof)):
            return f"share {w.index} fails its proof"
    return None


def leak_problem(
    evidence: EarlyRelease,
    public: ThresholdPublic | None,
    committed_at: Callable[[bytes], int | None],
    last_committed: int,
) -> str | None:
    """:func:`release_problem`, then the chain's word: the claimed height is committed (so the
    verdict cannot change) and did not commit the transaction."""
    if evidence.height > last_committed:
        return f"claims height {evidence.height}, not committed yet (judged once it is)"
    problem = release_problem(evidence, public)
    if problem:
        return problem
    if committed_at(evidence.tx_id) == evidence.height:
        return f"height {evidence.height} committed the transaction: not an early release"
    return None
