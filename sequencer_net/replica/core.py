"""The replica: its entry points and the loop that carries out the consensus core's effects.

The services it drives live beside it: validity checks (:mod:`.validity`), the guarded signer
(:mod:`.signer`), catch-up (:mod:`.catchup`), gossip and rebroadcast (:mod:`.gossip`), what a
commit decides (:mod:`.chainstate`) and the admission of transactions and evidence
(:mod:`.admission`). Each appends to the one output list :meth:`Replica._take_outputs` hands out.
"""

from __future__ import annotations

from collections import Counter, deque
from collections.abc import Callable

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
from ..mempool import Mempool
from ..messages import (
    CommittedBatch,
    EvidenceGossip,
    Message,
    ProposalEcho,
    ProposalMessage,
    SyncRequest,
    SyncResponse,
    TxGossip,
)
from ..node_params import NodeParams
from ..store import ChainStore, SignStateStore
from ..types import NIL_ROUND, Batch, Step, Vote, vote_from_payload
from ..validators import ValidatorSet
from . import chainstate, validity
from .admission import Admission
from .batches import build_batch
from .catchup import CatchUp
from .gossip import Gossip
from .inbox import Inbox
from .outputs import (
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
    ) -> None:
        self.genesis = genesis
        self.chain_id = genesis.chain_id
        self.key = key
        self.chain = chain
        self.params = params or NodeParams()
        self.mempool = Mempool(self.params.mempool_max_txs, self.params.mempool_max_bytes)
        self.driver = Driver(genesis.consensus, key.public_key, machine_factory)
        self._state = chainstate.restore(genesis, chain)
        self.censorship = CensorshipStats()
        self.evidence = EvidencePool()
        self.slashes = Counter(r.evidence.offender for r in chain.slash_records())
        # Set by the `censor` fault only: transactions this node leaves out of its batches.
        self.omit: Callable[[bytes], bool] | None = None
        self._outputs: list[Output] = []
        self._signer = GuardedSigner(key, self.chain_id, sign_state, self._outputs)
        self.catchup = CatchUp(chain, self.params.sync_delay_ms, self._outputs)
        self._gossip = Gossip(self.mempool, self.params.gossip_interval_ms, self._outputs)
        self.admission = Admission(self, self._outputs)
        self.inbox = Inbox(self, self._outputs)
        self._deferred: list[Effect] = []
        self._now_ms = 0

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
            case TxGossip(txs):
                for encoded in txs:
                    self.admission.admit_tx(encoded)
            case SyncRequest(from_height):
                self.catchup.answer(peer, from_height)
            case SyncResponse(entries):
                self.catchup.apply(peer, entries, self._committed_problem, self._commit_synced)
            case EvidenceGossip(evidence):
                self.admission.add_evidence(evidence, peer)
            case ProposalEcho(proposal):
                self.admission.compare_echo(peer, proposal)
        return self._take_outputs()

    def submit(self, encoded_tx: bytes, now_ms: int) -> tuple[bytes | None, list[Output]]:
        """A client's transaction: admit it and gossip it. Returns its id, or None with a
        :class:`Rejected` output saying why."""
        self._now_ms = now_ms
        txid = self.admission.admit_tx(encoded_tx, client=True)
        if txid is not None:
            self._gossip.queue(encoded_tx)
        return txid, self._take_outputs()

    def on_timer(self, key: TimerKey, now_ms: int) -> list[Output]:
        self._now_ms = now_ms
        match key:
            case StepTimeout(step, height, round):
                self._drain(self.driver.step(TimeoutElapsed(step, height, round)))
            case Tick.NEXT_HEIGHT:
                deferred, self._deferred = self._deferred, []
                self._drain(deferred)
            case Tick.REBROADCAST:
                self._rebroadcast()
                self._outputs.append(SetTimer(REBROADCAST, self.params.rebroadcast_ms))
            case Tick.SYNC:
                self.catchup.on_timer()
            case Tick.GOSSIP:
                self._gossip.flush(now_ms)
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
                    queue.extend(self._commit(CommittedBatch(batch, certificate)))
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
        self._gossip.rebroadcast(self.evidence.pending(), [p.encoded for _, p in due], pol)

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
            max_batch_txs=self.params.max_batch_txs,
            max_batch_bytes=self.params.max_batch_bytes,
            admitted=self.mempool.__contains__,
            committed=lambda txid: self.chain.tx_location(txid) is not None,
        )

    def _build_batch(self, round: int) -> Batch:
        params = self.params
        txs = tuple(self.mempool.select(params.max_batch_txs, params.max_batch_bytes, self.omit))
        evidence = self.evidence.select() if self.genesis.params.slashing else ()
        return build_batch(self.view(), round, self.key.public_key, self._now_ms, txs, evidence)

    def _committed_problem(self, entry: CommittedBatch) -> str | None:
        return validity.committed_problem(self.view(), entry)

    def _commit_synced(self, entry: CommittedBatch) -> None:
        self._drain(self._commit(entry))

    def _commit(self, entry: CommittedBatch) -> list[Effect]:
        """Store a commit, apply its slashing, move to the next height and replay messages
        that arrived early."""
        advance = chainstate.advance(self._state, entry.batch, self.genesis.params)
        slashes, failed = advance.slashes, advance.failed
        changed = bool(slashes) or (entry.height + 1) % CHECKPOINT_EVERY == 0
        snapshot = advance.successor.snapshot() if changed else None
        self.chain.append(entry, slashes, snapshot, failed)
        self._measure(entry, failed)
        self.mempool.remove(entry.batch.tx_ids)
        self._state = advance.state
        self.slashes.update(r.evidence.offender for r in slashes)
        self.evidence.prune(lambda e: self.admission.evidence_problem(e) is None)
        self._gossip.new_height()
        self.admission.new_height()
        self._outputs.append(Committed(entry))
        self._outputs.extend(Slashed(r) for r in slashes)
        # The new height's first effects wait for a zero-delay timer: a validator that decides
        # alone (a one-node set) would otherwise commit height after height in this one call.
        self._deferred.extend(self.driver.start_height(self.height, self.validators))
        self._outputs.append(SetTimer(NEXT_HEIGHT, 0))
        return self.inbox.replay_early()

    def _measure(self, entry: CommittedBatch, failed: list[bytes]) -> None:
        for key in failed:
            self.censorship.proposers[key].failed_rounds += 1
        for txid in entry.batch.tx_ids:
            pending = self.mempool.get(txid)
            if pending is not None:
                self.censorship.record_inclusion(
                    entry.height - pending.first_seen_height, self._now_ms - pending.first_seen_ms
                )
