"""The replica's decryption service, four of them wired by hand: after a commit each releases
its shares, and every one records the same verdicts (plaintext, or failed for a ciphertext
whose proof does not hold); with one validator gone the others still decrypt, with two gone
nobody does; a forged share is refused by its proof and costs nothing else; shares of a height
not yet committed are held, and no share of it is ever sent before the commit."""

from __future__ import annotations

from dataclasses import replace

from helpers.private import GENESIS, KEYS, NAMES, PUBLIC, SHARES, Entry

from sequencer_net.crypto import PrivateKey
from sequencer_net.replica.decryption import Decryption
from sequencer_net.replica.outputs import DECRYPT, Decrypted, Output, Rejected, Send, SetTimer
from sequencer_net.threshold import envelope
from sequencer_net.threshold.wire import DecryptionShares, SharesRequest, sign_shares
from sequencer_net.types import Tx


class Net:
    """The services and what they sent, delivered by hand."""

    def __init__(self, alive: tuple[str, ...] = NAMES) -> None:
        self.outs: dict[str, list[Output]] = {n: [] for n in alive}
        self.nodes = {
            n: Decryption(GENESIS, KEYS[n], SHARES[NAMES.index(n)], self.outs[n]) for n in alive
        }
        self.rejected: list[str] = []
        self.decrypted: dict[str, list[Decrypted]] = {n: [] for n in alive}
        self.sent: dict[str, list[DecryptionShares]] = {n: [] for n in alive}

    def commit(self, entry: Entry, who: tuple[str, ...] | None = None) -> None:
        for n in who or tuple(self.nodes):
            self.nodes[n].on_commit(entry)  # type: ignore[arg-type]

    def run(self) -> None:
        """Deliver sends and fire DECRYPT timers until nothing is left."""
        for _ in range(10_000):
            busy = False
            for n, outs in self.outs.items():
                pending, outs[:] = list(outs), []
                for o in pending:
                    busy = True
                    match o:
                        case Send(to, message):
                            if isinstance(message, DecryptionShares):
                                self.sent[n].append(message)
                            for m, node in self.nodes.items():
                                if m != n and (to is None or to == m.encode()):
                                    node.receive(n.encode(), message)  # type: ignore[arg-type]
                        case SetTimer(key, _) if key is DECRYPT:
                            self.nodes[n].on_timer()
                        case Decrypted():
                            self.decrypted[n].append(o)
                        case Rejected(_, reason):
                            self.rejected.append(reason)
            if not busy:
                return
        raise AssertionError("the services never went quiet")


def _txs(count: int) -> tuple[list[bytes], dict[int, bytes | None]]:
    txs, expected = [], {}
    for i in range(count):
        plaintext = f"order {i}".encode()
        payload = envelope.seal(PUBLIC.public_key, "rollup-a", f"u{i}", plaintext)
        txs.append(Tx("rollup-a", f"u{i}", payload).encoded)
        expected[i] = plaintext
    return txs, expected


def test_every_node_records_the_same_verdicts_after_the_commit() -> None:
    net = Net()
    txs, _ = _txs(3)
    moved = Tx("rollup-a", "mallory", envelope.seal(PUBLIC.public_key, "rollup-a", "u9", b"x"))
    plain = Tx("rollup-a", "bob", b"not encrypted")
    entry = Entry(5, (txs[0], plain.encoded, txs[1], moved.encoded, txs[2]))
    net.run()
    assert not any(net.sent.values())  # nothing before the commit
    net.commit(entry)
    net.run()
    verdicts = {n: d for n, d in net.decrypted.items()}
    first = verdicts["n1"]
    assert len(first) == 1 and first[0].height == 5
    assert [p for _, p in first[0].results] == [b"order 0", b"order 1", None, b"order 2"]
    assert all(v == first for v in verdicts.values())
    node = net.nodes["n3"]
    assert node.describe_tx(entry.tx_ids[0]) == {"decryption": "done", "plaintext": b"order 0"}
    assert node.describe_tx(entry.tx_ids[3]) == {"decryption": "failed"}
    assert node.describe_tx(entry.tx_ids[1]) == {}
    assert node.describe_height(5)["decrypted"][2][1] is None  # type: ignore[index]
    for n, messages in net.sent.items():
        assert messages and all(m.height == 5 for m in messages), n
        released = {s.tx_id for m in messages for s in m.sets}
        assert released <= set(entry.tx_ids) and entry.tx_ids[3] not in released


