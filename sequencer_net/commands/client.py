"""Commands that talk to running nodes: `status`, `tx send|status`, `batch show`, `load`.

A node is named by ``--node``: either HOST:PORT of its client API, or a node name looked up in
the cluster directory (``--dir``, default: the cluster started last).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .arguments import MAX_INT, MAX_RATE, integer, node_arg, number
from .errors import Failure, UsageError, find_cause
from .target import add_dir_option, client_addresses, client_targets

if TYPE_CHECKING:  # the rest is imported where used, so `--help` starts fast
    from ..client import FanoutResult

BUNDLE_EPILOG = """\
bundle file (JSON): a list of transactions, each {"namespace": NS, "payload": TEXT} or
{"namespace": NS, "payload_hex": HEX}, with an optional "sender" (default --sender):

  [{"namespace": "rollup-a", "payload": "swap 5 A"},
   {"namespace": "rollup-b", "payload": "swap 5 B"}]

  sequencer-net tx send --bundle swap.json --wait
"""
STATUS_TIMEOUT_S = 2.0
WAIT_TIMEOUT_S = 30.0


def add_client_commands(commands: argparse._SubParsersAction) -> None:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--node", type=node_arg, help="client address HOST:PORT or node name (default: first node)"
    )
    add_dir_option(common)
    common.add_argument("--json", action="store_true", help="print JSON instead of tables")

    p = commands.add_parser(
        "status",
        parents=[common],
        help="show a node's (or every node's) status",
        description="Show each node's height, round, step, proposer, peers, last commit and "
        "mempool, over the client API. With --consensus, one node's consensus state instead "
        "(like CometBFT's dump_consensus_state): the current height's rounds, who prevoted "
        "and precommitted what, the lock and valid value, the timeouts running, and the "
        "lane (buffered transactions, own chunks not yet certified or committed with their "
        "ages and ackers, chunks held and certified per author); it comes over the node's "
        "admin API, so name the node (--node n2) of a cluster dir.",
    )
    p.add_argument("--all", action="store_true", help="every node of the cluster")
    p.add_argument(
        "--consensus",
        action="store_true",
        help="dump one node's consensus state (votes, lock, valid value, timeouts, lane)",
    )
    p.set_defaults(run=_status)

    tx = commands.add_parser("tx", help="submit transactions and look them up")
    tx_commands = tx.add_subparsers(dest="tx_command", metavar="ACTION", required=True)
    p = tx_commands.add_parser(
        "send",
        parents=[common],
        help="submit one transaction, or an atomic bundle",
        description="Submit one transaction, or with --bundle an atomic bundle of several (for "
        "one or more namespaces) that commits in one batch, contiguous and in the given order, "
        "or not at all.",
        epilog=BUNDLE_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "payload", nargs="?", help="payload text (UTF-8), or - to read the payload from stdin"
    )
    p.add_argument("--file", type=Path, metavar="PATH", help="read the payload from PATH")
    p.add_argument(
        "--bundle",
        type=Path,
        metavar="FILE",
        help="submit the transactions listed in the JSON file FILE as one atomic bundle",
    )
    p.add_argument("--namespace", default="rollup-a", help="rollup namespace (default rollup-a)")
    p.add_argument("--sender", default="cli", help="sender tag (default cli)")
    p.add_argument(
        "--wait", action="store_true", help="wait until it commits; exit 1 if it does not in time"
    )
    p.add_argument(
        "--timeout",
        type=number(0),
        default=WAIT_TIMEOUT_S,
        metavar="S",
        help=f"how long --wait waits, in seconds (default {WAIT_TIMEOUT_S:g})",
    )
    p.add_argument(
        "--fanout",
        type=int,
        default=1,
        metavar="K",
        help="submit to K distinct nodes of the cluster at once (--node first, then the others "
        "in order), so one censoring or dead node cannot keep it out; succeeds if any accepts",
    )
    p.add_argument(
        "--encrypt",
        action="store_true",
        help="encrypt the payload to the set's threshold key (from genesis), so no node can read "
        "it before its order is final; with --wait, also wait for its decryption "
        "(docs/private.md)",
    )
    p.add_argument(
        "--genesis",
        type=Path,
        metavar="PATH",
        help="with --encrypt: the genesis.toml holding the key (default: the cluster dir's)",
    )
    p.set_defaults(run=_tx_send)
    p = tx_commands.add_parser("status", parents=[common], help="where a transaction stands")
    p.add_argument("txid", help="transaction id (hex)")
    p.set_defaults(run=_tx_status)

    batch = commands.add_parser("batch", help="look at committed batches")
    batch_commands = batch.add_subparsers(dest="batch_command", metavar="ACTION", required=True)
    p = batch_commands.add_parser("show", parents=[common], help="one committed batch")
    p.add_argument("height", type=integer(1, MAX_INT))
    p.set_defaults(run=_batch_show)

    p = commands.add_parser(
        "load",
        parents=[common],
        help="submit load and report committed tx/s and commit latency",
        description="Offer RATE transactions per second for DURATION seconds, open loop, "
        "spread over the cluster's nodes (or --node): the transactions are made before the "
        "clock starts, and several connections per node each send one bulk request per "
        "interval on a fixed schedule, whatever the answers take. A node that answers 'busy' "
        "(mempool full) gets the transaction again after a short pause. Then report the rate "
        "really offered beside the committed rate, commit latency p50/p99 (first send to "
        "commit, as the client saw it) and the load generator's own CPU seconds. Exit 1 if "
        "an acknowledged transaction did not commit by the end of the drain.",
    )
    p.add_argument(
        "--rate", type=integer(1, MAX_RATE), required=True, help="transactions per second"
    )
    p.add_argument(
        "--duration", type=number(0, low_open=True), required=True, help="seconds of load"
    )
    p.add_argument(
        "--size",
        type=integer(1, MAX_INT),
        default=100,
        help="payload bytes per transaction (default 100)",
    )
    add_load_options(p)
    p.set_defaults(run=_load)


def add_load_options(p: argparse.ArgumentParser) -> None:
    """The load generator's knobs, shared by `load` and `cluster up --load`."""
    from ..load.plan import INTERVAL_S, MAX_CLIENTS, SUBMITTERS_PER_NODE

    p.add_argument(
        "--clients",
        type=integer(1, MAX_CLIENTS),
        default=1,
        metavar="N",
        help=f"split the load over N client processes (1..{MAX_CLIENTS}, default 1), for "
        "when one process's CPU is the limit (the report's client_cpu_s says)",
    )
    p.add_argument(
        "--submitters",
        type=integer(1, 64),
        default=SUBMITTERS_PER_NODE,
        metavar="K",
        help="concurrent connections per node and client process, each with a request in "
        f"flight (default {SUBMITTERS_PER_NODE})",
    )
    p.add_argument(
        "--interval",
        type=number(0, 1.0, low_open=True),
        default=INTERVAL_S,
        metavar="S",
        help=f"seconds between one connection's bulk requests (default {INTERVAL_S:g})",
    )


