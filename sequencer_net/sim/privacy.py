"""The simulator's checks for private sequencing: every decryption share an honest replica
releases is for a height it has committed and a transaction that height committed (checked
at the moment it leaves the replica, before any fault layer), and honest replicas that
decrypted a height agree on its verdicts, which are the plaintexts the clients sent."""

from __future__ import annotations

from collections.abc import Iterable

from ..replica.core import Replica
from ..store import ChainStore
from ..threshold.wire import DecryptionShares


class PrivacyWatch:
    def __init__(self) -> None:
        self.violations: list[str] = []
        self.released = 0  # share sets honest replicas sent
        self.sent: dict[bytes, bytes] = {}  # encrypted tx id -> the plaintext the client sent

    def on_send(self, name: str, chain: ChainStore, message: DecryptionShares) -> None:
        """An honest replica hands out ``message``: it must be about its own commits."""
        self.released += len(message.sets)
        entry = chain.get(message.height)
        if entry is None:
            self.violations.append(
                f"privacy: {name} released shares for height {message.height} before "
                f"committing it (committed {chain.last_height()})"
            )
            return
        committed = set(entry.tx_ids)
        for s in message.sets:
            if s.tx_id not in committed:
                self.violations.append(
                    f"privacy: {name} released shares for {s.tx_id.hex()[:12]}, which height "
                    f"{message.height} did not commit"
                )

    def check_verdicts(self, replicas: Iterable[tuple[str, Replica]]) -> None:
        """Honest replicas agree on every height they decrypted, and it is what was sent."""
        seen: dict[int, tuple[str, tuple[tuple[bytes, bytes | None], ...]]] = {}
        for name, replica in replicas:
            for height in range(1, replica.chain.last_height() + 1):
                verdicts = replica.decryption.height_verdicts(height)
                if verdicts is None:
                    continue
                first = seen.setdefault(height, (name, verdicts))
                if first[1] != verdicts:
                    self.violations.append(
                        f"privacy: {first[0]} and {name} decrypted height {height} differently"
                    )
                for txid, plaintext in verdicts:
                    if txid in self.sent and plaintext != self.sent[txid]:
                        self.violations.append(
                            f"privacy: {name} decrypted {txid.hex()[:12]} to something other "
                            "than what its client sent"
                        )
