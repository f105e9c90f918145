"""Decryption after commit: this validator's shares for the ciphertexts of each committed
batch, sent to its peers, and the combining of a threshold of verified shares into the
plaintexts of that height.

Nothing here ever makes a share for a height this node has not committed: shares are made
only in :meth:`Decryption.on_commit`'s job, for the encrypted transactions of that committed
entry, and answered to :class:`SharesRequest` only from a finished job's own messages.

The work (a share costs a scalar multiplication and a proof, checking one four) is done in
slices on the ``DECRYPT`` timer, so a batch full of ciphertexts does not hold the node's event
loop: consensus goes on while a height is being decrypted. A height's verdict is recorded
once every encrypted transaction in it has one; it is the same on every node
(``docs/private.md``).
"""

from __future__ import annotations

from collections import OrderedDict, deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from .. import codec
from ..crypto import PrivateKey
from ..genesis import Genesis
from ..messages import CommittedBatch
from ..threshold import envelope
from ..threshold.hybrid import Ciphertext, open_with
from ..threshold.keys import KeyShare, ThresholdPublic
from ..threshold.leak import EarlyRelease, leak_problem
from ..threshold.shares import DecryptionShare, combine, make_shares, share_valid
from ..threshold.wire import (
    MAX_SETS_PER_MESSAGE,
    DecryptionShares,
    ShareSet,
    SharesRequest,
    WireShare,
    sign_shares,
)
from ..types import Evidence, Tx
from .outputs import DECRYPT, Decrypted, Output, PeerId, Rejected, Send, SetTimer

SLICE_UNITS = 24  # scalar multiplications' worth of work per timer slice (a share check is 4)
KEEP_HEIGHTS = 256  # finished heights whose verdicts are kept (memory: plaintexts)
ANSWER_HEIGHTS = 64  # finished heights whose own share messages are kept for SharesRequest
MAX_EARLY = 256  # share messages held for heights we have not committed yet
AHEAD = 16  # how far ahead of our commits a share message may be held
REQUESTS_PER_TICK = 4  # unfinished heights asked about per rebroadcast
RESTORE_HEIGHTS = 16  # committed heights re-opened at start (each is read whole from disk)
LEAK_CHECKS_PER_MESSAGE = 4  # share sets of one message looked up as possible leaks
MAX_SUSPECTS = 64  # possible leaks of transactions we do not hold yet, looked at again
SUSPECT_TICKS = 10  # rebroadcasts a suspect is kept (its chunk may come after the shares)
MAX_JUDGED = 4_096  # (validator, tx id) pairs already looked into, so a repeat costs nothing


def _never(_txid: bytes) -> bytes | None:
    return None


def _nowhere(_txid: bytes) -> int | None:
    return None


def _ignore(_evidence: Evidence) -> None:
    return None


@dataclass
class _Job:
    """One committed height's encrypted transactions, until each has a verdict."""

    height: int
    order: list[bytes]  # encrypted tx ids, committed order
    labels: dict[bytes, tuple[str, str, Ciphertext]]  # those whose proof holds
    unchecked: deque[tuple[bytes, Tx]] = field(default_factory=deque)  # proofs not yet checked
    results: dict[bytes, bytes | None] = field(default_factory=dict)
    shares: dict[bytes, dict[int, DecryptionShare]] = field(default_factory=dict)
    queue: deque[tuple[PeerId, ShareSet]] = field(default_factory=deque)  # unverified
    seen: set[tuple[bytes, bytes]] = field(default_factory=set)  # (validator, tx id) queued
    own_todo: list[bytes] = field(default_factory=list)
    own_sets: list[ShareSet] = field(default_factory=list)
    own_messages: list[DecryptionShares] = field(default_factory=list)

    @property
    def done(self) -> bool:
        return len(self.results) == len(self.order)

    @property
    def has_work(self) -> bool:
        return bool(self.unchecked or self.own_todo or self.queue or self.own_sets)


