"""Private sequencing in the simulator, under every adversary it runs: no honest replica ever
releases a decryption share before it committed the ciphertext's height (or for a
transaction that height did not commit), and honest replicas that decrypted a height agree on
its verdicts, which are the plaintexts the clients sent. A negative control shows the check
catches a release ahead of the commit.

Replay a failing seed with ``Simulation(SCENARIOS[name], seed).run()`` (the failure names
both).
"""

from __future__ import annotations

import pytest

from sequencer_net.crypto import PrivateKey
from sequencer_net.sim import Scenario, Simulation
from sequencer_net.sim.privacy import PrivacyWatch
from sequencer_net.store.memory import MemoryChainStore
from sequencer_net.threshold.wire import ShareSet, WireShare, sign_shares


def _private(**adversaries: object) -> Scenario:
    return Scenario(private=True, heights=8, liveness_heights=3, max_txs=24, **adversaries)  # type: ignore[arg-type]


SCENARIOS = {
    "fault-free": _private(),
    "twins+partitions": _private(twins=1, partitions=True),
    "mute": _private(mute=1),
    "crash": _private(crash=1, drop=0.05),
    "equivocate": _private(faults=((1, "equivocate"),)),
    "withhold+censor": _private(faults=((2, "withhold"), (3, "censor namespace=rollup-a"))),
    "drop+duplicate": _private(drop=0.1, duplicate=0.1),
}


@pytest.mark.parametrize("name", list(SCENARIOS))
def test_no_honest_replica_releases_a_share_before_the_commit(name: str) -> None:
    released = decrypted = 0
    for seed in range(2):
        sim = Simulation(SCENARIOS[name], seed)
        result = sim.run()
        assert result.ok, f"{name} seed {seed}: {result.report.violations[:3]}"
        assert sim.privacy is not None
        released += sim.privacy.released
        decrypted += sum(
            1
            for inst in sim.instances
            if inst.honest and inst.replica
            for h in range(1, inst.chain.last_height() + 1)
            if inst.replica.decryption.height_verdicts(h)
        )
    assert released > 0 and decrypted > 0, f"{name}: the check saw no share released"


def test_the_watch_catches_a_release_before_the_commit() -> None:
    watch = PrivacyWatch()
    chain = MemoryChainStore()
    share = WireShare(1, bytes(32), bytes(64))
    message = sign_shares(PrivateKey.from_label("n1"), "c", 3, (ShareSet(bytes(32), (share,)),))
    watch.on_send("n1", chain, message)
    assert watch.violations and "before committing it" in watch.violations[0]


def test_a_leaking_validator_is_caught_and_jailed_and_no_honest_one_is_accused() -> None:
    scenario = _private(faults=((1, "leak-shares"),))
    jailed_runs = 0
    for seed in range(3):
        sim = Simulation(scenario, seed)
        result = sim.run()
        assert result.ok, f"leak seed {seed}: {result.report.violations[:3]}"
        assert set(result.report.offenders) <= {"n2"}, seed
        jailed_runs += result.report.jailed == ["n2"]
    assert jailed_runs >= 2, "the leaker should be jailed in nearly every run"
