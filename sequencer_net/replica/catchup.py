"""Catch-up: ask peers that are ahead for the batches we missed, answer such requests, and
commit what a peer sends once it checks out against our chain."""

from __future__ import annotations

from collections.abc import Callable

from ..messages import MAX_SYNC_ENTRIES, CommittedBatch, SyncRequest, SyncResponse
from ..store import ChainStore
from .outputs import SYNC, Output, PeerId, Rejected, Send, SetTimer


class CatchUp:
    def __init__(self, chain: ChainStore, delay_ms: int, outputs: list[Output]) -> None:
        self._chain = chain
        self._delay_ms = delay_ms
        self._outputs = outputs
        self._ahead: dict[PeerId, int] = {}  # peers seen at a later height, and that height
        self._requests = 0
        self._timer_set = False
        self.synced = 0  # heights committed from a peer's answer, not by voting

    def _height(self) -> int:
        return self._chain.last_height() + 1

    @property
    def behind(self) -> bool:
        """A peer is known to be at a later height than the one we are deciding."""
        height = self._height()
        return any(h > height for h in self._ahead.values())

    def note_ahead(self, peer: PeerId, height: int) -> None:
        """A peer is at a later height; if we are still behind after a grace period, sync."""
        self._ahead[peer] = max(height, self._ahead.get(peer, 0))
        if not self._timer_set:
            self._timer_set = True
            self._outputs.append(SetTimer(SYNC, self._delay_ms))

    def on_timer(self) -> None:
        """Ask the peers that are ahead in turn, so one that died cannot stall catch-up."""
        self._timer_set = False
        height = self._height()
        self._ahead = {p: h for p, h in self._ahead.items() if h > height}
        if not self._ahead:
            return
        peers = list(self._ahead)
        self._requests += 1
        self._outputs.append(Send(peers[self._requests % len(peers)], SyncRequest(height)))
        self._timer_set = True
        self._outputs.append(SetTimer(SYNC, self._delay_ms))

    def answer(self, peer: PeerId, from_height: int) -> None:
        found = tuple(self._chain.get_many(from_height, MAX_SYNC_ENTRIES))
        if found:
            self._outputs.append(Send(peer, SyncResponse(found)))

    def apply(
        self,
        peer: PeerId,
        entries: tuple[CommittedBatch, ...],
        problem: Callable[[CommittedBatch], str | None],
        commit: Callable[[CommittedBatch], None],
    ) -> None:
        """Commit the entries that continue our chain, in order, while they check out."""
        for entry in entries:
            height = self._height()
            if entry.height < height:
                continue
            if entry.height > height:
                return
            found = problem(entry)
            if found:
                self._outputs.append(Rejected(peer, f"sync entry {entry.height}: {found}"))
                return
            commit(entry)
            self.synced += 1
