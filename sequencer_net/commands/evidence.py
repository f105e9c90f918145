"""`sequencer-net evidence list|show|verify` and `sequencer-net validators`.

The evidence commands read the nodes' ``evidence.jsonl`` files directly, so they work on a
stopped cluster or a copied data dir; `verify` needs nothing but a log and a genesis file.
`validators` asks a running node, since current stakes live in its chain state.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..cluster.layout import Layout
from ..evidence_log import FILENAME, EvidenceLogError, read_log, shown_id, verify_records
from .arguments import node_arg
from .client import _call
from .errors import UsageError
from .target import NODE_DIRS_HELP, add_dir_option, chosen_dir, client_targets, select_nodes

if TYPE_CHECKING:  # rich and the config loader are imported where used: `--help` is fast
    from rich.console import Console

    from ..genesis import Genesis

KEY_SHOWN = 12  # hex digits of a public key where a record lacks the name

EVIDENCE_EXAMPLES = """\
examples:
  sequencer-net evidence list                        every node of the cluster started last
  sequencer-net evidence list --node n2 --json       one node's records as JSON
  sequencer-net evidence list --dir runs/x/n1/data   a node data dir (e.g. a copied one)
  sequencer-net evidence show 3fa9c2                 one record by id prefix, both messages
  sequencer-net evidence verify n1/data/evidence.jsonl --genesis genesis.toml