def _run(async_fn, *args: Any) -> Any:
    import trio

    from ..api_protocol import ApiError

    try:
        return trio.run(async_fn, *args)
    except Exception as exc:
        cause = find_cause(exc, ApiError)
        if cause is None:
            raise
        raise Failure(str(cause)) from None


def _call(address: str, method: str, **params: Any) -> Any:
    """One request to one node, as a blocking call."""
    from ..client import Client

    async def call() -> Any:
        async with await Client.connect(address) as client:
            return await client.call(method, **params)

    return _run(call)


def _print(args: argparse.Namespace, data: Any, human: str) -> None:
    if args.json:
        print(json.dumps(data, default=_jsonable))
    else:
        from rich.console import Console

        Console().print(human)


def _jsonable(value: object) -> object:
    if isinstance(value, bytes):
        return value.hex()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def _status(args: argparse.Namespace) -> int:
    if args.consensus:
        from .consensus import consensus_status

        return consensus_status(args)
    from rich.console import Console
    from rich.table import Table

    from ..cluster.probe import probe
    from ..cluster.status import commit_age

    targets = client_targets(args.node, args.dir, every=args.all or not args.node)

    async def gather() -> dict[str, dict[str, Any] | None]:
        return {name: await probe(address, STATUS_TIMEOUT_S) for name, address in targets.items()}

    answers = _run(gather)
    if args.json:
        print(json.dumps(answers, default=_jsonable))
        return 0 if all(answers.values()) else 1
    table = Table(title="sequencer-net status")
    columns = ("node", "height", "round", "step", "proposer", "peers", "last commit", "mempool")
    for column in columns:
        table.add_column(column)
    for name, s in answers.items():
        if s is None:
            table.add_row(name, "unreachable", *[""] * (len(columns) - 2))
        else:
            peers = f"{len(s['peers'])}: {','.join(s['peers'])}"
            age = commit_age(s.get("last_commit_age_ms"))
            row = (s["height"], s["round"], s["step"], s["proposer"], peers, age, s["mempool"])
            table.add_row(name, *map(str, row))
    Console().print(table)
    return 0 if all(answers.values()) else 1


