"""The invariants every simulated run must keep (DESIGN.md, "What is checked, always").

- Agreement: no two honest instances commit different batches at the same height. Honest
  includes validators that are only slow or lossy (the ``delay`` and ``drop`` faults); twins
  and validators with a byzantine fault (``withhold``, ``equivocate``, ``censor``) are not
  held to agreement or liveness.
- Validity: every committed batch extends its parent, was built by the proposer of its round and
  carries a certificate that is a quorum of valid precommits of that height's validator set;
  every chunk certificate it orders holds acks from more than a third of that set's stake.
- Availability: every honest instance holds every chunk a batch it committed orders, and the
  same bytes as every other honest instance (the digests name the chunks).
- Liveness: after GST every honest instance commits the target heights and at least
  ``liveness_heights`` more than it had at GST, within the scenario's bound.
- Following: a mute instance runs honest node logic and only keeps quiet, so agreement and
  liveness hold for it too: it catches up on what it missed and commits what the others do.
- Lane books: at the end, what an honest instance's lanes count (each author's share bytes)
  is what they hold, and no committed chunk is held as uncommitted.
- Bundles: every bundle an honest instance took commits in one batch, contiguous and in its
  order, or not at all (never split across heights, never partly).
- Accountability: every piece of evidence verifies and names a byzantine validator, never an
  honest one; no honest validator is ever jailed; evidence found well before the end of a live
  run has been committed and its offender jailed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

from ..chunks import certificate_problem
from ..genesis import Genesis
from ..messages import CommittedBatch
from ..replica import GENESIS_PARENT, advance, genesis_state
from ..store import ChainStore
from ..types import Evidence
from ..validators import ValidatorSet
from .scenario import Scenario

SLASH_WITHIN = 10  # heights from detection to a committed slash that a live run must manage


class Instance(Protocol):
    """What the checker reads of a simulated process; the runner's instances have it, and the
    checker needs nothing else of the runner."""

    @property
    def name(self) -> str: ...

    @property
    def role(self) -> str: ...

    @property
    def chain(self) -> ChainStore: ...

    @property
    def evidence(self) -> dict[bytes, Evidence]: ...

    @property
    def honest(self) -> bool: ...

    @property
    def follows(self) -> bool: ...

    @property
    def lanes_problem(self) -> str | None: ...


@dataclass(frozen=True)
class CommitRow:
    """One committed height as the honest instances agree on it (for display)."""

    height: int
    batch_id: str
    proposer: str
    round: int
    txs: int


@dataclass(frozen=True)
class Report:
    violations: list[str]
    heights: int  # lowest height committed by an honest instance
    chain: list[CommitRow] = field(default_factory=list)
    evidence: int = 0  # distinct evidence found by honest instances
    offenders: list[str] = field(default_factory=list)
    jailed: list[str] = field(default_factory=list)  # slashed by the end of the run

    @property
    def commit_rounds(self) -> list[int]:
        """The round each height committed in."""
        return [row.round for row in self.chain]

    @property
    def view_changes(self) -> int:
        """Rounds beyond the first, summed over heights: each is one failed round."""
        return sum(self.commit_rounds)


def check_run(
    genesis: Genesis,
    instances: Sequence[Instance],
    scenario: Scenario,
    height_at_gst: dict[int, int],
    bundles: Sequence[tuple[bytes, ...]] = (),
) -> Report:
    violations: list[str] = []
    honest = [(i, inst) for i, inst in enumerate(instances) if inst.honest]
    followers = [(i, inst) for i, inst in enumerate(instances) if inst.follows]
    longest = max((inst.chain.last_height() for _, inst in followers), default=0)

    reference: dict[int, tuple[str, CommittedBatch]] = {}
    for _, inst in followers:
        for height in range(1, inst.chain.last_height() + 1):
            entry = inst.chain.get(height)
            assert entry is not None
            seen = reference.setdefault(height, (inst.name, entry))
            if not entry.chunks_match:
                violations.append(f"availability: {inst.name} height {height}: chunks missing")
            elif seen[1].txs != entry.txs:
                violations.append(f"availability: height {height}: {inst.name} holds other txs")
            if seen[1].batch.id != entry.batch.id:
                violations.append(
                    f"agreement: height {height}: {seen[0]} committed {seen[1].batch.id.hex()[:12]}"
                    f", {inst.name} committed {entry.batch.id.hex()[:12]}"
                )

    sets = _validator_sets(genesis, [reference[h][1] for h in range(1, longest + 1)])
    for height, (name, entry) in reference.items():
        problem = _validity_problem(genesis, sets[height], entry, height)
        if problem:
            violations.append(f"validity: {name} height {height}: {problem}")

    for height in range(1, longest + 1):
        parent, child = reference.get(height - 1), reference.get(height)
        if child is None or (height > 1 and parent is None):
            continue
        parent_id = parent[1].batch.id if parent else GENESIS_PARENT
        if child[1].batch.header.parent_id != parent_id:
            violations.append(f"validity: height {height} does not extend height {height - 1}")
        problem = _last_commit_problem(genesis, sets.get(height - 1), child[1], parent_id)
        if problem:
            violations.append(f"validity: {child[0]} height {height}: {problem}")

    for idx, inst in followers:
        height = inst.chain.last_height()
        after_gst = height - height_at_gst.get(idx, 0)
        if height < scenario.heights or after_gst < scenario.liveness_heights:
            who = inst.name if inst.honest else f"{inst.role} {inst.name}"
            violations.append(
                f"liveness: {who} committed {height} heights ({after_gst} after GST), "
                f"needed {scenario.heights} and {scenario.liveness_heights} after GST "
                f"within {scenario.liveness_bound_ms} ms of GST"
            )

    for _, inst in honest:
        problem = inst.lanes_problem
        if problem:
            violations.append(f"lane books: {inst.name}: {problem}")
    violations.extend(_bundle_problems(reference, bundles))

    byzantine_keys = {genesis.validators[i].public_key for i in scenario.byzantine}
    names = {v.public_key: v.name for v in genesis.validators}
    found: dict[bytes, Evidence] = {}
    for _, inst in honest:
        found.update(inst.evidence)
    offenders = set()
    lowest = min((inst.chain.last_height() for _, inst in honest), default=0)
    live = not any(v.startswith("liveness") for v in violations) and scenario.slashing
    final = sets[longest + 1]
    for evidence in found.values():
        if not evidence.verify(genesis.chain_id):
            violations.append("accountability: evidence with an invalid signature")
        elif evidence.offender not in byzantine_keys:
            violations.append(f"accountability: evidence against honest {names[evidence.offender]}")
        elif live and evidence.height <= lowest - SLASH_WITHIN:
            offender = final.get(evidence.offender)
            if offender is None or not offender.jailed:
                violations.append(
                    f"accountability: {names[evidence.offender]} equivocated at height "
                    f"{evidence.height} but was not jailed by height {longest}"
                )
        offenders.add(names.get(evidence.offender, "?"))
    for validator in final.validators:
        if validator.jailed and validator.public_key not in byzantine_keys:
            violations.append(f"accountability: honest {validator.name} was jailed")

    chain = [
        CommitRow(
            height,
            entry.batch.id.hex()[:12],
            names[entry.batch.header.proposer],
            entry.certificate.round,
            len(entry.txs),
        )
        for height, (_, entry) in sorted(reference.items())
    ]
    jailed = sorted(v.name for v in final.validators if v.jailed)
    return Report(violations, lowest, chain, len(found), sorted(offenders), jailed)


def _bundle_problems(
    reference: dict[int, tuple[str, CommittedBatch]], bundles: Sequence[tuple[bytes, ...]]
) -> list[str]:
    """Each bundle committed whole at one height, contiguous and in order, or not at all."""
    if not bundles:
        return []
    where: dict[bytes, tuple[int, int]] = {}
    for height, (_, entry) in reference.items():
        for position, txid in enumerate(entry.tx_ids):
            where.setdefault(txid, (height, position))
    problems = []
    for ids in bundles:
        found = [where.get(txid) for txid in ids]
        if all(f is None for f in found):
            continue
        first = found[0]
        expected = [None if first is None else (first[0], first[1] + i) for i in range(len(ids))]
        if found != expected:
            problems.append(f"bundles: bundle {ids[0].hex()[:12]} committed as {found}")
    return problems


def _validator_sets(genesis: Genesis, chain: list[CommittedBatch]) -> dict[int, ValidatorSet]:
    """The validator set of each height (and the one after the chain), derived from genesis
    and the agreed chain alone, by the same rule every replica applies at a commit."""
    state = genesis_state(genesis)
    sets = {1: state.validators}
    for entry in chain:
        state = advance(state, entry.batch, genesis.params).state
        sets[state.height] = state.validators
    return sets


def _last_commit_problem(
    genesis: Genesis, previous: ValidatorSet | None, entry: CommittedBatch, parent_id: bytes
) -> str | None:
    last_commit = entry.batch.header.last_commit
    if previous is None:
        return None if last_commit is None else "first batch carries a last commit"
    if last_commit is None or last_commit.batch_id != parent_id:
        return "last commit does not certify the parent"
    try:
        previous.verify_certificate(last_commit, genesis.chain_id)
    except ValueError as exc:
        return f"bad last commit: {exc}"
    return None


def _validity_problem(
    genesis: Genesis, validators: ValidatorSet, entry: CommittedBatch, height: int
) -> str | None:
    header, certificate = entry.batch.header, entry.certificate
    if header.height != height or certificate.height != height:
        return "stored at the wrong height"
    if certificate.batch_id != entry.batch.id:
        return "certificate is for another batch"
    if height == 1 and header.parent_id != GENESIS_PARENT:
        return "first batch does not start from genesis"
    if header.round > certificate.round:
        return "batch built after the round that committed it"
    if header.proposer != validators.proposer_for_round(header.round).public_key:
        return f"built by a validator that was not the proposer of round {header.round}"
    if not entry.batch.body_matches_header():
        return "body does not match header"
    for cert in entry.batch.chunks:
        problem = certificate_problem(cert, validators, genesis.chain_id)
        if problem:
            return f"chunk certificate: {problem}"
    try:
        validators.verify_certificate(certificate, genesis.chain_id)
    except ValueError as exc:
        return f"bad certificate: {exc}"
    return None
