"""One validator's node logic, sans I/O: the piece the simulator and the real node both drive.

A :class:`Replica` turns peer messages, client transactions and timer expiries into outputs
(messages to send, timers to set, commits to report). It verifies signatures, judges batch
validity, keeps the mempool, signs through the double-sign guard (persisting the sign state
before any signature is handed out), stores commits and catches up from peers. It never touches
a socket, a file or a clock: the caller passes ``now_ms`` in and carries the outputs out, in
order.
"""

from __future__ import annotations

from collections import Counter, deque
from collections.abc import Callable, Hashable
from dataclasses import dataclass

from . import censorship, codec, reputation, signstate
from .api_protocol import ALREADY_COMMITTED
from .censorship import FORCED_ROUNDS, CensorshipStats
from .consensus import (
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
from .crypto import PrivateKey
from .evidence import MAX_EVIDENCE_PER_BATCH, EvidencePool, SlashRecord, evidence_problem
from .genesis import Genesis
from .mempool import Mempool, PendingTx
from .messages import (
    MAX_SYNC_ENTRIES,
    MAX_TXS_PER_GOSSIP,
    CommittedBatch,
    EvidenceGossip,
    Message,
    ProposalEcho,
    ProposalMessage,
    SyncRequest,
    SyncResponse,
    TxGossip,
)
from .node_params import NodeParams
from .reputation import skipped_proposers
from .signstate import SignRecord, Verdict
from .store import ChainStore, SignStateStore
from .types import (
    NIL_ROUND,
    Batch,
    BatchHeader,
    Evidence,
    Proposal,
    Step,
    Tx,
    Vote,
    VoteKind,
    evidence_digest,
    make_evidence,
    proposal_payload,
    tx_id,
    txs_digest,
    vote_from_payload,
    vote_payload,
)
from .validators import ValidatorSet

Peer = Hashable
GENESIS_PARENT = bytes(32)
CHECKPOINT_EVERY = 1_000  # heights between stored validator sets, bounding restart replay
# Rounds above ours a message may claim: the proposer of round r costs up to r steps to find,
# so a far-off claim is dropped before any work grows with it. Honest rounds stay much closer.
MAX_ROUNDS_AHEAD = 1_000
MAX_BUFFERED_PROPOSALS = 16  # early proposals kept for the next height (each up to a frame)


# ---- outputs ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Send:
    """Send ``message`` to ``to``, or to every peer when ``to`` is None."""

    to: Peer | None
    message: Message


@dataclass(frozen=True)
class SetTimer:
    """Call :meth:`Replica.on_timer` with ``key`` after ``delay_ms``."""

    key: tuple[object, ...]
    delay_ms: int


@dataclass(frozen=True)
class Committed:
    entry: CommittedBatch


@dataclass(frozen=True)
class EvidenceFound:
    evidence: Evidence


@dataclass(frozen=True)
class Slashed:
    """A committed batch's evidence punished a validator; the runtime logs the record."""

    record: SlashRecord


@dataclass(frozen=True)
class InclusionEnforced:
    """We prevote nil on a proposal because it leaves out transactions overdue here."""

    height: int
    round: int
    proposer: bytes
    omitted: int


@dataclass(frozen=True)
class RoundEntered:
    height: int
    round: int


@dataclass(frozen=True)
class Rejected:
    """A peer sent something invalid; the runtime logs it (and may score the peer)."""

    peer: Peer | None
    reason: str


Output = (
    Send
    | SetTimer
    | Committed
    | EvidenceFound
    | Slashed
    | InclusionEnforced
    | RoundEntered
    | Rejected
)

REBROADCAST = ("rebroadcast",)
NEXT_HEIGHT = ("next_height",)
SYNC = ("sync",)
GOSSIP = ("gossip",)


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
        self.sign_state = sign_state
        self.params = params or NodeParams()
        self.mempool = Mempool(self.params.mempool_max_txs, self.params.mempool_max_bytes)
        self.driver = Driver(genesis.consensus, key.public_key, machine_factory)
        kept = reputation.memory(genesis.params.reputation_window)
        self._failures = deque(chain.proposer_failures(chain.last_height() - kept))
        last = chain.last_height()
        # The set of the last committed height: the next batch's last_commit is checked, and its
        # failed rounds are named, against it.
        self._previous = self._validators_at(last) if last else None
        self.validators = self._validators_at(last + 1)
        self.censorship = CensorshipStats()
        self.evidence = EvidencePool()
        self.slashes = Counter(r.evidence.offender for r in chain.slash_records())
        # Set by the `censor` fault only: transactions this node leaves out of its batches.
        self.omit: Callable[[bytes], bool] | None = None
        self._outputs: list[Output] = []
        self._own_messages: list[Message] = []
        self._next_height_messages: list[tuple[Peer, Message]] = []
        self._buffered_proposals = 0  # of them
        self._gossip_queue: list[bytes] = []
        self._ahead: dict[Peer, int] = {}  # peers seen at a later height, and that height
        self._sync_requests = 0
        self._sync_timer_set = False
        self._echoed_rounds: set[int] = set()
        self._deferred: list[Effect] = []
        self._now_ms = 0

    @property
    def height(self) -> int:
        """The height being decided (one above the last commit)."""
        return self.chain.last_height() + 1

    @property
    def round(self) -> int:
        return self.driver.machine.round if self.driver.machine else 0

    @property
    def step(self) -> Step:
        return self.driver.machine.step if self.driver.machine else Step.PROPOSE

    # ---- entry points ----------------------------------------------------------------------

    def start(self, now_ms: int) -> list[Output]:
        """Begin (or, after a restart, resume) consensus at the next height."""
        self._now_ms = now_ms
        record = self.sign_state.load()
        current = record if record and record.height == self.height else None
        restored = current.lock if current else None
        self._drain(self.driver.start_height(self.height, self.validators, restored))
        if current is not None and current.step is not Step.PROPOSE:
            # The vote we signed last, perhaps just before a crash: the others may need it for
            # their quorum, and the guard will not let us sign the earlier steps again.
            vote = vote_from_payload(current.payload, self.key.public_key, current.signature)
            self._broadcast_own(vote)
            self._drain(self.driver.step(VoteReceived(vote)))
        self._outputs.append(SetTimer(REBROADCAST, self.params.rebroadcast_ms))
        return self._take_outputs()

    def receive(self, peer: Peer, message: Message, now_ms: int) -> list[Output]:
        """Handle one decoded message from a peer."""
        self._now_ms = now_ms
        match message:
            case ProposalMessage() | Vote():
                self._drain(self._consensus_message(peer, message))
            case TxGossip(txs):
                for encoded in txs:
                    self._admit_tx(encoded)
            case SyncRequest(from_height):
                self._answer_sync(peer, from_height)
            case SyncResponse(entries):
                self._apply_sync(peer, entries)
            case EvidenceGossip(evidence):
                self._add_evidence(evidence, peer)
            case ProposalEcho(proposal):
                self._compare_echo(peer, proposal)
        return self._take_outputs()

    def submit(self, encoded_tx: bytes, now_ms: int) -> tuple[bytes | None, list[Output]]:
        """A client's transaction: admit it and gossip it. Returns its id, or None with a
        :class:`Rejected` output saying why."""
        self._now_ms = now_ms
        txid = self._admit_tx(encoded_tx, client=True)
        if txid is not None:
            if not self._gossip_queue:
                self._outputs.append(SetTimer(GOSSIP, self.params.gossip_interval_ms))
            self._gossip_queue.append(encoded_tx)
        return txid, self._take_outputs()

    def on_timer(self, key: tuple[object, ...], now_ms: int) -> list[Output]:
        self._now_ms = now_ms
        match key:
            case ("timeout", step, height, round):
                self._drain(self.driver.step(TimeoutElapsed(Step(step), height, round)))
            case ("next_height",):
                deferred, self._deferred = self._deferred, []
                self._drain(deferred)
            case ("rebroadcast",):
                self._rebroadcast()
                self._outputs.append(SetTimer(REBROADCAST, self.params.rebroadcast_ms))
            case ("sync",):
                self._sync_timer_set = False
                self._request_sync()
            case ("gossip",):
                queued, self._gossip_queue = self._gossip_queue, []
                self.mempool.mark_shared(map(tx_id, queued), now_ms)  # forced inclusion
                for i in range(0, len(queued), MAX_TXS_PER_GOSSIP):
                    self._outputs.append(
                        Send(None, TxGossip(tuple(queued[i : i + MAX_TXS_PER_GOSSIP])))
                    )
        return self._take_outputs()

    # ---- consensus messages ----------------------------------------------------------------

    def _consensus_message(self, peer: Peer, message: ProposalMessage | Vote) -> list[Effect]:
        height = message.proposal.height if isinstance(message, ProposalMessage) else message.height
        if height > self.height:
            self._note_ahead(peer, height)
            if height == self.height + 1 and self._worth_buffering(message):
                self._next_height_messages.append((peer, message))
            return []
        if height < self.height:
            return []
        claimed = message.proposal.round if isinstance(message, ProposalMessage) else message.round
        if claimed > self.round + MAX_ROUNDS_AHEAD:
            return self._reject(peer, f"round {claimed} is too far ahead of ours")
        if isinstance(message, Vote):
            if message.validator not in self.validators:
                return self._reject(peer, "vote from a key outside the validator set")
            if not message.verify(self.chain_id):
                return self._reject(peer, "vote with a bad signature")
            self._echo_if_conflicting(message)
            return self.driver.step(VoteReceived(message))
        proposal, batch = message.proposal, message.batch
        # Cheap checks and the signature first: the batch id encodes the whole header (its
        # certificate too), and finding the round's proposer grows with the round.
        if proposal.proposer not in self.validators:
            return self._reject(peer, "proposal from a key outside the validator set")
        if not proposal.verify(self.chain_id):
            return self._reject(peer, "proposal with a bad signature")
        if proposal.batch_id != batch.id:
            return self._reject(peer, "proposal signs a different batch than it carries")
        if proposal.proposer != self.validators.proposer_for_round(proposal.round).public_key:
            return self._reject(peer, "proposal from a validator that is not the round's proposer")
        problem = self._proposal_problem(proposal, batch)
        if problem:
            self._outputs.append(Rejected(peer, f"invalid batch: {problem}"))
        acceptable = True
        if problem is None and self._first_proposal(proposal):
            acceptable = self._inclusion_verdict(proposal, batch)
        return self.driver.step(ProposalReceived(proposal, batch, problem is None, acceptable))

    def _worth_buffering(self, message: ProposalMessage | Vote) -> bool:
        """Keep an early message for the next height only if a validator signed it (the next
        set's keys are a subset of ours: sets only jail), within bounds. A proposal carries
        a batch of up to a whole frame, so at most MAX_BUFFERED_PROPOSALS of them are kept;
        an honest proposer re-broadcasts anyway."""
        buffered = self._next_height_messages
        if len(buffered) >= self.params.max_buffered_messages:
            return False
        if isinstance(message, Vote):
            return message.validator in self.validators and message.verify(self.chain_id)
        proposal = message.proposal
        if self._buffered_proposals >= MAX_BUFFERED_PROPOSALS:
            return False
        if proposal.proposer not in self.validators or not proposal.verify(self.chain_id):
            return False
        self._buffered_proposals += 1
        return True

    def _first_proposal(self, proposal: Proposal) -> bool:
        """Count a fresh proposal the first time it arrives (rebroadcasts repeat it)."""
        machine = self.driver.machine
        if proposal.pol_round != NIL_ROUND or machine is None or machine.proposal(proposal.round):
            return False
        self.censorship.proposers[proposal.proposer].proposals += 1
        return True

    def _inclusion_verdict(self, proposal: Proposal, batch: Batch) -> bool:
        """Forced inclusion: False (prevote nil) when the batch leaves out a transaction
        overdue here although it had room, in the first rounds of a height."""
        params = self.genesis.params
        # When the batch was built, by its header (every node judges one proposal alike); a
        # proposer that backdates it only moves the cutoff back towards its parent's time.
        due = self._overdue(min(batch.header.timestamp_ms, self._now_ms))
        omitted = censorship.omits(
            batch, due, self.params.max_batch_txs, self.params.max_batch_bytes
        )
        if not omitted:
            return True
        self.censorship.proposers[proposal.proposer].overdue_omitted += 1
        if not params.forced_inclusion or proposal.round >= FORCED_ROUNDS:
            return True
        self.censorship.inclusion_nil_prevotes += 1
        self._outputs.append(
            InclusionEnforced(self.height, proposal.round, proposal.proposer, omitted)
        )
        return False

    def _overdue(self, built_ms: int) -> list[tuple[bytes, PendingTx]]:
        params = self.genesis.params
        deadline, grace = params.inclusion_deadline, params.inclusion_grace_ms
        return censorship.overdue(self.mempool, self.height, deadline, built_ms, grace)

    def _reject(self, peer: Peer, reason: str) -> list[Effect]:
        self._outputs.append(Rejected(peer, reason))
        return []

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
                    proposal = self._sign_proposal(round, pol_round, batch)
                    if proposal is not None and pol_round == NIL_ROUND:
                        self.censorship.proposers[proposal.proposer].proposals += 1
                    if proposal is not None:
                        self._broadcast_own(ProposalMessage(proposal, batch))
                        valid = self._proposal_problem(proposal, batch) is None
                        queue.extend(self.driver.step(ProposalReceived(proposal, batch, valid)))
                case CastVote(kind, height, round, value) if height == self.height:
                    vote = self._sign_vote(kind, round, value)
                    if vote is not None:
                        self._broadcast_own(vote)
                        queue.extend(self.driver.step(VoteReceived(vote)))
                case ScheduleTimeout(step, height, round, duration_ms):
                    self._outputs.append(
                        SetTimer(("timeout", int(step), height, round), duration_ms)
                    )
                case Decide(batch, certificate) if batch.height == self.height:
                    queue.extend(self._commit(CommittedBatch(batch, certificate)))
                case ReportEvidence(evidence):
                    self._add_evidence(evidence, None)
                case RoundStarted(height, round):
                    self._outputs.append(RoundEntered(height, round))

    def _rebroadcast(self) -> None:
        """Resend our own messages of this height, and the prevotes that justify our valid
        value (its POL): messages lost before the network stabilised must still arrive, and a
        lock we took must become provable to the others (the paper's gossip assumption)."""
        self._outputs.extend(Send(None, m) for m in self._own_messages)
        self._outputs.extend(Send(None, EvidenceGossip(e)) for e in self.evidence.pending())
        # The oldest overdue transactions again, in case a proposer missed them the first time;
        # only a few, so a saturated node does not resend its whole backlog every second.
        due = self._overdue(self._now_ms)[: censorship.REGOSSIP]
        if due:
            self._outputs.append(Send(None, TxGossip(tuple(p.encoded for _, p in due))))
        machine = self.driver.machine
        if machine is not None and machine.valid_value is not None:
            own = self.key.public_key
            for vote in machine.votes.votes_for(
                machine.valid_round, VoteKind.PREVOTE, machine.valid_value.id
            ):
                if vote.validator != own:
                    self._outputs.append(Send(None, vote))

    def _broadcast_own(self, message: Message) -> None:
        self._own_messages.append(message)
        self._outputs.append(Send(None, message))

    # ---- signing ---------------------------------------------------------------------------

    def _guarded_sign(self, round: int, step: Step, kind: str, payload: bytes) -> bytes | None:
        """Sign through the double-sign guard; the record is saved before we return."""
        record = self.sign_state.load()
        verdict = signstate.check(record, self.height, round, step, payload)
        if verdict is Verdict.REFUSE:
            self._outputs.append(Rejected(None, f"refused to sign {kind} at {self.height}/{round}"))
            return None
        if verdict is Verdict.REUSE:
            assert record is not None
            return record.signature
        signature = self.key.sign(self.chain_id, kind, payload)
        assert self.driver.machine is not None
        lock = self.driver.machine.lock_state()
        self.sign_state.save(SignRecord(self.height, round, step, payload, signature, lock))
        return signature

    def _sign_proposal(self, round: int, pol_round: int, batch: Batch) -> Proposal | None:
        payload = proposal_payload(self.height, round, pol_round, batch.id)
        signature = self._guarded_sign(round, Step.PROPOSE, "proposal", payload)
        if signature is None:
            return None
        return Proposal(self.height, round, pol_round, batch.id, self.key.public_key, signature)

    def _sign_vote(self, kind: VoteKind, round: int, value: bytes | None) -> Vote | None:
        payload = vote_payload(kind, self.height, round, value)
        signature = self._guarded_sign(round, kind.step, kind.name.lower(), payload)
        if signature is None:
            return None
        return Vote(kind, self.height, round, value, self.key.public_key, signature)

    # ---- batches ---------------------------------------------------------------------------

    def _parent(self) -> CommittedBatch | None:
        return self.chain.get(self.height - 1)

    def _build_batch(self, round: int) -> Batch:
        parent = self._parent()
        txs = tuple(
            self.mempool.select(self.params.max_batch_txs, self.params.max_batch_bytes, self.omit)
        )
        evidence = self.evidence.select() if self.genesis.params.slashing else ()
        header = BatchHeader(
            chain_id=self.chain_id,
            height=self.height,
            round=round,
            parent_id=parent.batch.id if parent else GENESIS_PARENT,
            proposer=self.key.public_key,
            timestamp_ms=max(self._now_ms, parent.batch.header.timestamp_ms + 1 if parent else 0),
            txs_digest=txs_digest(txs),
            evidence_digest=evidence_digest(evidence),
            validator_set_hash=self.validators.hash,
            last_commit=parent.certificate if parent else None,
        )
        return Batch(header, txs, evidence)

    def _proposal_problem(self, proposal: Proposal, batch: Batch) -> str | None:
        """Why ``batch`` is not a valid value for ``proposal`` (the paper's ``valid(v)``)."""
        header = batch.header
        if proposal.pol_round == NIL_ROUND and header.round != proposal.round:
            return "a fresh proposal must carry a batch built in its own round"
        if proposal.pol_round != NIL_ROUND and header.round > proposal.pol_round:
            return "a re-proposed batch must be older than its POL round"
        return self._batch_problem(batch)

    def _batch_problem(self, batch: Batch) -> str | None:
        """Checks every honest node makes against its own chain before voting for a batch."""
        header = batch.header
        parent = self._parent()
        if header.chain_id != self.chain_id:
            return "wrong chain id"
        if header.height != self.height:
            return f"height {header.height}, expected {self.height}"
        if header.parent_id != (parent.batch.id if parent else GENESIS_PARENT):
            return "parent id does not match our chain"
        if parent and header.timestamp_ms <= parent.batch.header.timestamp_ms:
            return "timestamp not after the parent's"
        if header.validator_set_hash != self.validators.hash:
            return "validator set hash does not match"
        problem = self._last_commit_problem(batch, parent)
        if problem:
            return problem
        if header.proposer != self.validators.proposer_for_round(header.round).public_key:
            return "built by a validator that was not the proposer of its round"
        # The limits before the digests, which hash every transaction.
        if len(batch.txs) > self.params.max_batch_txs:
            return "too many transactions"
        if sum(len(tx) for tx in batch.txs) > self.params.max_batch_bytes:
            return "transactions exceed the batch size limit"
        if not batch.body_matches_header():
            return "body does not match the header's digests"
        ids = batch.tx_ids
        if len(set(ids)) != len(ids):
            return "duplicate transaction"
        # Transactions in our mempool were decoded and checked against the chain when admitted,
        # and the mempool only holds uncommitted ones: only the others need checking here.
        unseen = [(i, tx) for i, tx in zip(ids, batch.txs, strict=True) if i not in self.mempool]
        if any(self.chain.tx_location(i) is not None for i, _ in unseen):
            return ALREADY_COMMITTED
        for _, tx in unseen:
            try:
                codec.decode(tx, Tx)
            except codec.DecodeError as exc:
                return f"malformed transaction: {exc}"
        return self._batch_evidence_problem(batch.evidence)

    def _last_commit_problem(self, batch: Batch, parent: CommittedBatch | None) -> str | None:
        """The batch must carry a quorum certificate of its parent (none at height 1)."""
        last_commit = batch.header.last_commit
        if parent is None or self._previous is None:
            return None if last_commit is None else "a first batch carries no last commit"
        if last_commit is None:
            return "no last commit for the parent"
        if last_commit.batch_id != parent.batch.id:
            return "last commit certifies another batch than the parent"
        if last_commit == parent.certificate:
            return None  # ours, verified when we committed
        try:
            self._previous.verify_certificate(last_commit, self.chain_id)
        except ValueError as exc:
            return f"last commit: {exc}"
        return None

    def _batch_evidence_problem(self, evidence: tuple[Evidence, ...]) -> str | None:
        if evidence and not self.genesis.params.slashing:
            return "evidence in a batch while slashing is off"
        if len(evidence) > MAX_EVIDENCE_PER_BATCH:
            return f"more than {MAX_EVIDENCE_PER_BATCH} pieces of evidence"
        offenders = {e.offender for e in evidence}
        if len(offenders) != len(evidence):
            return "two pieces of evidence against one validator"
        if offenders and all(v.public_key in offenders for v in self.validators.active):
            return "evidence would jail every active validator"
        for piece in evidence:
            problem = self._evidence_problem(piece)
            if problem:
                return f"evidence: {problem}"
        return None

    def _evidence_problem(self, evidence: Evidence) -> str | None:
        max_age = self.genesis.params.max_evidence_age
        return evidence_problem(evidence, self.chain_id, self.validators, self.height, max_age)

    # ---- commits and catch-up --------------------------------------------------------------

    def _commit(self, entry: CommittedBatch) -> list[Effect]:
        """Store a commit, apply its slashing, move to the next height and replay messages
        that arrived early."""
        batch = entry.batch
        slashes, successor = self._slash(batch)
        changed = bool(slashes) or (entry.height + 1) % CHECKPOINT_EVERY == 0
        failed = self._failed_proposers(batch)
        snapshot = successor.snapshot() if changed else None
        self.chain.append(entry, slashes, snapshot, failed)
        self._measure(entry, failed)
        self.mempool.remove(batch.tx_ids)
        self._failures.extend((entry.height - 1, key) for key in failed)
        self._previous = self.validators
        self.validators = self._with_reputation(successor, entry.height + 1)
        self.slashes.update(r.evidence.offender for r in slashes)
        self.evidence.prune(lambda e: self._evidence_problem(e) is None)
        self._own_messages = []
        self._echoed_rounds = set()
        self._outputs.append(Committed(entry))
        self._outputs.extend(Slashed(r) for r in slashes)
        # The new height's first effects wait for a zero-delay timer: a validator that decides
        # alone (a one-node set) would otherwise commit height after height in this one call.
        self._deferred.extend(self.driver.start_height(self.height, self.validators))
        self._outputs.append(SetTimer(NEXT_HEIGHT, 0))
        effects: list[Effect] = []
        early, self._next_height_messages = self._next_height_messages, []
        self._buffered_proposals = 0
        for peer, message in early:
            effects.extend(self._consensus_message(peer, message))
        return effects

    def _failed_proposers(self, batch: Batch) -> list[bytes]:
        """Proposers of the rounds that failed at the parent's height, by the batch's
        last_commit: the round every node agrees on, not the one of its own certificate."""
        last_commit = batch.header.last_commit
        if last_commit is None or self._previous is None:
            return []
        return [self._previous.proposer_for_round(r).public_key for r in range(last_commit.round)]

    def _slash(self, batch: Batch) -> tuple[list[SlashRecord], ValidatorSet]:
        """What the batch's evidence does (every node computes the same) and the next set."""
        if not batch.evidence:
            return [], self.validators.next_height()
        offenders = [e.offender for e in batch.evidence]
        successor = self.validators.punish(offenders, self.genesis.params.slash_fraction_ppm)
        header = batch.header
        records = [
            SlashRecord(
                evidence=e,
                committed_height=header.height,
                timestamp_ms=header.timestamp_ms,
                stake_before=self.validators.power_of(e.offender),
                stake_after=successor.get(e.offender).power,  # type: ignore[union-attr]
                reporter=header.proposer,
            )
            for e in batch.evidence
        ]
        return records, successor

    def _measure(self, entry: CommittedBatch, failed: list[bytes]) -> None:
        for key in failed:
            self.censorship.proposers[key].failed_rounds += 1
        for txid in entry.batch.tx_ids:
            pending = self.mempool.get(txid)
            if pending is not None:
                self.censorship.record_inclusion(
                    entry.height - pending.first_seen_height, self._now_ms - pending.first_seen_ms
                )

    def _with_reputation(self, validators: ValidatorSet, height: int) -> ValidatorSet:
        """``validators`` passing over proposers that failed recently (leader reputation)."""
        window = self.genesis.params.reputation_window
        # One height more than the memory is kept: the set of the previous height is rebuilt
        # from it on restart.
        while self._failures and self._failures[0][0] < height - 1 - reputation.memory(window):
            self._failures.popleft()
        skipped = skipped_proposers(validators, self._failures, height, window)
        return validators.skipping(skipped) if skipped else validators

    def _validators_at(self, height: int) -> ValidatorSet:
        """The set deciding ``height``: the latest stored one, advanced to ``height``."""
        change = self.chain.validator_set_change(height)
        if change is None:
            validators, since = self.genesis.validator_set, 1
        else:
            validators, since = ValidatorSet.restore(change[1]), change[0]
        for _ in range(height - since):
            validators = validators.next_height()
        return self._with_reputation(validators, height)

    def _note_ahead(self, peer: Peer, height: int) -> None:
        """A peer is at a later height; if we are still behind after a grace period, sync."""
        self._ahead[peer] = max(height, self._ahead.get(peer, 0))
        if not self._sync_timer_set:
            self._sync_timer_set = True
            self._outputs.append(SetTimer(SYNC, self.params.sync_delay_ms))

    def _request_sync(self) -> None:
        """Ask the peers that are ahead in turn, so one that died cannot stall catch-up."""
        self._ahead = {p: h for p, h in self._ahead.items() if h > self.height}
        if not self._ahead:
            return
        peers = list(self._ahead)
        self._sync_requests += 1
        self._outputs.append(
            Send(peers[self._sync_requests % len(peers)], SyncRequest(self.height))
        )
        self._sync_timer_set = True
        self._outputs.append(SetTimer(SYNC, self.params.sync_delay_ms))

    def _answer_sync(self, peer: Peer, from_height: int) -> None:
        last = min(self.chain.last_height(), from_height + MAX_SYNC_ENTRIES - 1)
        entries = [self.chain.get(h) for h in range(from_height, last + 1)]
        found = tuple(e for e in entries if e is not None)
        if found:
            self._outputs.append(Send(peer, SyncResponse(found)))

    def _apply_sync(self, peer: Peer, entries: tuple[CommittedBatch, ...]) -> None:
        for entry in entries:
            if entry.height < self.height:
                continue
            if entry.height > self.height:
                return
            problem = self._committed_problem(entry)
            if problem:
                self._outputs.append(Rejected(peer, f"sync entry {entry.height}: {problem}"))
                return
            self._drain(self._commit(entry))

    def _committed_problem(self, entry: CommittedBatch) -> str | None:
        certificate, batch = entry.certificate, entry.batch
        if certificate.batch_id != batch.id or certificate.height != self.height:
            return "certificate is for another batch"
        if batch.header.round > certificate.round:
            return "batch built after the round it was committed in"
        try:
            self.validators.verify_certificate(certificate, self.chain_id)
        except ValueError as exc:
            return str(exc)
        return self._batch_problem(batch)

    # ---- transactions and evidence ---------------------------------------------------------

    def _admit_tx(self, encoded: bytes, client: bool = False) -> bytes | None:
        try:
            codec.decode(encoded, Tx)
        except codec.DecodeError as exc:
            self._outputs.append(Rejected(None, f"malformed transaction: {exc}"))
            return None
        txid = tx_id(encoded)
        if self.chain.tx_location(txid) is not None:
            if client:
                self._outputs.append(Rejected(None, ALREADY_COMMITTED))
            return None
        added = self.mempool.add(encoded, self.height, self._now_ms, shared=not client)
        if added is None and client and txid not in self.mempool:
            self._outputs.append(Rejected(None, "mempool full"))
            return None
        return txid

    def _add_evidence(self, evidence: Evidence, peer: Peer | None) -> None:
        """Pool evidence that passes the checks, report it and gossip it, once."""
        if evidence in self.evidence:
            return
        offender = self.validators.get(evidence.offender)
        if offender is not None and offender.jailed:
            return  # late news: already punished, not a fault of whoever sent it
        problem = self._evidence_problem(evidence)
        if problem:
            if peer is not None:
                self._outputs.append(Rejected(peer, f"evidence refused: {problem}"))
            return
        if self.evidence.add(evidence):
            self._outputs.append(EvidenceFound(evidence))
            self._outputs.append(Send(None, EvidenceGossip(evidence)))

    def _echo_if_conflicting(self, vote: Vote) -> None:
        """A prevote for a value other than the proposal we hold for its round means someone
        equivocated: echo our proposal (once per round) so a holder of the other can tell."""
        machine = self.driver.machine
        if vote.kind is not VoteKind.PREVOTE or vote.value is None or machine is None:
            return
        known = machine.proposal(vote.round)
        if known is None or known.batch_id == vote.value or vote.round in self._echoed_rounds:
            return
        self._echoed_rounds.add(vote.round)
        self._outputs.append(Send(None, ProposalEcho(known)))

    def _compare_echo(self, peer: Peer, proposal: Proposal) -> None:
        machine = self.driver.machine
        if proposal.height != self.height or machine is None:
            return
        known = machine.proposal(proposal.round)
        if known is None or known.payload == proposal.payload:
            return
        if proposal.proposer != known.proposer or not proposal.verify(self.chain_id):
            self._outputs.append(Rejected(peer, "echoed proposal does not verify"))
            return
        self._add_evidence(make_evidence(known, proposal), None)

    def _take_outputs(self) -> list[Output]:
        outputs, self._outputs = self._outputs, []
        return outputs