def _fanout_targets(args: argparse.Namespace) -> dict[str, str]:
    """K distinct nodes: the --node one first, then the cluster's others in genesis order."""
    if args.fanout < 1:
        raise UsageError(f"--fanout must be at least 1, got {args.fanout}")
    first = client_targets(args.node, args.dir)
    if args.fanout == 1:
        return first
    addresses = client_addresses(args.dir)
    if args.fanout > len(addresses):
        raise UsageError(f"--fanout {args.fanout}, but the cluster has {len(addresses)} nodes")
    names = {address: name for name, address in addresses.items()}
    [(_, address)] = first.items()
    if address not in names:
        raise UsageError(f"--fanout picks nodes of the cluster; {address} is not one of them")
    chosen = [names[address], *(name for name in addresses if name != names[address])]
    return {name: addresses[name] for name in chosen[: args.fanout]}


def _payload(args: argparse.Namespace) -> bytes:
    """From the argument, a file or stdin; never more than one byte past the limit is read."""
    from ..types import MAX_PAYLOAD

    if (args.payload is None) == (args.file is None):
        raise UsageError("give the payload (text, or - for stdin) or --file PATH, not both")
    if args.file is not None:
        try:
            with args.file.open("rb") as f:
                data = f.read(MAX_PAYLOAD + 1)
        except OSError as exc:
            raise UsageError(f"{args.file}: cannot read it: {exc.strerror or exc}") from None
    elif args.payload == "-":
        data = sys.stdin.buffer.read(MAX_PAYLOAD + 1)
    else:
        data = args.payload.encode()
    if len(data) > MAX_PAYLOAD:
        raise UsageError(f"payload exceeds {MAX_PAYLOAD} bytes")
    return data


def _tx_send(args: argparse.Namespace) -> int:
    import trio
    from rich.markup import escape

    from ..api_protocol import ALREADY_COMMITTED
    from ..client import Client, submit_fanout
    from ..types import Tx

    if not args.timeout > 0:
        raise UsageError(f"--timeout must be positive, got {args.timeout:g}")
    if args.genesis is not None and not args.encrypt:
        raise UsageError("--genesis goes with --encrypt")
    if args.bundle is not None and args.encrypt:
        raise UsageError("--encrypt seals one payload; a --bundle is sent as it is")
    if args.bundle is not None:
        return _bundle_send(args)
    targets = _fanout_targets(args)
    try:
        tx = Tx(args.namespace, args.sender, _payload(args))
        if args.encrypt:
            from ..threshold.envelope import seal
            from .encrypt import threshold_public_key

            key = threshold_public_key(args.genesis, args.dir)
            tx = Tx(tx.namespace, tx.sender, seal(key, tx.namespace, tx.sender, tx.payload))
    except ValueError as exc:
        raise UsageError(str(exc)) from None

    results = _run(submit_fanout, list(targets.values()), tx.encoded)
    answers: dict[str, FanoutResult] = dict(zip(targets, results, strict=True))
    # Submitting is idempotent: the same transaction again has the same id; it is reported
    # where it was committed, not as an error.
    accepted = [
        name
        for name, answer in answers.items()
        if answer.txid is not None or answer.error == ALREADY_COMMITTED
    ]
    if not accepted:
        if len(answers) == 1:
            raise Failure(results[0].error)
        reasons = "; ".join(f"{name}: {answer.error}" for name, answer in answers.items())
        raise Failure(f"no node accepted the transaction ({reasons})")
    via = accepted[0]

    async def follow() -> dict[str, Any]:
        async with await Client.connect(targets[via]) as client:
            status = await client.tx_status(tx.id)
            if args.wait:
                with trio.move_on_after(args.timeout):
                    while status["status"] != "committed" or (
                        args.encrypt and status.get("decryption") == "pending"
                    ):  # with --encrypt, also until the plaintext is known (or failed)
                        await trio.sleep(0.1)
                        status = await client.tx_status(tx.id)
            return status

    result = {"txid": tx.id, "node": via, **_run(follow)}
    where = (
        f" at height {result['height']}, position {result['position']}"
        if "height" in result
        else ""
    )
    from .encrypt import decryption_note

    human = f"{tx.id.hex()} {result['status']}{where}{decryption_note(result)} (via {via})"
    if len(answers) > 1:
        result["fanout"] = {name: _fanout_json(answer) for name, answer in answers.items()}
        lines = [
            f"{name}: accepted" if answer.txid else f"{name}: refused: {escape(str(answer.error))}"
            for name, answer in answers.items()
        ]
        human = "\n".join([*lines, f"{human}, accepted by {len(accepted)} of {len(answers)}"])
    _print(args, result, human)
    return 0 if result["status"] == "committed" or not args.wait else 1


