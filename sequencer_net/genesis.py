"""Genesis: what every node of a chain agrees on before height 1."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING

from .consensus.config import ConsensusConfig, Timeouts
from .namespaces import Namespace, Registry
from .validators import PPM, Validator, ValidatorSet

if TYPE_CHECKING:
    from .threshold.keys import ThresholdPublic


@dataclass(frozen=True)
class ChainParams:
    """Rules every node must apply identically, so they live in genesis, not in node.toml.

    ``slash_fraction_ppm``: stake an equivocator loses, in parts per million (Cosmos: 5%).
    ``max_evidence_age``: evidence about a height more than this many heights back is refused.
    ``slashing = False`` keeps evidence out of batches, so equivocators are never jailed
    (experiments: what does slashing buy?).
    ``reputation_window``: heights a proposer that failed a round is passed over (0: never).
    ``inclusion_deadline``: heights an honest node holds a transaction before it prevotes nil on
    a proposal that leaves it out; ``inclusion_grace_ms``: how long before the batch was built
    it must have had it too, so gossip lag cannot make an honest proposer look like a censor;
    ``forced_inclusion = False`` turns the rule off (experiments).
    """

    slash_fraction_ppm: int = 50_000
    max_evidence_age: int = 100
    slashing: bool = True
    reputation_window: int = 50
    inclusion_deadline: int = 3
    inclusion_grace_ms: int = 50
    forced_inclusion: bool = True

    def __post_init__(self) -> None:
        if not 0 <= self.slash_fraction_ppm <= PPM:
            raise ValueError(f"slash fraction must be 0..{PPM} ppm, got {self.slash_fraction_ppm}")
        if self.max_evidence_age < 1:
            raise ValueError(f"max_evidence_age must be >= 1, got {self.max_evidence_age}")
        if self.reputation_window < 0:
            raise ValueError(f"reputation_window must be >= 0, got {self.reputation_window}")
        if self.inclusion_deadline < 1:
            raise ValueError(f"inclusion_deadline must be >= 1, got {self.inclusion_deadline}")
        if self.inclusion_grace_ms < 0:
            raise ValueError(f"inclusion_grace_ms must be >= 0, got {self.inclusion_grace_ms}")


@dataclass(frozen=True)
class Genesis:
    chain_id: str
    validators: tuple[Validator, ...]
    timeouts: Timeouts = field(default_factory=Timeouts)
    params: ChainParams = field(default_factory=ChainParams)
    # The namespace registry; empty admits every namespace (see :mod:`.namespaces`).
    namespaces: tuple[Namespace, ...] = ()
    # The threshold encryption key (``[private]``, docs/private.md); None: no private txs.
    private: ThresholdPublic | None = None

    def __post_init__(self) -> None:
        if not self.chain_id or len(self.chain_id) > 64:
            raise ValueError("chain_id must be 1..64 characters")
        self.registry  # noqa: B018  # checks the namespaces: unique names and ids, shares

    @cached_property
    def registry(self) -> Registry:
        return Registry(self.namespaces)

    @cached_property
    def validator_set(self) -> ValidatorSet:
        """The set for height 1."""
        return ValidatorSet(self.validators)

    @cached_property
    def consensus(self) -> ConsensusConfig:
        return ConsensusConfig(chain_id=self.chain_id, timeouts=self.timeouts)