class Decryption:
    def __init__(
        self,
        genesis: Genesis,
        key: PrivateKey,
        share: KeyShare | None,
        outputs: list[Output],
        *,
        committed_at: Callable[[bytes], int | None] = _nowhere,
        find_tx: Callable[[bytes], bytes | None] = _never,
        report: Callable[[Evidence], None] = _ignore,
    ) -> None:
        """``committed_at``: the height that committed a tx id (the chain store's word);
        ``find_tx``: a pending transaction's bytes by id (the lanes'); ``report``: where
        early-release evidence goes (the evidence pool)."""
        self.public: ThresholdPublic | None = genesis.private
        self._chain_id = genesis.chain_id
        self._key = key
        self._share = share if share is not None and share.shares else None
        self._outputs = outputs
        self._jobs: OrderedDict[int, _Job] = OrderedDict()  # unfinished, by height
        self._finished: OrderedDict[int, _Job] = OrderedDict()
        self._verdicts: dict[bytes, tuple[int, bytes | None]] = {}
        self._early: OrderedDict[tuple[int, bytes, bytes], tuple[PeerId, DecryptionShares]] = (
            OrderedDict()
        )
        self._committed = 0
        self._timer_set = False
        self._committed_at = committed_at
        self._find_tx = find_tx
        self._report = report
        self._reported: set[bytes] = set()  # validators whose leak we reported
        # (peer, message, tx id) -> rebroadcasts left: shares of a tx we did not hold yet
        self._suspects: OrderedDict[tuple[PeerId, DecryptionShares, bytes], int] = OrderedDict()
        self._judged: OrderedDict[tuple[bytes, bytes], None] = OrderedDict()
        self.sent_heights: list[int] = []  # heights we released shares for (checked in tests)

    @property
    def enabled(self) -> bool:
        return self.public is not None

    # ---- what the replica calls ------------------------------------------------------------

    def restore(self, entries: Iterable[CommittedBatch]) -> None:
        """Re-open recent committed heights after a restart: verdicts are kept in memory."""
        for entry in entries:
            self.on_commit(entry)

    def on_commit(self, entry: CommittedBatch) -> None:
        """A height is committed: make our shares for its ciphertexts, and start combining."""
        self._committed = max(self._committed, entry.height)
        if self.public is None:
            return
        job = self._job_for(entry)
        if job is not None:
            self._jobs[entry.height] = job
        held = [self._early.pop(k) for k in [k for k in self._early if k[0] == entry.height]]
        self._drop_early(entry.height)
        for peer, message in held:
            self._accept(peer, message)
        if job is not None:
            self._finish_if_done(job)
        self._schedule()

    def receive(self, peer: PeerId, message: DecryptionShares | SharesRequest) -> None:
        if self.public is None:
            return
        if isinstance(message, SharesRequest):
            self._answer(peer, message.height)
            return
        problem = self._message_problem(message)
        if problem:
            self._outputs.append(Rejected(peer, f"decryption shares refused: {problem}"))
            return
        if message.height > self._committed:
            if message.height <= self._committed + AHEAD:
                key = (message.height, message.validator, message.sets[0].tx_id)
                self._early[key] = (peer, message)
                while len(self._early) > MAX_EARLY:
                    self._early.popitem(last=False)
            return
        self._accept(peer, message)
        self._schedule()

    def leak_problem(self, evidence: Evidence) -> str | None:
        """Why ``evidence`` is not a provable early release on this chain (None: it is)."""
        if not isinstance(evidence, EarlyRelease):
            return "not early-release evidence"
        return leak_problem(evidence, self.public, self._committed_at, self._committed)

    def on_timer(self) -> None:
        self._timer_set = False
        units = SLICE_UNITS
        for job in list(self._jobs.values()):
            while units > 0 and job.has_work:
                units -= self._step(job, units)
            self._finish_if_done(job)
            if units <= 0:
                break
        self._schedule()

    def on_rebroadcast(self) -> None:
        """Ask again for the shares of unfinished heights (lost, or we caught up since)."""
        for height in list(self._jobs)[:REQUESTS_PER_TICK]:
            self._outputs.append(Send(None, SharesRequest(height)))
        for key, left in list(self._suspects.items()):
            peer, message, txid = key
            if self._judge(peer, message, txid) or left <= 1:
                del self._suspects[key]
            else:
                self._suspects[key] = left - 1

    def verdict(self, txid: bytes) -> tuple[int, bytes | None] | None:
        """(height, plaintext or None for a failed decryption) once decrypted; None before."""
        return self._verdicts.get(txid)

    def height_verdicts(self, height: int) -> tuple[tuple[bytes, bytes | None], ...] | None:
        """The height's verdicts in committed order once all are in; None before (or when it
        holds no ciphertext, or is older than the kept heights)."""
        job = self._finished.get(height)
        if job is None:
            return None
        return tuple((t, job.results[t]) for t in job.order)

    def pending_heights(self) -> list[int]:
        return list(self._jobs)

    def describe_tx(self, txid: bytes) -> dict[str, object]:
        """What `tx status` shows: ``decryption`` pending, done (with ``plaintext``) or
        failed; empty for a transaction that is not an encrypted one of a kept height."""
        found = self._verdicts.get(txid)
        if found is not None:
            plaintext = found[1]
            if plaintext is None:
                return {"decryption": "failed"}
            return {"decryption": "done", "plaintext": plaintext}
        if any(txid in job.order for job in self._jobs.values()):
            return {"decryption": "pending"}
        return {}

    def describe_height(self, height: int) -> dict[str, object]:
        """What `batch show` shows: the height's verdicts in committed order, or pending."""
        verdicts = self.height_verdicts(height)
        if verdicts is not None:
            return {"decrypted": [[t, p] for t, p in verdicts]}
        if height in self._jobs:
            return {"decryption": "pending"}
        return {}

    # ---- inside ----------------------------------------------------------------------------

    def _job_for(self, entry: CommittedBatch) -> _Job | None:
        """The height's encrypted transactions, in committed order; their proofs are checked
        in the timer's slices (:meth:`_label`), not here: a batch may hold 50,000."""
        unchecked: deque[tuple[bytes, Tx]] = deque()
        for txid, encoded in zip(entry.tx_ids, entry.txs, strict=True):
            if envelope.PREFIX not in encoded:
                continue
            tx = codec.decode(encoded, Tx)
            assert isinstance(tx, Tx)
            if envelope.is_encrypted(tx.payload):
                unchecked.append((txid, tx))
        if not unchecked:
            return None
        return _Job(entry.height, [t for t, _ in unchecked], {}, unchecked=unchecked)

    def _label(self, job: _Job) -> int:
        """Check one ciphertext's shape and proof: it gets shares, or the failed verdict."""
        txid, tx = job.unchecked.popleft()
        try:
            ct = envelope.ciphertext_of(tx.payload)
        except ValueError:
            job.results[txid] = None
            return 1
        if not ct.label_holds(tx.namespace, tx.sender):
            job.results[txid] = None  # no honest validator releases a share for it
            return 4
        job.labels[txid] = (tx.namespace, tx.sender, ct)
        if self._share is not None:
            job.own_todo.append(txid)
        return 4

    def _message_problem(self, message: DecryptionShares) -> str | None:
        assert self.public is not None
        owned = set(self.public.indices_of(message.validator))
        if not owned:
            return "the sender holds no decryption share"
        for s in message.sets:
            if not all(w.index in owned for w in s.shares):
                return "a share index the sender does not hold"
        if not message.verify(self._chain_id):
            return "bad signature"
        return None

    def _accept(self, peer: PeerId, message: DecryptionShares) -> None:
        """A checked message about a committed height: queue its shares, and look into the
        sets that height did not commit (a leak, if we hold the transaction)."""
        job = self._jobs.get(message.height)
        if job is not None:
            self._queue(job, message, peer)
        known = job or self._finished.get(message.height)
        strays = [s for s in message.sets if known is None or s.tx_id not in known.order]
        fresh = [s for s in strays if (message.validator, s.tx_id) not in self._judged]
        for s in fresh[:LEAK_CHECKS_PER_MESSAGE]:
            self._judged[(message.validator, s.tx_id)] = None
            while len(self._judged) > MAX_JUDGED:
                self._judged.popitem(last=False)
            if not self._judge(peer, message, s.tx_id):
                self._suspects[(peer, message, s.tx_id)] = SUSPECT_TICKS
                while len(self._suspects) > MAX_SUSPECTS:
                    self._suspects.popitem(last=False)

    def _judge(self, peer: PeerId, message: DecryptionShares, txid: bytes) -> bool:
        """Settle whether shares of ``txid`` in ``message`` were released early: report the
        leak, or find it is none. False: we do not hold the transaction (yet)."""
        if message.validator in self._reported:
            return True
        if self._committed_at(txid) == message.height:
            return True  # committed there (a plaintext or an unreadable one): not a leak
        tx = self._find_tx(txid)
        if tx is None:
            return False  # we cannot prove what we do not hold; its chunk may be on its way
        evidence = EarlyRelease(message, tx)
        problem = self.leak_problem(evidence)
        if problem is None:
            self._reported.add(message.validator)
            self._report(evidence)
        else:
            self._outputs.append(Rejected(peer, f"decryption shares refused: {problem}"))
        return True

    def _queue(self, job: _Job, message: DecryptionShares, peer: PeerId) -> None:
        order = set(job.order)
        for s in message.sets:
            key = (message.validator, s.tx_id)
            if s.tx_id in order and s.tx_id not in job.results and key not in job.seen:
                job.seen.add(key)
                job.queue.append((peer, s))

    def _step(self, job: _Job, units: int) -> int:
        """Do up to about ``units`` of ``job``'s work; the units spent (at least 1)."""
        spent = 0
        while spent < units and job.unchecked:
            spent += self._label(job)
        if job.unchecked:
            return max(spent, 1)  # shares are checked against labelled ciphertexts only
        while spent < units and job.own_todo:
            spent += self._make_own(job, job.own_todo.pop(0))
        if not job.own_todo and job.own_sets:
            self._send_own(job)
        while spent < units and job.queue:
            peer, s = job.queue.popleft()
            spent += self._check(job, peer, s)
        return max(spent, 1)

    def _make_own(self, job: _Job, txid: bytes) -> int:
        assert self._share is not None
        ct = job.labels[txid][2]
        made = make_shares(self._share, ct)
        pool = job.shares.setdefault(txid, {})
        for s in made:
            pool[s.index] = s
        job.own_sets.append(
            ShareSet(txid, tuple(WireShare(s.index, s.point, s.proof) for s in made))
        )
        if len(job.own_sets) >= MAX_SETS_PER_MESSAGE:
            self._send_own(job)
        self._combine_if_enough(job, txid)
        return 3 * len(made)

    def _send_own(self, job: _Job) -> None:
        sets, job.own_sets = tuple(job.own_sets), []
        message = sign_shares(self._key, self._chain_id, job.height, sets)
        job.own_messages.append(message)
        self.sent_heights.append(job.height)
        self._outputs.append(Send(None, message))

    def _check(self, job: _Job, peer: PeerId, s: ShareSet) -> int:
        assert self.public is not None
        if s.tx_id in job.results or s.tx_id not in job.labels:
            return 0  # decided meanwhile (or failed its proof): no need to check shares
        ct = job.labels[s.tx_id][2]
        pool = job.shares.setdefault(s.tx_id, {})
        spent = 0
        for w in s.shares:
            if w.index in pool:
                continue
            share = DecryptionShare(w.index, w.point, w.proof)
            spent += 4
            if not share_valid(self.public, ct, share):
                self._outputs.append(Rejected(peer, f"decryption share {w.index} fails its proof"))
                continue
            pool[w.index] = share
        self._combine_if_enough(job, s.tx_id)
        return spent

    def _combine_if_enough(self, job: _Job, txid: bytes) -> None:
        assert self.public is not None
        pool = job.shares.get(txid, {})
        if txid in job.results or len(pool) < self.public.threshold:
            return
        namespace, sender, ct = job.labels[txid]
        job.results[txid] = open_with(ct, combine(self.public, pool), namespace, sender)
        job.shares.pop(txid, None)

    def _finish_if_done(self, job: _Job) -> None:
        if not job.done or job.own_todo or job.unchecked:
            return
        if job.own_sets:
            self._send_own(job)
        self._jobs.pop(job.height, None)
        job.queue.clear()
        job.seen.clear()
        job.labels.clear()  # the ciphertexts are no longer needed, only the verdicts
        job.shares.clear()
        self._finished[job.height] = job
        if len(self._finished) > ANSWER_HEIGHTS:
            old_height = next(reversed(list(self._finished)[:-ANSWER_HEIGHTS]))
            self._finished[old_height].own_messages.clear()
        for txid in job.order:
            self._verdicts[txid] = (job.height, job.results[txid])
        while len(self._finished) > KEEP_HEIGHTS:
            _, old = self._finished.popitem(last=False)
            for txid in old.order:
                self._verdicts.pop(txid, None)
        self._outputs.append(Decrypted(job.height, tuple((t, job.results[t]) for t in job.order)))

    def _answer(self, peer: PeerId, height: int) -> None:
        """Our shares of a committed height for a peer that lacks them (never an uncommitted
        one: only jobs of committed heights hold messages)."""
        job = self._finished.get(height) or self._jobs.get(height)
        if job is None or job.own_todo:
            return
        for message in job.own_messages:
            self._outputs.append(Send(peer, message))

    def _drop_early(self, height: int) -> None:
        for key in [k for k in self._early if k[0] <= height]:
            del self._early[key]

    def _schedule(self) -> None:
        if not self._timer_set and any(j.has_work for j in self._jobs.values()):
            self._timer_set = True
            self._outputs.append(SetTimer(DECRYPT, 0))
