"""Genesis: what every node of a chain agrees on before height 1."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

from .consensus.config import ConsensusConfig, Timeouts
from .validators import Validator, ValidatorSet


@dataclass(frozen=True)
class Genesis:
    chain_id: str
    validators: tuple[Validator, ...]
    timeouts: Timeouts = field(default_factory=Timeouts)

    def __post_init__(self) -> None:
        if not self.chain_id or len(self.chain_id) > 64:
            raise ValueError("chain_id must be 1..64 characters")

    @cached_property
    def validator_set(self) -> ValidatorSet:
        """The set for height 1."""
        return ValidatorSet(self.validators)

    @cached_property
    def consensus(self) -> ConsensusConfig:
        return ConsensusConfig(chain_id=self.chain_id, timeouts=self.timeouts)
