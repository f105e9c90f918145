"""The paper's ``valid(v)``: pure checks of a batch against the chain a node holds.

Nothing here reads a store or a clock: :class:`ChainView` carries what a judgement needs (the
tip, the sets, the limits and two lookups), so the rules are testable without a replica.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from ..censorship import Limits
from ..chunks import certificate_problem
from ..evidence import evidence_problem
from ..genesis import ChainParams
from ..messages import CommittedBatch
from ..namespaces import batch_root
from ..types import MAX_EVIDENCE_PER_BATCH, NIL_ROUND, Batch, ChunkCertificate, Evidence, Proposal
from ..validators import ValidatorSet

GENESIS_PARENT = bytes(32)


@dataclass(frozen=True)
class ChainView:
    """The chain as one node holds it when judging a batch for ``height``."""

    chain_id: str
    height: int
    parent: CommittedBatch | None  # the batch at height - 1 (None at height 1)
    validators: ValidatorSet
    previous: ValidatorSet | None  # the set of the parent's height
    params: ChainParams
    limits: Limits
    # A certificate we hold already was verified when it arrived; a chunk committed here
    # (within the window this node remembers) must not be ordered again.
    known: Callable[[ChunkCertificate], bool]
    committed: Callable[[bytes], bool]
    # Judges early-release evidence against the chain (replica/decryption.py).
    leak_problem: Callable[[Evidence], str | None] | None = None


def proposal_problem(view: ChainView, proposal: Proposal, batch: Batch) -> str | None:
    """Why ``batch`` is not a valid value for ``proposal``."""
    header = batch.header
    if proposal.pol_round == NIL_ROUND and header.round != proposal.round:
        return "a fresh proposal must carry a batch built in its own round"
    if proposal.pol_round != NIL_ROUND and header.round > proposal.pol_round:
        return "a re-proposed batch must be older than its POL round"
    return batch_problem(view, batch)


def batch_problem(view: ChainView, batch: Batch) -> str | None:
    """Checks every honest node makes against its own chain before voting for a batch."""
    header, parent = batch.header, view.parent
    if header.chain_id != view.chain_id:
        return "wrong chain id"
    if header.height != view.height:
        return f"height {header.height}, expected {view.height}"
    if header.parent_id != (parent.batch.id if parent else GENESIS_PARENT):
        return "parent id does not match our chain"
    if parent and header.timestamp_ms <= parent.batch.header.timestamp_ms:
        return "timestamp not after the parent's"
    if header.validator_set_hash != view.validators.hash:
        return "validator set hash does not match"
    problem = last_commit_problem(view, batch)
    if problem:
        return problem
    if header.proposer != view.validators.proposer_for_round(header.round).public_key:
        return "built by a validator that was not the proposer of its round"
    # The limits before the digests and the certificates' signatures.
    limits = view.limits
    if len(batch.chunks) > limits.chunks:
        return "too many chunks"
    if batch.tx_count > limits.txs:
        return "too many transactions"
    if sum(c.size_bytes for c in batch.chunks) > limits.bytes:
        return "transactions exceed the batch size limit"
    if not batch.body_matches_header():
        return "body does not match the header's digests"
    if header.namespaces_root != batch_root(batch.chunks):
        return "namespaces root does not match the certificates' namespace tables"
    digests = batch.chunk_digests
    if len(set(digests)) != len(digests):
        return "duplicate chunk"
    if any(view.committed(d) for d in digests):
        return "chunk already committed"
    for cert in batch.chunks:
        if not view.known(cert):
            problem = certificate_problem(cert, view.validators, view.chain_id)
            if problem:
                return f"chunk certificate: {problem}"
    return batch_evidence_problem(view, batch.evidence)


def last_commit_problem(view: ChainView, batch: Batch) -> str | None:
    """The batch must carry a quorum certificate of its parent (none at height 1)."""
    last_commit, parent = batch.header.last_commit, view.parent
    if parent is None or view.previous is None:
        return None if last_commit is None else "a first batch carries no last commit"
    if last_commit is None:
        return "no last commit for the parent"
    if last_commit.batch_id != parent.batch.id:
        return "last commit certifies another batch than the parent"
    if last_commit == parent.certificate:
        return None  # ours, verified when we committed
    try:
        view.previous.verify_certificate(last_commit, view.chain_id)
    except ValueError as exc:
        return f"last commit: {exc}"
    return None


def batch_evidence_problem(view: ChainView, evidence: tuple[Evidence, ...]) -> str | None:
    if evidence and not view.params.slashing:
        return "evidence in a batch while slashing is off"
    if len(evidence) > MAX_EVIDENCE_PER_BATCH:
        return f"more than {MAX_EVIDENCE_PER_BATCH} pieces of evidence"
    offenders = {e.offender for e in evidence}
    if len(offenders) != len(evidence):
        return "two pieces of evidence against one validator"
    if offenders and all(v.public_key in offenders for v in view.validators.active):
        return "evidence would jail every active validator"
    for piece in evidence:
        problem = evidence_problem(
            piece,
            view.chain_id,
            view.validators,
            view.height,
            view.params.max_evidence_age,
            view.leak_problem,
        )
        if problem:
            return f"evidence: {problem}"
    return None


def committed_problem(view: ChainView, entry: CommittedBatch) -> str | None:
    """Why a batch a peer says was committed at ``view.height`` is not acceptable to us."""
    certificate, batch = entry.certificate, entry.batch
    if certificate.batch_id != batch.id or certificate.height != view.height:
        return "certificate is for another batch"
    if batch.header.round > certificate.round:
        return "batch built after the round it was committed in"
    if not entry.chunks_match:
        return "chunks do not match the batch's certificates"
    try:
        view.validators.verify_certificate(certificate, view.chain_id)
    except ValueError as exc:
        return str(exc)
    return batch_problem(view, batch)
