"""`status --consensus`: one node's consensus state, like CometBFT's dump_consensus_state.

The dump comes over the node's admin API (``consensus_state``), whose token is in the cluster
dir, so the node is named, not given as HOST:PORT. It is what a bug report should carry: the
current height's rounds, who prevoted and precommitted what, the lock, the valid value, the
timeouts running and the lane (the data path: what waits, our chunks short of a certificate or
a commit, what each author's chunks hold here).
"""

from __future__ import annotations

import argparse
import json
from typing import TYPE_CHECKING, Any

from .errors import Failure, UsageError
from .target import check_node, cluster_dir, is_address

if TYPE_CHECKING:
    from rich.console import RenderableType

NOT_VOTED = "-"


def consensus_status(args: argparse.Namespace) -> int:
    """Ask one node for its dump and print it (a table, or the dump itself with --json)."""
    import trio

    from ..api_protocol import ApiError
    from ..cluster.admin import admin_call, admin_targets
    from ..cluster.control import Cluster
    from ..cluster.errors import ClusterError
    from ..config import ConfigError

    if args.all:
        raise UsageError("--consensus shows one node; name it with --node NAME")
    if is_address(args.node):
        raise UsageError(
            "--consensus asks the node's admin API, whose token is in the cluster dir: "
            "name the node (--node n1 [--dir DIR]) rather than HOST:PORT"
        )
    try:
        cluster = Cluster(cluster_dir(args.dir))
        name = check_node(args.node, cluster.names) if args.node else cluster.names[0]
        target = admin_targets(cluster)[name]
    except (ClusterError, ConfigError) as exc:
        raise UsageError(str(exc)) from None
    try:
        dump = trio.run(admin_call, target, "consensus_state")
    except ApiError as exc:
        raise Failure(f"{name}: {exc}") from None
    if not isinstance(dump, dict):
        raise Failure(f"{name}: the node's answer is not a consensus dump")
    if args.json:
        print(json.dumps(dump))
    else:
        from rich.console import Console

        Console().print(render(dump))
    return 0


def render(dump: dict[str, Any]) -> RenderableType:
    """The dump as text: a header, then one table per round (validators down, votes across)."""
    from rich.console import Group
    from rich.table import Table
    from rich.text import Text

    state = dump.get("consensus")
    age = dump.get("last_commit_age_ms")
    since = f"{age / 1000:.1f} s ago" if isinstance(age, int) else "never"
    if not isinstance(state, dict):
        return Text(f"{dump.get('name')}: consensus not started (last commit {since})")
    lines = [
        f"{dump.get('name')} ({dump.get('chain_id')}): height {state['height']}, "
        f"round {state['round']}, step {state['step']}; last commit {since} "
        f"(height {dump.get('last_height')})",
        f"locked: {_held(state.get('locked'))}   valid: {_held(state.get('valid'))}"
        + (f"   decided: {state['decided']}" if state.get("decided") else ""),
        "timeouts running: "
        + (
            ", ".join(
                f"{t['step']} h{t['height']} r{t['round']} ({t['remaining_ms']} ms left)"
                for t in dump.get("timers", [])
            )
            or "none"
        ),
    ]
    if dump.get("faults") or dump.get("partitioned_from"):
        lines.append(
            f"faults: {', '.join(dump.get('faults') or []) or 'none'}; "
            f"cut off from: {', '.join(dump.get('partitioned_from') or []) or 'none'}"
        )
    lane = dump.get("lanes")
    if isinstance(lane, dict):
        lines.append(_lane(lane))
    if state.get("rounds_left_out"):
        lines.append(f"({state['rounds_left_out']} earlier rounds left out)")
    parts: list[RenderableType] = [Text("\n".join(lines))]
    total = state.get("total_power")
    for r in state["rounds"]:
        proposal = r.get("proposal")
        shown = (
            f"{proposal['batch']} (pol {proposal['pol_round']}, "
            f"{'valid' if proposal['valid'] else 'INVALID'}"
            f"{'' if proposal['acceptable'] else ', refused by forced inclusion'})"
            if proposal
            else "none received"
        )
        parts.append(Text(f"\nround {r['round']}: proposer {r['proposer']}, proposal {shown}"))
        table = Table()
        table.add_column("validator")
        table.add_column("power", justify="right")
        table.add_column(f"prevote ({r['prevote_power']}/{total})")
        table.add_column(f"precommit ({r['precommit_power']}/{total})")
        for v in state.get("validators", []):
            table.add_row(
                v["name"],
                str(v["power"]),
                _votes(r["prevotes"].get(v["name"])),
                _votes(r["precommits"].get(v["name"])),
            )
        parts.append(table)
    return Group(*parts)


def _lane(lane: dict[str, Any]) -> str:
    """The data path in one line: what waits here, our chunks short of a certificate or a
    commit (the oldest's age), and per author the chunks held and certified."""
    own = lane.get("own_chunks") or []
    oldest = f", oldest {own[0]['age_ms'] / 1000:.1f} s" if own else ""
    held = ", ".join(
        f"{author} {row['chunks']} ({row['certified_chunks']} certified)"
        for author, row in sorted((lane.get("held_by_author") or {}).items())
    )
    return (
        f"lane: {lane.get('pending_txs')} txs pending, {lane.get('buffered_txs')} buffered; "
        f"own chunks uncommitted {lane.get('own_uncommitted')} "
        f"(uncertified {lane.get('own_uncertified')}{oldest}); held: {held or 'none'}"
    )


def _held(held: dict[str, Any] | None) -> str:
    return "none" if not held else f"{held['batch']} (round {held['round']})"


def _votes(values: list[str] | None) -> str:
    """One value, or several: an equivocator's conflicting votes, all shown."""
    if not values:
        return NOT_VOTED
    return values[0] if len(values) == 1 else f"[red]{' + '.join(values)} (equivocated)[/]"
