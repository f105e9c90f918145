"""The set's threshold key: what genesis publishes and what each validator keeps secret, and
the dealer that makes both at ``cluster init``.

Share indices run from 1 to ``N``; validator ``v`` owns a contiguous range of them, as many as
:func:`.apportion.share_counts` gives its stake. ``verification_keys[i - 1]`` is ``x_i G``, the
public half of share ``i``, so anyone can check a decryption share's proof.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from . import apportion, group, shamir


@dataclass(frozen=True)
class ThresholdPublic:
    """The public side: the encryption key, the threshold and who holds which share."""

    public_key: bytes
    threshold: int
    verification_keys: tuple[bytes, ...]
    owners: tuple[bytes, ...]  # the validator key holding each share index, by index - 1

    def __post_init__(self) -> None:
        n = len(self.verification_keys)
        if not n or len(self.owners) != n:
            raise ValueError("every share needs a verification key and an owner")
        if not 1 <= self.threshold <= n:
            raise ValueError(f"threshold must be 1..{n}, got {self.threshold}")
        for p in (self.public_key, *self.verification_keys):
            if not group.is_point(p):
                raise ValueError("a threshold key is not a valid group element")

    @property
    def share_count(self) -> int:
        return len(self.verification_keys)

    def indices_of(self, validator: bytes) -> tuple[int, ...]:
        return tuple(i + 1 for i, o in enumerate(self.owners) if o == validator)


@dataclass(frozen=True)
class KeyShare:
    """One validator's secret shares, by index."""

    validator: bytes
    shares: tuple[tuple[int, bytes], ...]

    def matches(self, public: ThresholdPublic) -> str | None:
        """Why these shares are not ``validator``'s shares of ``public`` (None: they are)."""
        if tuple(i for i, _ in self.shares) != public.indices_of(self.validator):
            return "its share indices are not the ones genesis gives this validator"
        for i, x in self.shares:
            if not group.is_scalar(x) or group.base_mul(x) != public.verification_keys[i - 1]:
                return f"share {i} does not match its verification key in genesis"
        return None


def deal(
    validators: Sequence[bytes], stakes: Sequence[int]
) -> tuple[ThresholdPublic, list[KeyShare]]:
    """A trusted dealer: a fresh secret, shared by stake, then forgotten. Right for a local
    cluster whose keys one process makes anyway; ``docs/private.md`` says what a DKG would add."""
    counts = apportion.share_counts(stakes)
    total = sum(counts)
    t = apportion.threshold_for(total)
    secret = group.random_scalar()
    values = shamir.deal(secret, t, total)
    owners: list[bytes] = []
    for v, k in zip(validators, counts, strict=True):
        owners.extend([v] * k)
    public = ThresholdPublic(
        public_key=group.base_mul(secret),
        threshold=t,
        verification_keys=tuple(group.base_mul(x) for x in values),
        owners=tuple(owners),
    )
    shares = [
        KeyShare(v, tuple((i, values[i - 1]) for i in public.indices_of(v))) for v in validators
    ]
    return public, shares
