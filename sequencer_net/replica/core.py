"""The replica: its entry points and the loop that carries out the consensus core's effects.

The services it drives live beside it: dissemination of transactions in chunks
(:mod:`.lanes`), validity checks (:mod:`.validity`), the guarded signer (:mod:`.signer`),
catch-up (:mod:`.catchup`), rebroadcast (:mod:`.gossip`), what a commit decides
(:mod:`.chainstate`) and the admission of transactions and evidence (:mod:`.admission`). Each
appends to the one output list :meth:`Replica._take_outputs` hands out.

A decided batch is committed once this node holds every chunk it orders; one it lacks is
fetched first (the certificate says more than a third of the stake stored it).
"""

from __future__ import annotations

from collections import Counter, deque
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from .. import censorship
from ..censorship import CensorshipStats
from ..consensus import (
    CastVote,
    Decide,
    Driver,
    Effect,
    GetValue,
    HeightMachine,
    ProposalReceived,
    Propose,
    ReportEvidence,
    RoundStarted,
    ScheduleTimeout,
    TimeoutElapsed,
    ValueReady,
    VoteReceived,
)
from ..crypto import PrivateKey
from ..evidence import EvidencePool
from ..genesis import Genesis
from ..messages import (
    ChunkRequest,
    ChunkResponse,
    CommittedBatch,
    EvidenceGossip,
    Message,
    ProposalEcho,
    ProposalMessage,
    SignedChunk,
    SyncRequest,
    SyncResponse,
)
from ..node_params import NodeParams
from ..store import ChainStore, SignStateStore
from ..threshold.wire import DecryptionShares, SharesRequest
from ..types import (
    NIL_ROUND,
    Batch,
    Bundle,
    Certificate,
    ChunkAck,
    ChunkCertificate,
    Step,
    Vote,
    tx_id,
    vote_from_payload,
)
from ..validators import ValidatorSet
from . import chainstate, validity
from .admission import Admission
from .batches import build_batch
from .catchup import CatchUp
from .decryption import RESTORE_HEIGHTS, Decryption
from .gossip import Gossip
from .inbox import Inbox
from .lanes import HeldCertificate, Lanes
from .outputs import (
    FETCH,
    NEXT_HEIGHT,
    REBROADCAST,
    Committed,
    Output,
    PeerId,
    RoundEntered,
    SetTimer,
    Slashed,
    StepTimeout,
    Tick,
    TimerKey,
)
from .signer import GuardedSigner

if TYPE_CHECKING:
    from ..threshold.keys import KeyShare

CHECKPOINT_EVERY = 1_000  # heights between stored validator sets, bounding restart replay


