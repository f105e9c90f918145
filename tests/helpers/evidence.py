"""Evidence factories: a four-validator genesis, double-signing evidence by name, and the
log record a node writes for it; shared by the evidence log and `evidence` command tests."""

from __future__ import annotations

from typing import Any

from sequencer_net.crypto import PrivateKey, digest
from sequencer_net.evidence import SlashRecord
from sequencer_net.evidence_log import make_record
from sequencer_net.genesis import Genesis
from sequencer_net.types import Evidence, VoteKind, make_evidence, sign_proposal, sign_vote
from sequencer_net.validators import Validator

CHAIN = "evidence-test"
STAKES = {"n1": 100, "n2": 100, "n3": 100, "n4": 40}
KEYS = {name: PrivateKey.from_label(f"evidence-{name}") for name in STAKES}
GENESIS = Genesis(
    CHAIN, tuple(Validator(name, KEYS[name].public_key, power) for name, power in STAKES.items())
)
NAMES = {key.public_key: name for name, key in KEYS.items()}
TIME_MS = 1_735_732_800_123  # 2025-01-01T12:00:00.123Z


def duplicate_vote(
    name: str, kind: VoteKind = VoteKind.PREVOTE, height: int = 5, chain: str = CHAIN
) -> Evidence:
    """``name`` voting for a batch and for nil in the same (height, round 1, kind)."""
    key = KEYS[name]
    return make_evidence(
        sign_vote(key, chain, kind, height, 1, digest(b"batch")),
        sign_vote(key, chain, kind, height, 1, None),
    )


def duplicate_proposal(name: str, height: int = 5) -> Evidence:
    key = KEYS[name]
    return make_evidence(
        sign_proposal(key, CHAIN, height, 2, -1, digest(b"batch a")),
        sign_proposal(key, CHAIN, height, 2, -1, digest(b"batch b")),
    )


def slashed(name: str) -> int:
    """The slashing rule worked by hand for the default 5%: 100 -> 95, 40 -> 38."""
    return {100: 95, 40: 38}[STAKES[name]]


def slash_record(
    evidence: Evidence, committed_height: int = 7, reporter: str = "n1", **changes: int
) -> SlashRecord:
    offender = NAMES[evidence.offender]
    fields = {"stake_before": STAKES[offender], "stake_after": slashed(offender), **changes}
    return SlashRecord(
        evidence, committed_height, TIME_MS, reporter=KEYS[reporter].public_key, **fields
    )


def record(evidence: Evidence, **kwargs: Any) -> dict[str, Any]:
    return make_record(slash_record(evidence, **kwargs), CHAIN, NAMES)
