"""Forced inclusion and the censorship measurements every node keeps.

Forced inclusion works on certified chunks (the data path orders chunks, see
:mod:`sequencer_net.replica.lanes`). A chunk is *overdue* at a proposal for height h when this
node has held its certificate since height ``h - inclusion_deadline`` or earlier and at least
``inclusion_grace_ms`` before the batch was built (its header's timestamp). The second condition
keeps dissemination lag out: at idle speed a height lasts a few tens of ms, so a certificate
that reached this node just before a commit would otherwise be "overdue" at a proposer it had
not reached yet, and an honest proposer would be accused and its round failed. The build time
comes from the proposal, not from this node's clock, so the honest nodes judge one proposal
alike: when they disagree, two prevoting nil and two not, the round waits out a timeout.
A fresh proposal that leaves an overdue chunk out, although the batch had room, earns a nil
prevote (the proposal is still valid; see ``ProposalReceived.acceptable``). The rule only bites
in the first :data:`FORCED_ROUNDS` rounds of a height: a censor's round fails and the next
proposer includes the chunk, while a node that is ahead of everyone else can cost at most those
rounds, never the height.

What the counts mean to a reader is in the submodules: ``metrics`` is the document a node
writes (its status and DATA_DIR/censorship.json) and the one reader of it, ``suspects`` the
rule that turns the nodes' documents into suspected censors.
"""

from __future__ import annotations

from collections import defaultdict, deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # annotations only: the metrics reader loads this package for `--help`
    from ..types import Batch, ChunkCertificate

FORCED_ROUNDS = 2
REGOSSIP = 64  # overdue chunk certificates re-sent per rebroadcast, oldest first
DELAY_SAMPLES = 10_000
NS_DELAY_SAMPLES = 2_000  # per registered namespace


@dataclass(frozen=True)
class Limits:
    """A batch's limits, as the judging node applies them."""

    chunks: int
    txs: int
    bytes: int


def omits(
    batch: Batch,
    due: Sequence[ChunkCertificate],
    limits: Limits,
    shares: Mapping[int, int] | None = None,
) -> int:
    """How many ``due`` chunks ``batch`` leaves out although it had room for them, or although
    they fit their namespaces' fair ``shares`` beside what the batch gave those namespaces
    (a batch full of a flooding namespace still owes a quiet one its share). Both are the
    rules an honest proposer's :meth:`~sequencer_net.replica.lanes.Lanes.select` follows:
    each chunk it skipped did not fit when it was considered, and a batch only grows."""
    from ..namespaces import usage, within_shares  # here: this package stays light to import

    if not due or len(batch.chunks) >= limits.chunks:
        return 0
    present = set(batch.chunk_digests)
    txs = batch.tx_count
    size = sum(c.size_bytes for c in batch.chunks)
    used = usage(batch.chunks) if shares else {}
    return sum(
        1
        for cert in due
        if cert.digest not in present
        and size + cert.size_bytes <= limits.bytes
        and (
            txs + cert.tx_count <= limits.txs
            or (shares is not None and within_shares(cert.namespaces, used, shares))
        )
    )


@dataclass
class ProposerStats:
    proposals: int = 0  # fresh proposals seen from this proposer
    failed_rounds: int = 0  # rounds it proposed (or should have) that did not commit
    overdue_omitted: int = 0  # proposals that left out a transaction overdue here


class CensorshipStats:
    """What this node saw: inclusion delays and per-proposer behaviour."""

    def __init__(self) -> None:
        self.delay_heights: deque[int] = deque(maxlen=DELAY_SAMPLES)
        self.delay_ms: deque[int] = deque(maxlen=DELAY_SAMPLES)
        self.included = 0  # transactions
        self.samples = 0  # delay samples recorded (one per chunk), so a reader takes new ones
        self.inclusion_nil_prevotes = 0
        self.proposers: defaultdict[bytes, ProposerStats] = defaultdict(ProposerStats)
        # Per registered namespace id: inclusion delays (ms, per chunk entry), transactions
        # included, and proposals that left out an overdue chunk of it.
        self.ns_delay_ms: defaultdict[int, deque[int]] = defaultdict(
            lambda: deque(maxlen=NS_DELAY_SAMPLES)
        )
        self.ns_included: defaultdict[int, int] = defaultdict(int)
        self.ns_omitted: defaultdict[int, int] = defaultdict(int)

    def record_inclusion(
        self,
        heights: int,
        ms: int,
        txs: int = 1,
        namespaces: Sequence[tuple[int, int]] = (),
    ) -> None:
        """``txs`` transactions (one chunk) included after ``heights`` and ``ms``; delays are
        sampled per chunk, and per (registered namespace id, count) it carries."""
        self.included += txs
        self.samples += 1
        self.delay_heights.append(heights)
        self.delay_ms.append(ms)
        for ns_id, count in namespaces:
            self.ns_delay_ms[ns_id].append(ms)
            self.ns_included[ns_id] += count

    def record_starved(
        self, batch: Batch, due: Sequence[ChunkCertificate], shares: Mapping[int, int]
    ) -> None:
        """Count, per registered namespace, a proposal that left out an overdue chunk of it."""
        present = set(batch.chunk_digests)
        left_out = {
            entry.ns_id
            for cert in due
            if cert.digest not in present
            for entry in cert.namespaces
            if entry.ns_id in shares
        }
        for ns_id in left_out:
            self.ns_omitted[ns_id] += 1