class Replica:
    def __init__(
        self,
        genesis: Genesis,
        key: PrivateKey,
        chain: ChainStore,
        sign_state: SignStateStore,
        params: NodeParams | None = None,
        machine_factory: type[HeightMachine] = HeightMachine,
        threshold_share: KeyShare | None = None,
    ) -> None:
        self.genesis = genesis
        self.chain_id = genesis.chain_id
        self.key = key
        self.chain = chain
        self.params = params or NodeParams()
        self.driver = Driver(genesis.consensus, key.public_key, machine_factory)
        self._state = chainstate.restore(genesis, chain)
        self.censorship = CensorshipStats()
        self.evidence = EvidencePool()
        self.slashes = Counter(r.evidence.offender for r in chain.slash_records())
        # Set by the `censor` fault only: transactions this node leaves out of its batches.
        self.omit: Callable[[bytes], bool] | None = None
        self._outputs: list[Output] = []
        self.lanes = Lanes(
            key, self.chain_id, self.params, self._outputs, genesis.registry, lambda: self._now_ms
        )
        self._signer = GuardedSigner(key, self.chain_id, sign_state, self._outputs)
        self.catchup = CatchUp(chain, self.params.sync_delay_ms, self._outputs)
        self._readmit: list[bytes] = []  # acknowledged before a restart: see readmit_when_caught_up
        self._gossip = Gossip(self._outputs)
        self.admission = Admission(self, self._outputs)
        self.inbox = Inbox(self, self._outputs)
        self._deferred: list[Effect] = []
        self._undecided: tuple[Batch, Certificate] | None = None  # decided, chunks missing
        self._now_ms = 0
        # Private sequencing (genesis [private]): decryption shares after each commit.
        self.decryption = Decryption(
            genesis,
            key,
            threshold_share,
            self._outputs,
            committed_at=self._committed_height_of,
            find_tx=self._pending_tx,
            report=lambda evidence: self.admission.add_evidence(evidence, None),
        )
        if self.decryption.enabled:
            last = chain.last_height()
            recent = range(max(1, last - RESTORE_HEIGHTS + 1), last + 1)
            self.decryption.restore(e for h in recent if (e := chain.get(h)) is not None)

    @property
    def height(self) -> int:
        """The height being decided (one above the last commit)."""
        return self.chain.last_height() + 1

    @property
    def round(self) -> int:
        return self.driver.round

    @property
    def step(self) -> Step:
        return self.driver.current_step

    @property
    def validators(self) -> ValidatorSet:
        """The set deciding the current height."""
        return self._state.validators

    @property
    def signatures(self) -> tuple[int, int]:
        """(consensus signatures, data-path signatures) made so far: each consensus one cost
        a sign-state fsync first."""
        return self._signer.signed, self.lanes.signed

    @property
    def now_ms(self) -> int:
        """The time the caller passed with the input being handled."""
        return self._now_ms

    # ---- entry points ----------------------------------------------------------------------

    def start(self, now_ms: int) -> list[Output]:
        """Begin (or, after a restart, resume) consensus at the next height."""
        self._now_ms = now_ms
        record = self._signer.last_record()
        current = record if record and record.height == self.height else None
        restored = current.lock if current else None
        self._drain(self.driver.start_height(self.height, self.validators, restored))
        if current is not None and current.step is not Step.PROPOSE:
            # The vote we signed last, perhaps just before a crash: the others may need it for
            # their quorum, and the guard will not let us sign the earlier steps again.
            vote = vote_from_payload(current.payload, self.key.public_key, current.signature)
            self._gossip.broadcast_own(vote)
            self._drain(self.driver.step(VoteReceived(vote)))
        self._outputs.append(SetTimer(REBROADCAST, self.params.rebroadcast_ms))
        return self._take_outputs()

    def receive(self, peer: PeerId, message: Message, now_ms: int) -> list[Output]:
        """Handle one decoded message from a peer."""
        self._now_ms = now_ms
        match message:
            case ProposalMessage() | Vote():
                self._drain(self.inbox.consensus_message(peer, message))
            case SignedChunk():
                if self.lanes.on_chunk(peer, message, self.validators):
                    self._commit_if_complete()
            case ChunkAck():
                if self.lanes.on_ack(message, self.validators, self.height, now_ms, self.omit):
                    self._wake()
            case ChunkCertificate():
                if self.lanes.on_certificate(peer, message, self.validators, self.height, now_ms):
                    self._wake()
            case ChunkRequest(digests):
                self.lanes.on_request(peer, digests)
            case ChunkResponse(chunks):
                if self.lanes.on_response(chunks) and self._undecided is not None:
                    self._drain(self._commit_if_held())
            case SyncRequest(from_height):
                self.catchup.answer(peer, from_height)
            case SyncResponse(entries):
                self.catchup.apply(peer, entries, self._committed_problem, self._commit_synced)
            case EvidenceGossip(evidence):
                self.admission.add_evidence(evidence, peer)
            case ProposalEcho(proposal):
                self.admission.compare_echo(peer, proposal)
            case DecryptionShares() | SharesRequest():
                self.decryption.receive(peer, message)
        return self._take_outputs()

    def readmit_when_caught_up(self, encoded_txs: list[bytes]) -> None:
        """Transactions this node acknowledged before a restart and did not see committed:
        back into its lane, but only at its first commit after which no peer is known to be
        ahead. Until then it cannot tell which of them the others committed meanwhile (from
        its chunks that got out before the crash), and would chunk those again."""
        self._readmit.extend(encoded_txs)

    def _readmit_if_caught_up(self) -> None:
        if not self._readmit or self.catchup.behind:
            return
        held, self._readmit = self._readmit, []
        for encoded in held:
            bundle = Bundle.of(encoded)
            if bundle is not None:  # refused whole if it committed while we were down
                self.admission.admit_bundle(bundle.txs, self.omit)
            elif self.chain.tx_location(tx_id(encoded)) is None:  # committed while we were down
                self.admission.admit_tx(encoded, self.omit)

    def submit(self, encoded_tx: bytes, now_ms: int) -> tuple[bytes | None, list[Output]]:
        """A client's transaction: admit it to this node's lane. Returns its id, or None with
        a :class:`Rejected` output saying why."""
        self._now_ms = now_ms
        txid = self.admission.admit_tx(encoded_tx, self.omit)
        return txid, self._take_outputs()

    def submit_bundle(
        self, encoded_txs: Sequence[bytes], now_ms: int
    ) -> tuple[tuple[bytes, ...] | None, list[Output]]:
        """A client's atomic bundle: one bundle chunk of this node's lane. Returns the ids, or
        None with a :class:`Rejected` output saying why."""
        self._now_ms = now_ms
        ids = self.admission.admit_bundle(encoded_txs, self.omit)
        return ids, self._take_outputs()

    def on_timer(self, key: TimerKey, now_ms: int) -> list[Output]:
        self._now_ms = now_ms
        match key:
            case StepTimeout(step, height, round):
                self._drain(self.driver.step(TimeoutElapsed(step, height, round)))
            case Tick.NEXT_HEIGHT:
                self._wake()
            case Tick.REBROADCAST:
                self._rebroadcast()
                self._outputs.append(SetTimer(REBROADCAST, self.params.rebroadcast_ms))
            case Tick.SYNC:
                self.catchup.on_timer()
            case Tick.CHUNK:
                self.lanes.on_timer(self.omit)
            case Tick.FETCH:
                self._drain(self._commit_if_held())
            case Tick.DECRYPT:
                self.decryption.on_timer()
        return self._take_outputs()

    # ---- the effect loop -------------------------------------------------------------------

    def _drain(self, effects: list[Effect]) -> None:
        """Carry out the core's effects, feeding our own signed messages back into it."""
        queue = deque(effects)
        while queue:
            effect = queue.popleft()
            match effect:
                case GetValue(height, round) if height == self.height:
                    batch = self._build_batch(round)
                    queue.extend(self.driver.step(ValueReady(height, round, batch)))
                case Propose(height, round, pol_round, batch) if height == self.height:
                    lock = self.driver.lock_state()
                    proposal = self._signer.proposal(height, round, pol_round, batch.id, lock)
                    if proposal is not None and pol_round == NIL_ROUND:
                        self.censorship.proposers[proposal.proposer].proposals += 1
                    if proposal is not None:
                        self._gossip.broadcast_own(ProposalMessage(proposal, batch))
                        view = self.view()
                        valid = validity.proposal_problem(view, proposal, batch) is None
                        queue.extend(self.driver.step(ProposalReceived(proposal, batch, valid)))
                case CastVote(kind, height, round, value) if height == self.height:
                    lock = self.driver.lock_state()
                    vote = self._signer.vote(kind, height, round, value, lock)
                    if vote is not None:
                        self._gossip.broadcast_own(vote)
                        queue.extend(self.driver.step(VoteReceived(vote)))
                case ScheduleTimeout(step, height, round, duration_ms):
                    self._outputs.append(SetTimer(StepTimeout(step, height, round), duration_ms))
                case Decide(batch, certificate) if batch.height == self.height:
                    self._undecided = (batch, certificate)
                    queue.extend(self._commit_if_held())
                case ReportEvidence(evidence):
                    self.admission.add_evidence(evidence, None)
                case RoundStarted(height, round):
                    self._outputs.append(RoundEntered(height, round))

    def _rebroadcast(self) -> None:
        # Only a few overdue transactions, so a saturated node does not resend its whole
        # backlog every second.
        due = self.admission.overdue(self._now_ms)[: censorship.REGOSSIP]
        own = self.key.public_key
        pol = [v for v in self.driver.pol_prevotes() if v.validator != own]
        self._gossip.rebroadcast(self.evidence.pending(), [h.cert for h in due], pol)
        self.lanes.resend_uncertified()
        self.decryption.on_rebroadcast()

    def _take_outputs(self) -> list[Output]:
        outputs = list(self._outputs)
        self._outputs.clear()  # the list the services append to
        return outputs

    # ---- batches and commits ---------------------------------------------------------------

    def view(self) -> validity.ChainView:
        """The chain as validity checks see it now."""
        return validity.ChainView(
            chain_id=self.chain_id,
            height=self.height,
            parent=self.chain.get(self.height - 1),
            validators=self._state.validators,
            previous=self._state.previous,
            params=self.genesis.params,
            limits=self.batch_limits,
            known=self._known_certificate,
            committed=self.lanes.was_committed,
            leak_problem=self.decryption.leak_problem,
        )

    @property
    def batch_limits(self) -> censorship.Limits:
        p = self.params
        return censorship.Limits(p.max_batch_chunks, p.max_batch_txs, p.max_batch_bytes)

    def _known_certificate(self, cert: ChunkCertificate) -> bool:
        held = self.lanes.certified.get(cert.digest)
        return held is not None and held.cert == cert

    def _build_batch(self, round: int) -> Batch:
        limits = self.batch_limits
        chunks = self.lanes.select(limits.chunks, limits.txs, limits.bytes, self.omit)
        evidence = self.evidence.select() if self.genesis.params.slashing else ()
        return build_batch(self.view(), round, self.key.public_key, self._now_ms, chunks, evidence)

    def _commit_if_held(self) -> list[Effect]:
        """Commit the decided batch if we hold its chunks, else fetch them (and retry)."""
        if self._undecided is None:
            return []
        batch, certificate = self._undecided
        missing = self.lanes.missing(batch.chunk_digests)
        if missing:
            self.lanes.fetch(missing)
            self._outputs.append(SetTimer(FETCH, self.params.fetch_retry_ms))
            return []
        self._undecided = None
        chunks = tuple(self.lanes.chunks[d] for d in batch.chunk_digests)
        return self._commit(CommittedBatch(batch, certificate, chunks))

    def _commit_if_complete(self) -> None:
        """A chunk came from its author's stream: if it was the last one a decided batch
        lacked, commit now rather than at the next fetch retry (the fetch's answer is no
        longer needed, and under load a retry is ``fetch_retry_ms`` of stalled heights)."""
        if self._undecided is not None and not self.lanes.missing(self._undecided[0].chunk_digests):
            self._drain(self._commit_if_held())

    def _wake(self) -> None:
        """Start the current height's first effects now (they may be waiting for something
        to order, see ``empty_batch_interval_ms``)."""
        deferred, self._deferred = self._deferred, []
        self._drain(deferred)

    def _committed_problem(self, entry: CommittedBatch) -> str | None:
        return validity.committed_problem(self.view(), entry)

    def _commit_synced(self, entry: CommittedBatch) -> None:
        self._drain(self._commit(entry))

    def _commit(self, entry: CommittedBatch) -> list[Effect]:
        """Store a commit, apply its slashing, move to the next height and replay messages
        that arrived early."""
        entry = entry.without_repeats(self.chain.committed_among)
        advance = chainstate.advance(self._state, entry.batch, self.genesis.params)
        slashes, failed = advance.slashes, advance.failed
        changed = bool(slashes) or (entry.height + 1) % CHECKPOINT_EVERY == 0
        snapshot = advance.successor.snapshot() if changed else None
        self.chain.append(entry, slashes, snapshot, failed)
        self.decryption.on_commit(entry)
        self._undecided = None  # a batch catch-up committed for us
        self._measure(entry, failed, self.lanes.committed(entry.height, entry.chunks, self.omit))
        self._state = advance.state
        self.slashes.update(r.evidence.offender for r in slashes)
        if slashes:
            self.lanes.revalidate(self.validators)
        self.evidence.prune(lambda e: self.admission.evidence_problem(e) is None)
        self._gossip.new_height()
        self.admission.new_height()
        self._outputs.append(Committed(entry))
        self._outputs.extend(Slashed(r) for r in slashes)
        self._readmit_if_caught_up()
        # The new height's first effects wait for a zero-delay timer: a validator that decides
        # alone (a one-node set) would otherwise commit height after height in this one call.
        self._deferred.extend(self.driver.start_height(self.height, self.validators))
        self._outputs.append(SetTimer(NEXT_HEIGHT, self._next_height_delay()))
        return self.inbox.replay_early()

    def _committed_height_of(self, txid: bytes) -> int | None:
        location = self.chain.tx_location(txid)
        return location[0] if location is not None else None

    def _pending_tx(self, txid: bytes) -> bytes | None:
        """A transaction of a chunk we hold, by id (to prove a leak of its shares)."""
        for chunk in self.lanes.chunks.values():
            if txid in chunk.tx_ids:
                return chunk.txs[chunk.tx_ids.index(txid)]
        return None

    def _next_height_delay(self) -> int:
        """Nothing to order: wait before an empty batch (a new certificate wakes us)."""
        if self.lanes.certified or (self.genesis.params.slashing and self.evidence.pending()):
            return 0
        return self.params.empty_batch_interval_ms

    def _measure(
        self, entry: CommittedBatch, failed: list[bytes], known: list[HeldCertificate]
    ) -> None:
        for key in failed:
            self.censorship.proposers[key].failed_rounds += 1
        shares = self.lanes.batch_shares
        for held in known:
            self.censorship.record_inclusion(
                entry.height - held.first_seen_height,
                self._now_ms - held.seen_ms,
                held.cert.tx_count,
                [(e.ns_id, e.tx_count) for e in held.cert.namespaces if e.ns_id in shares],
            )