def test_three_of_four_decrypt_and_two_do_not() -> None:
    txs, _ = _txs(2)
    three = Net(("n1", "n2", "n3"))
    three.commit(Entry(1, tuple(txs)))
    three.run()
    assert all(len(d) == 1 for d in three.decrypted.values())
    two = Net(("n1", "n2"))  # 12 shares of 24, the threshold is 13
    two.commit(Entry(1, tuple(txs)))
    two.run()
    assert not any(two.decrypted.values())
    assert two.nodes["n1"].describe_tx(Entry(1, tuple(txs)).tx_ids[0]) == {"decryption": "pending"}


def test_shares_of_an_uncommitted_height_are_held_and_none_is_sent_for_it() -> None:
    txs, _ = _txs(1)
    entry = Entry(2, tuple(txs))
    net = Net()
    net.commit(entry, ("n1", "n2", "n3"))
    net.nodes["n4"].on_commit(Entry(1, ()))  # type: ignore[arg-type]
    net.nodes["n4"].receive(b"n1", SharesRequest(2))  # asked for a height it has not committed
    net.run()
    assert not net.sent["n4"]
    assert not net.decrypted["n4"]
    net.commit(entry, ("n4",))  # the early shares it held now count, and it releases its own
    net.run()
    assert [d.height for d in net.decrypted["n4"]] == [2]
    assert net.sent["n4"] and all(m.height == 2 for m in net.sent["n4"])


def test_a_forged_share_is_refused_by_its_proof_and_costs_nothing_else() -> None:
    txs, _ = _txs(1)
    entry = Entry(3, tuple(txs))
    net = Net(("n1", "n2", "n3"))
    net.commit(entry, ("n2", "n3"))
    # n1 releases a skewed share set in its own name, validly signed.
    honest = Net(("n1",))
    honest.commit(entry)
    honest.run()
    [message] = honest.sent["n1"]
    [s] = message.sets
    bad = replace(s, shares=(replace(s.shares[0], point=s.shares[1].point), *s.shares[1:]))
    forged = sign_shares(KEYS["n1"], GENESIS.chain_id, 3, (bad,))
    net.nodes["n2"].receive(b"n1", forged)
    net.run()
    assert any("fails its proof" in r for r in net.rejected)
    # n2's and n3's own 12 and n1's five good ones are 17 valid shares: the right plaintext.
    assert [d.results[0][1] for d in net.decrypted["n2"]] == [b"order 0"]
    net.commit(entry, ("n1",))
    net.run()
    assert all(d and d[0].results[0][1] == b"order 0" for d in net.decrypted.values())


def test_messages_from_non_holders_or_with_bad_signatures_are_refused() -> None:
    txs, _ = _txs(1)
    entry = Entry(1, tuple(txs))
    net = Net(("n1", "n2"))
    net.commit(entry)
    net.run()
    [message] = net.sent["n1"]
    stranger = PrivateKey.from_label("stranger")
    node = net.nodes["n2"]
    outs = net.outs["n2"]
    node.receive(b"x", sign_shares(stranger, GENESIS.chain_id, 1, message.sets))
    node.receive(b"x", replace(message, signature=bytes(64)))
    node.receive(b"x", sign_shares(KEYS["n3"], GENESIS.chain_id, 1, message.sets))
    reasons = [o.reason for o in outs if isinstance(o, Rejected)]
    assert len(reasons) == 3
    assert "holds no decryption share" in reasons[0]
    assert "bad signature" in reasons[1]
    assert "does not hold" in reasons[2]


def test_work_is_done_in_slices() -> None:
    txs, _ = _txs(12)
    net = Net(("n1",))
    node = net.nodes["n1"]
    node.on_commit(Entry(1, tuple(txs)))  # type: ignore[arg-type]
    net.outs["n1"].clear()
    node.on_timer()
    sends = [o for o in net.outs["n1"] if isinstance(o, Send)]
    again = [o for o in net.outs["n1"] if isinstance(o, SetTimer)]
    assert not sends and again  # 12 ciphertexts x 6 shares is more than one slice
