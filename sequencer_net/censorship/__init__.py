"""Forced inclusion and the censorship measurements every node keeps.

A transaction is *overdue* at a proposal for height h when this node has held it for
``inclusion_deadline`` heights and shared it (received it, or gossiped a client's one) at least
``inclusion_grace_ms`` before the batch was built (its header's timestamp). The second condition
is what keeps gossip lag out: at idle speed a height lasts a few tens of ms, so a transaction
that reached this node just before a commit would otherwise be "overdue" at a proposer it had
not reached yet, and an honest proposer would be accused and its round failed. The build time
comes from the proposal, not from this node's clock, so the honest nodes judge one proposal
alike: when they disagree, two prevoting nil and two not, the round waits out a timeout.
A fresh proposal that leaves an overdue transaction out, although the batch had room, earns a
nil prevote (the proposal is still valid; see ``ProposalReceived.acceptable``). The rule only
bites in the first :data:`FORCED_ROUNDS` rounds of a height: a censor's round fails and the next
proposer includes the transaction, while a node whose mempool is ahead of everyone else's can
cost at most those rounds, never the height.

What the counts mean to a reader is in the submodules: ``metrics`` is the document a node
writes (its status and DATA_DIR/censorship.json) and the one reader of it, ``suspects`` the
rule that turns the nodes' documents into suspected censors.
"""

from __future__ import annotations

from collections import defaultdict, deque
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # annotations only: the metrics reader loads this package for `--help`
    from ..mempool import Mempool, PendingTx
    from ..types import Batch

FORCED_ROUNDS = 2
REGOSSIP = 256  # overdue transactions re-sent per rebroadcast, oldest first
DELAY_SAMPLES = 10_000


def overdue(
    mempool: Mempool, height: int, deadline: int, built_ms: int, grace_ms: int
) -> list[tuple[bytes, PendingTx]]:
    """Transactions overdue at ``height``, oldest first: first seen at ``height - deadline``
    or earlier, and shared with the peers at least ``grace_ms`` before ``built_ms``, so the
    proposer could have had them when it built its batch."""
    cutoff = built_ms - grace_ms
    return [
        (txid, pending)
        for txid, pending in mempool.held_since(height - deadline)
        if pending.shared_ms is not None and pending.shared_ms <= cutoff
    ]


def omits(batch: Batch, due: list[tuple[bytes, PendingTx]], max_txs: int, max_bytes: int) -> int:
    """How many ``due`` transactions ``batch`` leaves out although it had room for them."""
    if not due or len(batch.txs) >= max_txs:
        return 0
    present = set(batch.tx_ids)
    missing = [p for txid, p in due if txid not in present]
    room = max_bytes - sum(len(tx) for tx in batch.txs)
    return sum(1 for p in missing if len(p.encoded) <= room)


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
        self.included = 0
        self.inclusion_nil_prevotes = 0
        self.proposers: defaultdict[bytes, ProposerStats] = defaultdict(ProposerStats)

    def record_inclusion(self, heights: int, ms: int) -> None:
        self.included += 1
        self.delay_heights.append(heights)
        self.delay_ms.append(ms)
