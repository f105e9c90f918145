"""The censorship metrics document: what a node measured, as its status reports it and as it
writes it to DATA_DIR/censorship.json about once a second and at shutdown.

The node builds it with :func:`document` and stores it with :func:`write`; readers take it
through :func:`read` (a file) or :func:`checked` (a live status), so its shape is stated once:

    {"forced_inclusion": bool, "inclusion_deadline": int, "inclusion_grace_ms": int,
     "inclusion_delay": {"count": int,
                         "heights": {"p50": n, "p99": n, "max": n}, "ms": {...}},
     "proposers": {NAME: {"proposals": int, "failed_rounds": int, "overdue_omitted": int}},
     "inclusion_nil_prevotes": int, "excluded_proposers": [NAME, ...],
     "namespaces": {NS: {"included": int, "ms": {...}, "omitted": int}}}

where "namespaces" has one entry per registered namespace (fair shares; empty without a
registry): transactions included, inclusion delay per chunk entry, and proposals seen leaving
out an overdue chunk of it; each n is a number, or null while nothing was included yet.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..percentiles import KEYS as PERCENTILES
from ..percentiles import summary

if TYPE_CHECKING:
    from ..genesis import ChainParams
    from . import CensorshipStats

FILENAME = "censorship.json"
COUNTS = ("proposals", "failed_rounds", "overdue_omitted")


class MetricsError(ValueError):
    """A metrics document that cannot be read or does not have the documented shape."""


def document(
    params: ChainParams,
    stats: CensorshipStats,
    names: Mapping[bytes, str],
    excluded: Iterable[bytes],
    namespaces: Mapping[int, str] | None = None,
) -> dict[str, Any]:
    """The document for ``stats`` under the chain's rules; validators shown by name, and the
    registered ``namespaces`` (id -> name) each with its own figures."""

    def name(key: bytes) -> str:
        return names.get(key, key.hex()[:12])

    return {
        "forced_inclusion": params.forced_inclusion,
        "inclusion_deadline": params.inclusion_deadline,
        "inclusion_grace_ms": params.inclusion_grace_ms,
        "inclusion_delay": {
            "count": stats.included,
            "heights": summary(stats.delay_heights),
            "ms": summary(stats.delay_ms),
        },
        "proposers": {
            name(key): asdict(counts)
            for key, counts in sorted(stats.proposers.items(), key=lambda kv: name(kv[0]))
        },
        "inclusion_nil_prevotes": stats.inclusion_nil_prevotes,
        "excluded_proposers": sorted(name(key) for key in excluded),
        "namespaces": {
            ns_name: {
                "included": stats.ns_included.get(ns_id, 0),
                "ms": summary(stats.ns_delay_ms.get(ns_id, ())),
                "omitted": stats.ns_omitted.get(ns_id, 0),
            }
            for ns_id, ns_name in sorted((namespaces or {}).items(), key=lambda kv: kv[1])
        },
    }


def path(data_dir: Path) -> Path:
    return data_dir / FILENAME


def write(data_dir: Path, metrics: Mapping[str, Any]) -> Path:
    """Replace DATA_DIR/censorship.json atomically, so a reader of a stopped node's file gets
    the last whole document; OSError if it cannot."""
    target = path(data_dir)
    temporary = target.with_suffix(".tmp")
    temporary.write_text(json.dumps(metrics))
    os.replace(temporary, target)
    return target


def read(file: Path) -> dict[str, Any]:
    """A censorship.json, checked; MetricsError naming the file if it is unreadable or bad."""
    try:
        value = json.loads(file.read_text())
    except OSError as exc:
        raise MetricsError(f"{file}: cannot read it: {exc.strerror or exc}") from None
    except ValueError as exc:
        raise MetricsError(f"{file}: not valid JSON ({exc})") from None
    return checked(value, str(file))


def checked(value: object, where: str) -> dict[str, Any]:
    """The document if it has the documented shape: a bad file is one clear error, not a
    KeyError halfway through a table."""
    problem = _problem(value)
    if problem:
        raise MetricsError(f"{where}: malformed censorship metrics: {problem}")
    assert isinstance(value, dict)
    return value


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: object) -> bool:
    return value is None or _is_int(value) or isinstance(value, float)


def _problem(value: object) -> str | None:
    if not isinstance(value, dict):
        return "expected an object"
    if not isinstance(value.get("forced_inclusion"), bool):
        return "forced_inclusion must be true or false"
    for key in ("inclusion_deadline", "inclusion_nil_prevotes"):
        if not _is_int(value.get(key)):
            return f"{key} must be an integer"
    delay = value.get("inclusion_delay")
    if not isinstance(delay, dict) or not _is_int(delay.get("count")):
        return "inclusion_delay must be an object with an integer count"
    for unit in ("heights", "ms"):
        stats = delay.get(unit)
        if not isinstance(stats, dict) or not all(
            p in stats and _is_number(stats[p]) for p in PERCENTILES
        ):
            return f"inclusion_delay.{unit} must hold p50, p99 and max (numbers, or null)"
    proposers = value.get("proposers")
    if not isinstance(proposers, dict):
        return "proposers must be an object"
    for name, counts in proposers.items():
        if not isinstance(counts, dict) or not all(_is_int(counts.get(k)) for k in COUNTS):
            return f"proposers.{name} must hold integers {', '.join(COUNTS)}"
    excluded = value.get("excluded_proposers")
    if not isinstance(excluded, list) or not all(isinstance(n, str) for n in excluded):
        return "excluded_proposers must be a list of names"
    return _namespaces_problem(value.get("namespaces", {}))


def _namespaces_problem(namespaces: object) -> str | None:
    """The per-namespace part (absent in documents from before fair shares: none)."""
    if not isinstance(namespaces, dict):
        return "namespaces must be an object"
    for ns, figures in namespaces.items():
        if not (
            isinstance(figures, dict)
            and _is_int(figures.get("included"))
            and _is_int(figures.get("omitted"))
            and isinstance(figures.get("ms"), dict)
            and all(p in figures["ms"] and _is_number(figures["ms"][p]) for p in PERCENTILES)
        ):
            return f"namespaces.{ns} must hold integers included, omitted and ms percentiles"
    return None
