"""A risk scenario read from TOML: the sequencer set, its failures, the protocol, the L1
escape hatch and the book of positions. Every error names the file and the key, since these
files are written by hand."""

from __future__ import annotations

import math
import tomllib
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from ..commands.errors import UsageError

REPAIRS = ("exponential", "lognormal", "pareto")
SIDES = ("long", "short")
MAX_FAILURES = 2_000  # per component and horizon


@dataclass(frozen=True)
class Failures:
    """A component that fails and is repaired: exponential time to failure, then a repair
    whose mean is ``mttr_s``; ``shape`` is lognormal's sigma or pareto's alpha (heavy tail)."""

    mtbf_s: float
    mttr_s: float
    repair: str = "exponential"
    shape: float = 1.0


@dataclass(frozen=True)
class Group:
    """Nodes that go down together when the group does (a shared region or provider)."""

    name: str
    members: tuple[int, ...]
    failures: Failures


@dataclass(frozen=True)
class Protocol:
    """Protocol-side numbers; ``risk calibrate`` measures them from a cluster run."""

    recovery_s: float = 2.0
    block_time_s: float = 1.0
    round_timeout_s: float = 1.0
    reputation: bool = True
    reputation_window: int = 50  # heights, as the genesis parameter
    forced_inclusion: bool = True
    inclusion_deadline: int = 3


@dataclass(frozen=True)
class Position:
    notional: float
    leverage: float
    side: str
    liquidation_threshold: float


@dataclass(frozen=True)
class Exposure:
    annual_volatility: float
    oracle_grace_s: float
    user_reaction_s: float
    liquidation_penalty: float
    positions: tuple[Position, ...]


@dataclass(frozen=True)
class SequencerSet:
    names: tuple[str, ...]
    stakes: tuple[int, ...]
    failures: Failures
    groups: tuple[Group, ...] = ()
    byzantine: tuple[int, ...] = ()
    censors: tuple[int, ...] = ()


@dataclass(frozen=True)
class Scenario:
    name: str
    horizon_s: float
    single: Failures
    sequencers: SequencerSet
    protocol: Protocol
    escape_delay_s: float
    exposure: Exposure
    shared_provider: Failures = field(default_factory=lambda: Failures(180 * 86400, 4 * 3600))

    def with_protocol(self, **changes: Any) -> Scenario:
        return replace(self, protocol=replace(self.protocol, **changes))


class _Table:
    """One TOML table, with the dotted key path used in error messages."""

    def __init__(self, source: str, path: str, data: object) -> None:
        if not isinstance(data, dict):
            raise UsageError(f"{source}: {path or 'top level'}: expected a table")
        self.source, self.path, self.data = source, path, data

    def key(self, name: str) -> str:
        return f"{self.path}.{name}" if self.path else name

    def error(self, name: str, message: str) -> UsageError:
        return UsageError(f"{self.source}: {self.key(name)}: {message}")

    def table(self, name: str, required: bool = True) -> _Table | None:
        if name not in self.data:
            if required:
                raise self.error(name, "missing table")
            return None
        return _Table(self.source, self.key(name), self.data[name])

    def number(self, name: str, default: float | None = None, low: float = 0.0) -> float:
        value = self.data.get(name, default)
        if value is None:
            raise self.error(name, "missing")
        if isinstance(value, bool) or not isinstance(value, int | float) or math.isnan(value):
            raise self.error(name, f"expected a number, got {value!r}")
        if value < low:
            raise self.error(name, f"must be >= {low:g}, got {value!r}")
        return float(value)

    def positive(self, name: str, default: float | None = None) -> float:
        value = self.number(name, default)
        if value <= 0:
            raise self.error(name, f"must be > 0, got {value:g}")
        return value

    def integer(self, name: str, default: int, low: int) -> int:
        value = self.data.get(name, default)
        if isinstance(value, bool) or not isinstance(value, int) or value < low:
            raise self.error(name, f"expected an integer >= {low}, got {value!r}")
        return value

    def boolean(self, name: str, default: bool) -> bool:
        value = self.data.get(name, default)
        if not isinstance(value, bool):
            raise self.error(name, f"expected true or false, got {value!r}")
        return value

    def choice(self, name: str, default: str, choices: tuple[str, ...]) -> str:
        value = self.data.get(name, default)
        if value not in choices:
            raise self.error(name, f"expected one of {', '.join(choices)}, got {value!r}")
        return value

    def tables(self, name: str) -> list[_Table]:
        value = self.data.get(name, [])
        if not isinstance(value, list):
            raise self.error(name, "expected an array of tables")
        return [_Table(self.source, f"{self.key(name)}[{i}]", v) for i, v in enumerate(value)]

    def unknown(self, known: set[str]) -> None:
        extra = sorted(set(self.data) - known)
        if extra:
            raise self.error(extra[0], f"unknown key (known: {', '.join(sorted(known))})")


def load_scenario(path: Path) -> Scenario:
    """Read and check ``path``; a missing file, bad TOML or bad value is a UsageError."""
    try:
        text = path.read_text()
    except OSError as exc:
        raise UsageError(f"{path}: cannot read: {exc.strerror}") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise UsageError(f"{path}: not valid TOML: {exc}") from None
    except RecursionError:  # tomllib parses nested arrays and tables by recursion
        raise UsageError(f"{path}: not valid TOML: nested too deeply") from None
    return parse_scenario(data, str(path))