"""


def add_evidence_commands(commands: argparse._SubParsersAction) -> None:
    """Register `evidence` (list, show, verify) and `validators`."""
    parser = commands.add_parser(
        "evidence",
        help="list, show and verify committed equivocation evidence (slashes)",
        description="Each node appends one JSON line per committed piece of evidence to\n"
        f"DATA_DIR/{FILENAME}: both signed messages, the stake before and after the slash.\n"
        "`list` and `show` merge the records of several nodes by id; `verify` re-checks a\n"
        "log offline against a genesis file (docs/evidence-log.md has the schema).",
        epilog=EVIDENCE_EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    actions = parser.add_subparsers(dest="evidence_command", metavar="ACTION", required=True)

    source = argparse.ArgumentParser(add_help=False)
    source.add_argument("--node", type=node_arg, help="only this node of the cluster (by name)")
    add_dir_option(source, NODE_DIRS_HELP)
    source.add_argument("--json", action="store_true", help="print JSON instead of tables")

    p = actions.add_parser(
        "list",
        parents=[source],
        help="every record, merged by id across nodes",
        description="One row per piece of evidence: kind, height/round, offender, stake "
        "before -> after, the height whose batch committed it, the proposer of that batch "
        "(reporter), and which nodes' logs hold it. Every node writes an identical record, so "
        "a node whose copy differs from the first one read is flagged. --json prints the "
        "records with `nodes` and `differs` (node names) added.",
    )
    p.set_defaults(run=_list)

    p = actions.add_parser(
        "show",
        parents=[source],
        help="one record in full, by id prefix",
        description="Both signed messages of one piece of evidence, every field. ID is any "
        "unique prefix of the hex evidence id shown by `evidence list`.",
    )
    p.add_argument("id", metavar="ID", help="evidence id or a unique prefix of it (hex)")
    p.set_defaults(run=_show)

    p = actions.add_parser(
        "verify",
        help="re-verify an evidence log offline against a genesis file",
        description="Decode each record's canonical evidence bytes and check: the id, every "
        "readable field against the decoded messages, both signatures for the genesis chain "
        "id, the offender and reporter are genesis validators, stake before is the "
        "offender's genesis stake and stake after follows the slashing rule, the evidence "
        "age, and one slash per offender. Exit status: 0 if every record verifies, 1 if any "
        "does not (or the log is malformed, empty, or of another chain than the genesis), 2 "
        "for a missing file or bad genesis.",
    )
    p.add_argument("file", type=Path, metavar="FILE", help=f"an evidence log ({FILENAME})")
    p.add_argument("--genesis", type=Path, required=True, help="the chain's genesis.toml")
    p.add_argument("--json", action="store_true", help="print a JSON report")
    p.set_defaults(run=_verify)

    p = commands.add_parser(
        "validators",
        help="each validator's genesis and current stake, jailed, evidence count",
        description="Ask a running node (default: the first of the cluster started last) for "
        "its validator set: stake now against stake in genesis, whether the validator is "
        "jailed or slashed, and how much evidence against it has committed.",
    )
    p.add_argument(
        "--node", type=node_arg, help="client address HOST:PORT or node name (default: first node)"
    )
    add_dir_option(p)
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.set_defaults(run=_validators)


# ---- where the logs are ------------------------------------------------------------------


def _logs(args: argparse.Namespace) -> dict[str, Path]:
    """Node name -> its evidence log path, from --dir/--node or the current cluster."""
    selected = select_nodes(args.node, args.dir)
    return {name: data / FILENAME for name, data in selected.data_dirs.items()}


@dataclass
class _Entry:
    """One evidence id across nodes: the first copy read, every node holding it, and the
    nodes whose copy differs from the first (every node writes identical records, so a
    difference means a bug or an edited file)."""

    record: dict[str, Any]
    nodes: list[str] = field(default_factory=list)
    differs: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {**self.record, "nodes": self.nodes, "differs": self.differs}


def _merged(logs: Mapping[str, Path]) -> list[_Entry]:
    """Each record once, with the nodes whose logs hold it, in commit order."""
    merged: dict[str, _Entry] = {}
    for name, path in logs.items():
        if not path.exists():
            continue  # this node has committed no evidence
        try:
            records = read_log(path)
        except EvidenceLogError as exc:
            raise UsageError(str(exc)) from None
        for line, record in enumerate(records, start=1):
            record_id = record.get("id")
            if not isinstance(record_id, str):
                raise UsageError(f"{path}: line {line}: record has no id")
            entry = merged.setdefault(record_id, _Entry(record))
            entry.nodes.append(name)
            if record != entry.record:
                entry.differs.append(name)
    return sorted(merged.values(), key=_commit_order)


def _commit_order(entry: _Entry) -> tuple[int, str]:
    height = entry.record.get("committed_height")
    return (height if isinstance(height, int) else -1, entry.record["id"])


def _field(record: Mapping[str, Any], key: str, inner: str | None = None) -> Any:
    """A field for display; a hand-edited record may lack it, and list must still show it."""
    value = record.get(key)
    if inner is not None:
        value = value.get(inner) if isinstance(value, dict) else None
    return "?" if value is None else value


def _party(record: Mapping[str, Any], key: str) -> str:
    name = _field(record, key, "name")
    return name if name != "?" else str(_field(record, key, "public_key"))[:KEY_SHOWN]


def _console() -> Console:
    """Record fields are data from a file anyone may edit: never interpret them as markup."""
    from rich.console import Console

    return Console(markup=False)


def _nodes(entry: _Entry, total: int) -> str:
    nodes = entry.nodes
    held = f"all {total}" if total > 1 and len(nodes) == total else ", ".join(nodes)
    if not entry.differs:
        return held
    return f"{held} ({', '.join(entry.differs)}: different copy)"


# ---- evidence list / show ----------------------------------------------------------------


def _list(args: argparse.Namespace) -> int:
    from rich import box
    from rich.table import Table

    logs = _logs(args)
    entries = _merged(logs)
    if args.json:
        print(json.dumps([entry.to_json() for entry in entries]))
        return 0
    if not entries:
        print("no evidence committed")
        return 0
    table = Table(title=f"evidence ({len(entries)})", box=box.SIMPLE_HEAD, pad_edge=False)
    columns = ("id", "kind", "h/r", "offender", "stake", "committed", "reporter")
    for column in (*columns, "nodes"):
        table.add_column(column, no_wrap=column in ("id", "kind", "stake"))
    for entry in entries:
        record = entry.record
        table.add_row(
            shown_id(str(record["id"])),
            str(_field(record, "kind")).removeprefix("duplicate_"),  # the table says it
            f"{_field(record, 'height')}/{_field(record, 'round')}",
            _party(record, "offender"),
            f"{_field(record, 'stake_before')} → {_field(record, 'stake_after')}",
            str(_field(record, "committed_height")),
            _party(record, "reporter"),
            _nodes(entry, len(logs)),
        )
    _console().print(table)
    return 0


def _show(args: argparse.Namespace) -> int:
    from rich.table import Table

    prefix = args.id.lower()
    if not prefix or any(c not in "0123456789abcdef" for c in prefix):
        raise UsageError(f"{args.id!r} is not a hex evidence id")
    logs = _logs(args)
    found = [e for e in _merged(logs) if e.record["id"].startswith(prefix)]
    if not found:
        raise UsageError(f"no evidence with id {args.id}")
    if len(found) > 1:
        ids = ", ".join(shown_id(e.record["id"]) for e in found)
        raise UsageError(f"id prefix {args.id} is ambiguous: {ids}")
    [entry] = found
    record = entry.record
    if args.json:
        print(json.dumps(entry.to_json()))
        return 0
    summary = Table(title=f"evidence {record['id']}", show_header=False)
    summary.add_column("field")
    summary.add_column("value", overflow="fold")
    summary.add_row("kind", str(_field(record, "kind")))
    summary.add_row("chain", str(_field(record, "chain_id")))
    summary.add_row("height / round", f"{_field(record, 'height')} / {_field(record, 'round')}")
    for key in ("offender", "reporter"):
        summary.add_row(key, f"{_field(record, key, 'name')} ({_field(record, key, 'public_key')})")
    summary.add_row("stake", f"{_field(record, 'stake_before')} → {_field(record, 'stake_after')}")
    summary.add_row(
        "committed",
        f"height {_field(record, 'committed_height')} at {_field(record, 'time')}",
    )
    summary.add_row("in the logs of", _nodes(entry, len(logs)))
    console = _console()
    console.print(summary)
    messages = record.get("messages")
    for i, message in enumerate(messages if isinstance(messages, list) else [], start=1):
        table = Table(title=f"signed message {i}", show_header=False)
        table.add_column("field")
        table.add_column("value", overflow="fold")  # signatures in full, never cut with "…"
        for key, value in message.items() if isinstance(message, dict) else []:
            table.add_row(str(key), "nil" if value is None else str(value))
        console.print(table)
    return 0


# ---- evidence verify ---------------------------------------------------------------------


def _load_genesis(path: Path) -> Genesis:
    from ..config import ConfigError, load_genesis

    try:
        return load_genesis(path).genesis
    except ConfigError as exc:
        raise UsageError(str(exc)) from None


def _verify(args: argparse.Namespace) -> int:
    genesis = _load_genesis(args.genesis)
    if not args.file.is_file():
        raise UsageError(f"{args.file}: no such file")
    try:
        records = read_log(args.file)
    except EvidenceLogError as exc:
        return _log_failed(args, str(exc))
    if not records:  # nothing verified is not a pass
        return _log_failed(args, f"{args.file}: no evidence records in the file")
    claimed = sorted({c for r in records if isinstance(c := r.get("chain_id"), str)})
    if claimed and genesis.chain_id not in claimed:
        # One line, not a signature failure per record: log and genesis are of two chains.
        chains = ", ".join(repr(c) for c in claimed)
        return _log_failed(
            args,
            f"wrong chain: {args.file} holds evidence of chain {chains}, but {args.genesis} "
            f"is the genesis of chain {genesis.chain_id!r}",
            chain_id=genesis.chain_id,
            record_chain_ids=claimed,
        )
    problems: dict[int, list[str]] = {}
    for problem in verify_records(records, genesis):
        problems.setdefault(problem.index, []).append(problem.message)
    results: list[dict[str, Any]] = [
        {
            "line": i + 1,
            "id": record.get("id"),
            "ok": i not in problems,
            "problems": problems.get(i, []),
        }
        for i, record in enumerate(records)
    ]
    failed = len(problems)
    if args.json:
        report = {
            "file": str(args.file),
            "chain_id": genesis.chain_id,
            "records": len(records),
            "verified": len(records) - failed,
            "failed": failed,
            "ok": failed == 0,
            "results": results,
        }
        print(json.dumps(report))
    else:
        for result, record in zip(results, records, strict=True):
            where = (
                f"line {result['line']} {shown_id(str(_field(record, 'id')))} "
                f"{_field(record, 'kind')} by {_party(record, 'offender')} "
                f"at height {_field(record, 'height')}"
            )
            print(f"{where}: ok" if result["ok"] else f"{where}: FAIL")
            for message in result["problems"]:
                print(f"    {message}")
        print(
            f"{len(records)} record(s): {len(records) - failed} verified, {failed} failed "
            f"(chain {genesis.chain_id!r}, {args.genesis})"
        )
    return 0 if failed == 0 else 1


def _log_failed(args: argparse.Namespace, error: str, **extra: object) -> int:
    """The log as a whole does not verify: one line (or one JSON report), exit status 1."""
    if args.json:
        print(json.dumps({"file": str(args.file), "ok": False, "error": error, **extra}))
    else:
        print(f"FAIL {error}")
    return 1


# ---- validators --------------------------------------------------------------------------


def _genesis_stakes(directory: Path | None, chain_id: str) -> dict[str, int]:
    """Genesis stake by name from the cluster dir, if it is this node's chain; else empty
    (a bare HOST:PORT with no cluster dir to read)."""
    directory = chosen_dir(directory)
    if directory is None:
        return {}
    genesis = _load_genesis(Layout(directory).genesis)
    if genesis.chain_id != chain_id:
        return {}
    return {v.name: v.power for v in genesis.validators}


def _validators(args: argparse.Namespace) -> int:
    from rich.table import Table

    [(node, address)] = client_targets(args.node, args.dir).items()
    status = _call(address, "status")
    stakes = _genesis_stakes(args.dir, status.get("chain_id"))
    order = {name: i for i, name in enumerate(stakes)}
    rows = [
        {
            "name": v["name"],
            "genesis_stake": stakes.get(v["name"]),
            "stake": v["power"],
            "jailed": v["jailed"],
            "slashed": v.get("slashed"),
            "evidence": v.get("evidence"),
        }
        for v in sorted(status["validators"], key=lambda v: order.get(v["name"], len(order)))
    ]
    if args.json:
        answer = {
            "node": node,
            "chain_id": status.get("chain_id"),
            "height": status.get("height"),
            "validators": rows,
        }
        print(json.dumps(answer))
        return 0
    table = Table(
        title=f"validators at height {status.get('height')} (as seen by {status.get('name', node)})"
    )
    for column in ("name", "genesis stake", "stake", "jailed", "slashed", "evidence"):
        table.add_column(column)
    for row in rows:
        cells = [row[key] for key in ("genesis_stake", "stake", "jailed", "slashed", "evidence")]
        table.add_row(row["name"], *(_cell(value) for value in cells))
    _console().print(table)
    return 0


def _cell(value: object) -> str:
    """Unknown (not reported by this node or no genesis at hand) shows as '-'."""
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)