def _bundle_send(args: argparse.Namespace) -> int:
    """`tx send --bundle FILE`: one request to one node; with --wait, until all committed."""
    import trio

    from ..client import Client
    from .bundle_file import read_bundle

    if args.payload is not None or args.file is not None:
        raise UsageError("--bundle takes its transactions from FILE: give no payload or --file")
    if args.fanout != 1:
        raise UsageError("--bundle goes to one node (--node); --fanout is for one transaction")
    txs = read_bundle(args.bundle, args.sender)
    [(name, address)] = client_targets(args.node, args.dir).items()

    async def send() -> list[dict[str, Any]]:
        async with await Client.connect(address) as client:
            ids = await client.submit_bundle(txs)
            statuses = [await client.tx_status(txid) for txid in ids]
            if args.wait:
                with trio.move_on_after(args.timeout):
                    while any(s["status"] != "committed" for s in statuses):
                        await trio.sleep(0.1)
                        statuses = [await client.tx_status(txid) for txid in ids]
            return [{"txid": txid, **s} for txid, s in zip(ids, statuses, strict=True)]

    result = {"node": name, "txs": _run(send)}
    lines = [
        f"{t['txid'].hex()} {t['status']}"
        + (f" at height {t['height']}, position {t['position']}" if "height" in t else "")
        for t in result["txs"]
    ]
    lines.append(f"bundle of {len(txs)} transactions via {name}")
    _print(args, result, "\n".join(lines))
    committed = all(t["status"] == "committed" for t in result["txs"])
    return 0 if committed or not args.wait else 1


def _fanout_json(answer: FanoutResult) -> dict[str, Any]:
    return {"address": answer.address, "accepted": answer.txid is not None, "error": answer.error}


def _tx_status(args: argparse.Namespace) -> int:
    from ..api_protocol import TXID_BYTES

    [(_, address)] = client_targets(args.node, args.dir).items()
    try:
        txid = bytes.fromhex(args.txid)
    except ValueError:
        raise UsageError(f"{args.txid!r} is not a hex transaction id") from None
    if len(txid) != TXID_BYTES:
        raise UsageError(f"a transaction id is {TXID_BYTES} bytes ({2 * TXID_BYTES} hex digits)")

    result = _call(address, "tx_status", txid=txid)
    where = (
        f" at height {result['height']}, position {result['position']}"
        if "height" in result
        else ""
    )
    from .encrypt import decryption_note

    _print(args, result, f"{args.txid} {result['status']}{where}{decryption_note(result)}")
    return 0 if result["status"] != "unknown" else 1


def _batch_show(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.table import Table

    [(_, address)] = client_targets(args.node, args.dir).items()

    if args.height < 1:
        raise UsageError(f"height must be 1 or more, got {args.height}")
    batch = _call(address, "batch", height=args.height)
    if batch is None:
        raise Failure(f"height {args.height} is not committed yet")
    if args.json:
        print(json.dumps(batch, default=_jsonable))
        return 0
    table = Table(title=f"batch at height {batch['height']}", show_header=False)
    for key in (
        "batch_id",
        "parent_id",
        "proposer",
        "built_round",
        "commit_round",
        "timestamp_ms",
        "tx_count",
    ):
        value = batch[key]
        table.add_row(key, value.hex() if isinstance(value, bytes) else str(value))
    table.add_row("signers", ", ".join(batch["signers"]))
    if batch.get("decryption") == "pending":
        table.add_row("decrypted", "pending")
    for i, (txid, plaintext) in enumerate(batch.get("decrypted", [])):
        from .encrypt import shown_plaintext

        shown = "failed decryption" if plaintext is None else shown_plaintext(plaintext)
        table.add_row("decrypted" if i == 0 else "", f"{txid.hex()[:16]}  {shown}")
    Console().print(table)
    return 0


def _load(args: argparse.Namespace) -> int:
    from ..load import LoadPlan, run_plan
    from ..types import MAX_PAYLOAD

    addresses = list(client_targets(args.node, args.dir, every=not args.node).values())
    if not 0 < args.size <= MAX_PAYLOAD:
        raise UsageError(f"--size must be 1..{MAX_PAYLOAD} bytes (the payload limit)")
    try:
        plan = LoadPlan(
            tuple(addresses),
            args.rate,
            args.duration,
            args.size,
            clients=args.clients,
            submitters=args.submitters,
            interval_s=args.interval,
        )
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    report = _run(run_plan, plan)
    human = (
        f"offered {report.submitted} at {report.offered_tps} tx/s (asked {report.rate}; "
        f"{report.refused} refused, {report.busy} busy answers retried, {report.gave_up} "
        f"given up), committed {report.committed} of {report.acked} acknowledged in "
        f"{report.duration_s} s: {report.committed_tps} tx/s, latency p50 "
        f"{report.latency_p50_ms} ms, p99 {report.latency_p99_ms} ms, {report.heights} "
        f"heights; load generator CPU {report.client_cpu_s} s over {report.clients} "
        f"process(es)"
    )
    if report.gone:
        human += (
            f"; stopped answering: {', '.join(report.gone)} ({report.unanswered} transactions "
            f"unanswered, the load went on with the other nodes)"
        )
    _print(args, report.to_json(), human)
    return 0 if report.uncommitted == 0 and not report.gone else 1