def parse_scenario(data: dict[str, Any], source: str) -> Scenario:
    top = _Table(source, "", data)
    top.unknown({"scenario", "single", "set", "groups", "protocol", "escape", "exposure"})
    meta = top.table("scenario")
    assert meta is not None
    meta.unknown({"name", "description", "horizon_days"})
    name = meta.data.get("name", Path(source).stem)
    if not isinstance(name, str) or not name:
        raise meta.error("name", f"expected a non-empty string, got {name!r}")
    single = top.table("single")
    assert single is not None
    single.unknown({"mtbf_days", "mttr_minutes", "repair", "shape"})
    horizon_s = meta.positive("horizon_days", 365.0) * 86400
    return Scenario(
        name=name,
        horizon_s=horizon_s,
        single=_failures(single, horizon_s),
        sequencers=_sequencer_set(top, horizon_s),
        protocol=_protocol(top.table("protocol", required=False)),
        escape_delay_s=_escape(top),
        exposure=_exposure(top),
    )


def _failures(table: _Table, horizon_s: float) -> Failures:
    """A failure process; more than MAX_FAILURES expected in the horizon is refused (the
    trials would not fit in memory, and no real system fails that often)."""
    repair = table.choice("repair", "exponential", REPAIRS)
    shape = table.positive("shape", 1.0 if repair == "lognormal" else 2.0)
    if repair == "pareto" and shape <= 1:
        raise table.error(
            "shape", f"a pareto repair needs alpha > 1 for a finite mean, got {shape}"
        )
    mtbf_s = table.positive("mtbf_days") * 86400
    if horizon_s / mtbf_s > MAX_FAILURES:
        raise table.error(
            "mtbf_days",
            f"{horizon_s / mtbf_s:,.0f} failures expected in the horizon (at most "
            f"{MAX_FAILURES:,}): use a longer time between failures or a shorter horizon",
        )
    return Failures(mtbf_s, table.positive("mttr_minutes") * 60, repair, shape)


def _sequencer_set(top: _Table, horizon_s: float) -> SequencerSet:
    table = top.table("set")
    assert table is not None
    table.unknown(
        {"stakes", "byzantine", "censors", "mtbf_days", "mttr_minutes", "repair", "shape"}
    )
    stakes = table.data.get("stakes")
    if (
        not isinstance(stakes, list)
        or not stakes
        or not all(isinstance(s, int) and not isinstance(s, bool) and s > 0 for s in stakes)
    ):
        raise table.error("stakes", f"expected a list of positive integers, got {stakes!r}")
    names = tuple(f"n{i + 1}" for i in range(len(stakes)))
    groups = []
    for group in top.tables("groups"):
        group.unknown({"name", "members", "mtbf_days", "mttr_minutes", "repair", "shape"})
        gname = group.data.get("name", group.path)
        groups.append(
            Group(str(gname), _members(group, "members", names), _failures(group, horizon_s))
        )
    return SequencerSet(
        names=names,
        stakes=tuple(stakes),
        failures=_failures(table, horizon_s),
        groups=tuple(groups),
        byzantine=_members(table, "byzantine", names, required=False),
        censors=_members(table, "censors", names, required=False),
    )


def _members(
    table: _Table, key: str, names: tuple[str, ...], required: bool = True
) -> tuple[int, ...]:
    value = table.data.get(key, None if required else [])
    if not isinstance(value, list) or (required and not value):
        raise table.error(key, f"expected a list of node names like {names[0]!r}, got {value!r}")
    found = []
    for item in value:
        if item not in names:
            raise table.error(key, f"{item!r} is not a node (nodes: {', '.join(names)})")
        found.append(names.index(item))
    return tuple(sorted(set(found)))


def _protocol(table: _Table | None) -> Protocol:
    if table is None:
        return Protocol()
    table.unknown({f for f in Protocol.__dataclass_fields__})
    d = Protocol()
    return Protocol(
        recovery_s=table.number("recovery_s", d.recovery_s),
        block_time_s=table.positive("block_time_s", d.block_time_s),
        round_timeout_s=table.number("round_timeout_s", d.round_timeout_s),
        reputation=table.boolean("reputation", d.reputation),
        reputation_window=table.integer("reputation_window", d.reputation_window, 1),
        forced_inclusion=table.boolean("forced_inclusion", d.forced_inclusion),
        inclusion_deadline=table.integer("inclusion_deadline", d.inclusion_deadline, 1),
    )


def _escape(top: _Table) -> float:
    table = top.table("escape")
    assert table is not None
    table.unknown({"forced_inclusion_delay_hours"})
    return table.positive("forced_inclusion_delay_hours") * 3600


def _exposure(top: _Table) -> Exposure:
    table = top.table("exposure")
    assert table is not None
    table.unknown(
        {
            "annual_volatility",
            "oracle_grace_s",
            "user_reaction_s",
            "liquidation_penalty",
            "positions",
        }
    )
    positions = []
    for entry in table.tables("positions"):
        entry.unknown({"notional", "leverage", "side", "liquidation_threshold"})
        leverage = entry.number("leverage", low=1.0)
        threshold = entry.positive("liquidation_threshold", 0.9 / leverage)
        positions.append(
            Position(
                notional=entry.positive("notional"),
                leverage=leverage,
                side=entry.choice("side", "long", SIDES),
                liquidation_threshold=threshold,
            )
        )
    if not positions:
        raise table.error("positions", "expected at least one [[exposure.positions]]")
    return Exposure(
        annual_volatility=table.number("annual_volatility"),
        oracle_grace_s=table.number("oracle_grace_s", 0.0),
        user_reaction_s=table.positive("user_reaction_s", 1800.0),
        liquidation_penalty=table.number("liquidation_penalty", 0.05),
        positions=tuple(positions),
    )
