"""Forging the messages a byzantine node sends: conflicting proposals and votes signed with the
node's own key (bypassing its double-sign guard on purpose), and garbage.

Forging is deterministic for a given original message: the replica re-broadcasts its own
messages every second, and each resend must carry the same forged twin, not a new one.
"""

from __future__ import annotations

import dataclasses
import random

from ..crypto import SIGNATURE_SIZE, PrivateKey, digest
from ..messages import ProposalMessage
from ..types import Batch, Vote, VoteKind, sign_proposal, sign_vote

MAX_GARBAGE_BYTES = 256


def conflicting_proposal(
    key: PrivateKey, chain_id: str, original: ProposalMessage
) -> ProposalMessage:
    """A second valid proposal for the same (height, round): the same batch one millisecond
    later, so it is valid for every honest node yet has a different id."""
    batch = original.batch
    header = dataclasses.replace(batch.header, timestamp_ms=batch.header.timestamp_ms + 1)
    twin = Batch(header, batch.chunks, batch.evidence)
    p = original.proposal
    return ProposalMessage(
        sign_proposal(key, chain_id, p.height, p.round, p.pol_round, twin.id), twin
    )


def conflicting_vote(key: PrivateKey, chain_id: str, original: Vote) -> Vote:
    """A vote of the same kind, height and round for another value: nil for a value, and for
    nil an id derived from the original's signature."""
    value = None if original.value is not None else digest(b"equivocate" + original.signature)
    return sign_vote(key, chain_id, original.kind, original.height, original.round, value)


def malformed_payload(rng: random.Random) -> bytes:
    """Random bytes that no decoder should accept (and must survive)."""
    return rng.randbytes(rng.randint(1, MAX_GARBAGE_BYTES))


def badly_signed_vote(rng: random.Random, validator: bytes, height: int, round: int) -> Vote:
    """A well-formed prevote whose signature is random: it decodes, then fails verification."""
    return Vote(VoteKind.PREVOTE, height, round, None, validator, rng.randbytes(SIGNATURE_SIZE))
