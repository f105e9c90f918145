"""`scripts/private_demo.py` with small numbers: it runs its three clusters and exits 0, which
it does only when the front-runner read the plaintext victims and none of the encrypted ones,
and the leaker was slashed on every honest node with its evidence verified offline. Asserts
those conditions, never speed."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import trio

SCRIPT = Path(__file__).parents[2] / "scripts" / "private_demo.py"


async def test_the_demo_shows_what_it_claims(tmp_path: Path) -> None:
    argv = ["--victims", "6", "--rate", "20", "--seconds", "2", "--dir", str(tmp_path), "--json"]
    with trio.fail_after(300):  # a bound on a busy machine, not a timing
        done = await trio.run_process(
            [sys.executable, str(SCRIPT), *argv],
            capture_stdout=True,
            capture_stderr=True,
            check=False,
        )
    assert done.returncode == 0, done.stderr.decode()[-2000:]
    summary = json.loads(done.stdout)
    front = summary["frontrun"]
    assert front["plaintext"]["read"] == 6
    assert front["encrypted"]["read"] == 0 and front["encrypted"]["frontrun"] == 0
    leak = summary["leak"]
    assert leak["kind"] == "early_release" and leak["offender"] == "n2"
    assert leak["verified_offline"] and leak["jailed_on"] == ["n1", "n3", "n4"]
    cost = summary["cost"]
    assert cost["plaintext"]["committed_tps"] > 0 and cost["encrypted"]["committed_tps"] > 0
    assert cost["encrypted"]["decrypted_p50_ms"] >= cost["encrypted"]["commit_p50_ms"]
