"""Demo: private sequencing against a front-runner and a leaker, with real node processes.

Three local 4-node clusters, each dealt a threshold key (`cluster init --private`), one after
the other:

1. **Front-running.** n1 runs the `frontrun 4255593a` fault: for every pending transaction
   whose payload starts with ``BUY:`` that it can read, it slips in one of its own and, when
   it proposes, holds the victim back until its own one commits. Victims go to n2..n4 as
   plaintext, then the same orders encrypted; the demo counts the victims n1 could read (its
   front-running order exists) and those it got ahead of in the committed order. Ahead is
   rarer than read: certificates are ordered as they arrive and the victim's is always first,
   so n1 wins only when it proposes at the right height.
2. **Leaking.** n2 runs `leak-shares`: it releases its decryption shares of its own chunks'
   ciphertexts before they commit. The demo waits until every honest node committed the
   evidence and shows the record, `evidence verify` of it against genesis alone, and n2
   slashed and jailed.
3. **Cost.** The same open-loop load (``--rate`` tx/s for ``--seconds``) plaintext, then
   encrypted: committed tx/s, commit latency, and for the encrypted run the latency until
   every node's verdict (the plaintext) is in.

The closing note puts the numbers side by side (``--json`` prints them as JSON). Every
cluster is stopped at the end, also on an error or Ctrl-C. Exit 0 when the demo showed what
it claims (the front-runner reads plaintext victims and never an encrypted one; the leaker
is slashed everywhere, its evidence verified), 1 otherwise.

    python scripts/private_demo.py [--victims 20] [--rate 100] [--seconds 5] [--dir D] [--json]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import trio

from sequencer_net.cli import main as cli_main
from sequencer_net.client import Client
from sequencer_net.cluster.control import Cluster
from sequencer_net.cluster.init import init_cluster
from sequencer_net.cluster.probe import probe
from sequencer_net.config import ClusterSpec, load_genesis
from sequencer_net.consensus.config import Timeouts
from sequencer_net.faults.frontrun import SENDER, TAG
from sequencer_net.faults.spec import parse_fault
from sequencer_net.types import Tx

PREFIX = b"BUY:"
FAST = Timeouts(300, 100, 200, 100, 200, 100)
WAIT_S = 90.0


class DemoError(Exception):
    """A step that did not turn out as the demo expects."""


def say(text: str, quiet: bool) -> None:
    print(text, file=sys.stderr if quiet else sys.stdout, flush=True)


def addresses(cluster: Cluster) -> dict[str, str]:
    return {n: a.client for n, a in load_genesis(cluster.root / "genesis.toml").addresses.items()}


def public_key(cluster: Cluster) -> bytes:
    private = cluster.genesis.genesis.private
    if private is None:
        raise DemoError(f"{cluster.root}: genesis has no threshold key")
    return private.public_key


async def wait_height(address: str, height: int) -> None:
    with trio.fail_after(WAIT_S):
        while True:
            status = await probe(address, timeout=2)
            if status is not None and status.get("height", 0) >= height:
                return
            await trio.sleep(0.1)


async def locations(address: str, txids: list[bytes]) -> dict[bytes, tuple[int, int]]:
    """(height, position) of each transaction once committed; waits for all."""
    found: dict[bytes, tuple[int, int]] = {}
    async with await Client.connect(address) as client:
        with trio.fail_after(WAIT_S):
            for t in txids:
                while (s := await client.tx_status(t))["status"] != "committed":
                    await trio.sleep(0.05)
                found[t] = (s["height"], s["position"])
    return found


async def location_if_any(client: Client, txid: bytes) -> tuple[int, int] | None:
    s = await client.tx_status(txid)
    return (s["height"], s["position"]) if s["status"] == "committed" else None


# ---- 1. front-running ------------------------------------------------------------------------


async def frontrun_round(cluster: Cluster, victims: int, encrypt: bool) -> dict[str, Any]:
    nodes = addresses(cluster)
    key = public_key(cluster)
    sent: list[bytes] = []
    for i in range(victims):
        name = ("n2", "n3", "n4")[i % 3]
        tx = Tx("rollup-a", f"trader{i}", PREFIX + f"{100 + i} ETH at market".encode())
        async with await Client.connect(nodes[name]) as client:
            txid = await client.submit_encrypted(tx, key) if encrypt else await client.submit(tx)
        sent.append(txid)
        await trio.sleep(0.25)
    where = await locations(nodes["n2"], sent)
    await trio.sleep(1.0)  # a front-runner still waiting for its own would show now
    read = ahead = 0
    async with await Client.connect(nodes["n2"]) as client:
        for victim in sent:
            ours = Tx("rollup-a", SENDER, TAG + victim).id
            spot = await location_if_any(client, ours)
            read += spot is not None
            ahead += spot is not None and spot < where[victim]
    return {"victims": victims, "read": read, "frontrun": ahead, "rate": ahead / victims}


async def part_frontrun(root: Path, victims: int, quiet: bool) -> dict[str, Any]:
    spec = ClusterSpec(
        "private-frontrun",
        4,
        timeouts=FAST,
        private=True,
        faults={"n1": (parse_fault(f"frontrun {PREFIX.hex()}"),)},
    )
    cluster = Cluster(init_cluster(spec, root / "frontrun"))
    cluster.up()
    try:
        await wait_height(addresses(cluster)["n1"], 2)
        say(f"1. n1 front-runs every readable payload starting with {PREFIX!r}", quiet)
        for label, encrypt in (("plaintext", False), ("encrypted", True)):
            found = await frontrun_round(cluster, victims, encrypt)
            say(
                f"   {label}: n1 read {found['read']} of {victims} victims and got its own "
                f"order committed ahead of {found['frontrun']}",
                quiet,
            )
            if encrypt:
                hidden = found
            else:
                plain = found
    finally:
        cluster.down()
    return {"plaintext": plain, "encrypted": hidden}


# ---- 2. leaking -----------------------------------------------------------------------------


async def part_leak(root: Path, quiet: bool) -> dict[str, Any]:
    spec = ClusterSpec(
        "private-leak",
        4,
        timeouts=FAST,
        private=True,
        faults={"n2": (parse_fault("leak-shares"),)},
    )
    cluster = Cluster(init_cluster(spec, root / "leak"))
    cluster.up()
    honest = ("n1", "n3", "n4")
    try:
        nodes = addresses(cluster)
        await wait_height(nodes["n1"], 2)
        say("2. n2 releases its decryption shares before the commit (leak-shares)", quiet)
        async with await Client.connect(nodes["n2"]) as client:
            tx = Tx("rollup-a", "alice", b"a large order, hidden until ordered")
            txid = await client.submit_encrypted(tx, public_key(cluster))
        logs = {n: cluster.root / n / "data" / "evidence.jsonl" for n in honest}
        with trio.fail_after(WAIT_S):
            while not all(p.exists() and p.read_text().strip() for p in logs.values()):
                await trio.sleep(0.2)
        records = [json.loads(p.read_text().splitlines()[0]) for p in logs.values()]
        record = records[0]
        identical = len({json.dumps(r, sort_keys=True) for r in records}) == 1
        genesis = str(cluster.root / "genesis.toml")
        say(f"   $ sequencer-net evidence verify {logs['n1']} --genesis {genesis}", quiet)
        with contextlib.redirect_stdout(sys.stderr if quiet else sys.stdout):
            verified = cli_main(["evidence", "verify", str(logs["n1"]), "--genesis", genesis]) == 0
        jailed = {}
        for name in honest:
            status = await probe(nodes[name], timeout=5)
            n2 = [v for v in (status or {}).get("validators", []) if v["name"] == "n2"]
            jailed[name] = bool(n2) and n2[0]["jailed"] and n2[0]["power"] < 10
        await locations(nodes["n1"], [txid])
        say(
            f"   evidence {record['id'][:16]} ({record['kind']}) against "
            f"{record['offender']['name']}, committed at height {record['committed_height']}: "
            f"stake {record['stake_before']} -> {record['stake_after']}, jailed on "
            f"{sum(jailed.values())} of {len(honest)} honest nodes; identical records: "
            f"{identical}; verified offline: {verified}",
            quiet,
        )
    finally:
        cluster.down()
    return {
        "evidence_id": record["id"],
        "kind": record["kind"],
        "offender": record["offender"]["name"],
        "stake_before": record["stake_before"],
        "stake_after": record["stake_after"],
        "identical_on_honest_nodes": identical,
        "verified_offline": verified,
        "jailed_on": sorted(n for n, j in jailed.items() if j),
    }


# ---- 3. cost --------------------------------------------------------------------------------


def decrypted_at(cluster: Cluster) -> dict[int, float]:
    """Per height, the latest wall-clock time any node logged its verdicts (every node has
    the plaintext by then)."""
    found: dict[int, float] = {}
    for name in addresses(cluster):
        for line in (cluster.root / name / "data" / "node.log").read_text().splitlines():
            record = json.loads(line)
            if record.get("event") == "decrypted":
                stamp = record["timestamp"].replace("Z", "+00:00")
                moment = datetime.fromisoformat(stamp).timestamp()
                found[record["height"]] = max(found.get(record["height"], 0.0), moment)
    return found


async def load_round(
    cluster: Cluster, rate: int, seconds: float, make: Callable[[int], Tx], encrypt: bool
) -> dict[str, Any]:
    nodes = list(addresses(cluster).values())
    key = public_key(cluster)
    count = int(rate * seconds)
    txs = [make(i) for i in range(count)]
    if encrypt:
        from sequencer_net.threshold.envelope import seal

        txs = [Tx(t.namespace, t.sender, seal(key, t.namespace, t.sender, t.payload)) for t in txs]
    sent_at: dict[bytes, float] = {}
    commit_at: dict[int, float] = {}

    async def watch(address: str) -> None:
        async with await Client.connect(address) as client:
            async for event in await client.subscribe_commits():
                commit_at.setdefault(event["height"], time.time())

    async with trio.open_nursery() as nursery:
        nursery.start_soon(watch, nodes[0])
        await trio.sleep(0.2)
        clients = [await Client.connect(a) for a in nodes]
        start = time.time()
        per_tick = max(1, rate // 20)
        for i in range(0, count, per_tick):
            await trio.sleep_until(trio.current_time() + max(0.0, start + i / rate - time.time()))
            chunk = txs[i : i + per_tick]
            now = time.time()
            results = await clients[(i // per_tick) % len(clients)].submit_many(chunk)
            for tx, result in zip(chunk, results, strict=True):
                if result.txid is not None:
                    sent_at[tx.id] = now
        offered_s = time.time() - start
        where = await locations(nodes[0], list(sent_at))
        for c in clients:
            await c.aclose()
        nursery.cancel_scope.cancel()
    latencies = sorted(commit_at[h] - sent_at[t] for t, (h, _) in where.items() if h in commit_at)
    heights = [h for h, _ in where.values()]
    span = max(commit_at[h] for h in heights) - start
    result: dict[str, Any] = {
        "offered": len(sent_at),
        "offered_tps": round(len(sent_at) / offered_s, 1),
        "committed_tps": round(len(where) / span, 1),
        "commit_p50_ms": round(1000 * statistics.median(latencies)),
        "commit_p99_ms": round(1000 * latencies[int(0.99 * (len(latencies) - 1))]),
    }
    if encrypt:
        with trio.fail_after(WAIT_S):
            while not set(heights) <= set(decrypted_at(cluster)):
                await trio.sleep(0.5)
        done = decrypted_at(cluster)
        plain = sorted(done[where[t][0]] - sent_at[t] for t in where)
        result["decrypted_p50_ms"] = round(1000 * statistics.median(plain))
        result["decrypted_p99_ms"] = round(1000 * plain[int(0.99 * (len(plain) - 1))])
    return result


async def part_cost(root: Path, rate: int, seconds: float, quiet: bool) -> dict[str, Any]:
    cluster = Cluster(init_cluster(ClusterSpec("private-cost", 4, private=True), root / "cost"))
    cluster.up()
    try:
        await wait_height(addresses(cluster)["n1"], 2)
        say(f"3. {rate} tx/s for {seconds:g} s, plaintext then encrypted", quiet)

        def make(i: int) -> Tx:
            return Tx("rollup-a", f"user{i % 64}", os.urandom(100))

        plain = await load_round(cluster, rate, seconds, make, encrypt=False)
        say(f"   plaintext: {plain}", quiet)
        hidden = await load_round(cluster, rate, seconds, make, encrypt=True)
        say(f"   encrypted: {hidden}", quiet)
    finally:
        cluster.down()
    return {"plaintext": plain, "encrypted": hidden}


def closing_note(summary: dict[str, Any]) -> str:
    f, leak, cost = summary["frontrun"], summary["leak"], summary["cost"]
    p, e = cost["plaintext"], cost["encrypted"]
    return "\n".join(
        [
            "",
            "Closing note",
            f"  front-running: plaintext: read {f['plaintext']['read']}/"
            f"{f['plaintext']['victims']}, ahead of {f['plaintext']['frontrun']} "
            f"({100 * f['plaintext']['rate']:.0f}%); encrypted: read {f['encrypted']['read']}/"
            f"{f['encrypted']['victims']}, ahead of {f['encrypted']['frontrun']} "
            f"({100 * f['encrypted']['rate']:.0f}%)",
            f"  leaker: {leak['offender']} slashed {leak['stake_before']} -> "
            f"{leak['stake_after']} and jailed on {', '.join(leak['jailed_on'])}; evidence "
            f"{leak['evidence_id'][:16]} ({leak['kind']}) verified offline: "
            f"{leak['verified_offline']}",
            f"  throughput: plaintext {p['committed_tps']} tx/s (commit p50 {p['commit_p50_ms']}"
            f" ms, p99 {p['commit_p99_ms']} ms); encrypted {e['committed_tps']} tx/s (commit "
            f"p50 {e['commit_p50_ms']} ms, p99 {e['commit_p99_ms']} ms; plaintext known "
            f"everywhere p50 {e['decrypted_p50_ms']} ms, p99 {e['decrypted_p99_ms']} ms)",
        ]
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--victims", type=int, default=20, help="front-running victims per run")
    parser.add_argument("--rate", type=int, default=100, help="tx/s of the cost runs")
    parser.add_argument("--seconds", type=float, default=5.0, help="length of each cost run")
    parser.add_argument("--dir", type=Path, help="where the cluster dirs go (default: a temp dir)")
    parser.add_argument("--json", action="store_true", help="print the summary as JSON")
    args = parser.parse_args(argv)
    if args.victims < 1 or args.rate < 1 or args.seconds <= 0:
        parser.error("--victims, --rate and --seconds must be positive")
    root = args.dir or Path(tempfile.mkdtemp(prefix="private-demo-"))

    async def run() -> dict[str, Any]:
        return {
            "frontrun": await part_frontrun(root, args.victims, args.json),
            "leak": await part_leak(root, args.json),
            "cost": await part_cost(root, args.rate, args.seconds, args.json),
        }

    try:
        summary = trio.run(run)
    except (DemoError, trio.TooSlowError) as exc:
        print(f"private demo: {exc or 'a step timed out'} (cluster dirs under {root})")
        return 1
    except KeyboardInterrupt:
        return 130
    if args.json:
        print(json.dumps(summary))
    else:
        print(closing_note(summary))
    f, leak = summary["frontrun"], summary["leak"]
    shown = (
        f["plaintext"]["read"] > 0
        and f["encrypted"]["read"] == 0
        and f["encrypted"]["frontrun"] == 0
        and leak["verified_offline"]
        and len(leak["jailed_on"]) == 3
    )
    return 0 if shown else 1


if __name__ == "__main__":
    sys.exit(main())
