"""The tables more than one file holds: [timeouts], [params], [chain], ``[[namespaces]]`` and
``faults`` arrays.

genesis.toml and cluster specs share [timeouts] and [chain]; node.toml and cluster specs share
[params] and ``faults``. Each is read (and, for [chain], written) here once, so a rule about
one of them cannot differ between the files.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import fields
from typing import TYPE_CHECKING, Any, TypeVar

from ..consensus.config import Timeouts
from ..faults.spec import Fault, FaultSpecError, parse_fault
from ..genesis import ChainParams
from ..namespaces import Namespace, Registry
from ..node_params import NodeParams
from ..validators import PPM
from .schema import ConfigError, Table, describe

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

T = TypeVar("T", bound="DataclassInstance")


def _int_fields(table: Table, cls: type[T], minimum: Callable[[str], int]) -> T:
    """Build the all-int dataclass ``cls`` from ``table``: given keys override the defaults."""
    names = [f.name for f in fields(cls)]
    table.only(names)
    values = {name: table.integer(name) for name in names if name in table.data}
    for name, value in values.items():
        if value < minimum(name):
            raise table.error(name, f"must be at least {minimum(name)}, got {value}")
    try:
        return cls(**values)
    except ValueError as exc:  # a rule the dataclass adds later than this loader
        raise ConfigError(f"{table.file}: {table.where.rstrip('.')}: {exc}") from None


def timeouts(table: Table) -> Timeouts:
    return _int_fields(table, Timeouts, lambda name: 0 if name.endswith("_delta_ms") else 1)


def params(table: Table) -> NodeParams:
    # Every NodeParams field is a limit or an interval; zero or less would stall the node.
    return _int_fields(table, NodeParams, lambda name: 1)


def chain_params(table: Table) -> ChainParams:
    """The [chain] table: slashing and inclusion rules, the same for every node."""
    switches = ("slashing", "forced_inclusion")
    counts = ("max_evidence_age", "inclusion_deadline", "inclusion_grace_ms", "reputation_window")
    table.only(["slash_fraction", *counts, *switches])
    defaults = ChainParams()
    fraction = table.data.get("slash_fraction", defaults.slash_fraction_ppm / PPM)
    if (
        isinstance(fraction, bool)
        or not isinstance(fraction, int | float)
        or not 0 <= fraction <= 1
    ):
        raise table.error("slash_fraction", f"expected a number from 0 to 1, got {fraction!r}")
    flags = {name: table.data.get(name, getattr(defaults, name)) for name in switches}
    for name, flag in flags.items():
        if not isinstance(flag, bool):
            raise table.error(name, f"expected true or false, got {describe(flag)}")
    values = {name: table.integer(name, getattr(defaults, name)) for name in counts}
    for name, value in values.items():
        least = 0 if name in ("reputation_window", "inclusion_grace_ms") else 1
        if value < least:
            raise table.error(name, f"must be at least {least}, got {value}")
    return ChainParams(
        slash_fraction_ppm=round(fraction * PPM),
        max_evidence_age=values["max_evidence_age"],
        slashing=flags["slashing"],
        forced_inclusion=flags["forced_inclusion"],
        inclusion_deadline=values["inclusion_deadline"],
        inclusion_grace_ms=values["inclusion_grace_ms"],
        reputation_window=values["reputation_window"],
    )


def chain_document(params: ChainParams) -> dict[str, Any]:
    """The [chain] table as written: the inverse of :func:`chain_params`."""
    return {
        "slash_fraction": params.slash_fraction_ppm / PPM,
        "max_evidence_age": params.max_evidence_age,
        "slashing": params.slashing,
        "inclusion_deadline": params.inclusion_deadline,
        "inclusion_grace_ms": params.inclusion_grace_ms,
        "reputation_window": params.reputation_window,
        "forced_inclusion": params.forced_inclusion,
    }


def faults(table: Table) -> tuple[Fault, ...]:
    """The ``faults`` array: spec strings such as "mute" or "delay 200"."""
    found = []
    for i, text in enumerate(table.strings("faults")):
        try:
            found.append(parse_fault(text))
        except FaultSpecError as exc:
            raise table.error(f"faults[{i}]", str(exc)) from None
    return tuple(found)


def namespaces(top: Table) -> tuple[Namespace, ...]:
    """The ``[[namespaces]]`` tables (genesis.toml and cluster specs): name, id, share and
    max_tx_bytes of each; none at all admits every namespace."""
    if "namespaces" not in top.data:
        return ()
    found = []
    for entry in top.tables("namespaces"):
        entry.only(["name", "id", "share", "max_tx_bytes"])
        share = entry.data.get("share")
        if isinstance(share, bool) or not isinstance(share, int | float):
            raise entry.error("share", f"expected a fraction of batch capacity, got {share!r}")
        try:
            found.append(
                Namespace(
                    entry.string("name"),
                    entry.integer("id"),
                    float(share),
                    entry.integer("max_tx_bytes"),
                )
            )
        except ValueError as exc:
            raise ConfigError(f"{entry.file}: {entry.where.rstrip('.')}: {exc}") from None
    try:
        Registry(found)
    except ValueError as exc:
        raise ConfigError(f"{top.file}: namespaces: {exc}") from None
    return tuple(found)


def namespaces_document(registry: tuple[Namespace, ...]) -> list[dict[str, Any]]:
    """The ``[[namespaces]]`` tables as written: the inverse of :func:`namespaces`."""
    return [
        {"name": n.name, "id": n.id, "share": n.share, "max_tx_bytes": n.max_tx_bytes}
        for n in registry
    ]
