"""The evidence log: ``<data_dir>/evidence.jsonl``, one JSON object per committed slash.

The log is for people and scripts (``jq``), so every record spells out both signed messages
and names the validators. It is also self-certifying: ``evidence`` holds the canonical bytes
of the evidence, and :func:`verify_records` re-derives every readable field from those bytes
and the genesis file, so no field that follows from them can be edited unnoticed. The chain
facts (commit height, time, reporter) can only be checked for consistency there: proving
them takes the chain or another node's copy. The schema is in ``docs/evidence-log.md``.

The file is append-only. A record is written as one line, then flushed and fsync'd; a crash
mid-write can leave only an unterminated, unparseable last line, which :meth:`EvidenceLog.ids`
ignores and :meth:`EvidenceLog.append` cuts off before writing, so the node's refill from its
chain store puts the lost record back whole.
"""

from __future__ import annotations

import dataclasses
import enum
import json
import os
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, BinaryIO

from . import codec
from .evidence import SlashRecord
from .genesis import Genesis
from .threshold.leak import release_problem
from .types import DuplicateProposal, EarlyRelease, Evidence, Proposal, Vote, evidence_id

FILENAME = "evidence.jsonl"
# Where an evidence id is shown short (node.log, tables, messages, demos), it is this many hex
# digits everywhere, so one grep finds it in every place; `evidence show` takes any prefix.
SHOWN_ID_CHARS = 16


def shown_id(evidence_id: bytes | str) -> str:
    """An evidence id (bytes, or the log's full hex) as it is shown short."""
    text = evidence_id.hex() if isinstance(evidence_id, bytes) else evidence_id
    return text[:SHOWN_ID_CHARS]


class EvidenceLogError(Exception):
    """An evidence log that cannot be read; the message names the file and the line."""


@dataclass(frozen=True)
class Problem:
    """Why one record failed verification. ``index`` is its position in the verified list
    (0-based; for :func:`read_log` output, the line number minus one)."""

    index: int
    id: str
    message: str


def evidence_kind(evidence: Evidence) -> str:
    """``duplicate_proposal``, ``duplicate_prevote``, ``duplicate_precommit`` or
    ``early_release``."""
    if isinstance(evidence, EarlyRelease):
        return "early_release"
    if isinstance(evidence, DuplicateProposal):
        return "duplicate_proposal"
    return f"duplicate_{evidence.first.kind.name.lower()}"


def iso_time(timestamp_ms: int) -> str:
    """ISO-8601 UTC with milliseconds, e.g. ``2025-01-01T12:00:00.123Z``."""
    moment = datetime.fromtimestamp(timestamp_ms / 1000, UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _plain(value: object) -> object:
    """A message field as JSON: bytes as hex, vote kinds by name."""
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, enum.Enum):
        return value.name.lower()
    return value


def message_json(message: Vote | Proposal) -> dict[str, Any]:
    """Every field of a signed message, in declaration order."""
    return {f.name: _plain(getattr(message, f.name)) for f in dataclasses.fields(message)}


def release_json(evidence: EarlyRelease) -> dict[str, Any]:
    """The signed release behind early-release evidence: who, the height it claims, which
    transaction, how many shares."""
    return {
        "validator": evidence.offender.hex(),
        "claimed_height": evidence.height,
        "tx_id": evidence.tx_id.hex(),
        "shares": len(evidence.leaked.shares),
        "signature": evidence.shares.signature.hex(),
    }


def _party(public_key: bytes, names: Mapping[bytes, str]) -> dict[str, Any]:
    return {"name": names.get(public_key), "public_key": public_key.hex()}


def make_record(record: SlashRecord, chain_id: str, names: Mapping[bytes, str]) -> dict[str, Any]:
    """The log line for ``record``: readable fields first, canonical evidence bytes beside them
    so anyone can check the readable part against what was signed."""
    evidence = record.evidence
    if isinstance(evidence, EarlyRelease):
        round_, messages = None, [release_json(evidence)]
    else:
        round_ = evidence.first.round
        messages = [message_json(evidence.first), message_json(evidence.second)]
    return {
        "id": evidence_id(evidence).hex(),
        "chain_id": chain_id,
        "time": iso_time(record.timestamp_ms),
        "time_ms": record.timestamp_ms,
        "kind": evidence_kind(evidence),
        "height": evidence.height,
        "round": round_,
        "offender": _party(evidence.offender, names),
        "messages": messages,
        "evidence": codec.encode(evidence).hex(),
        "stake_before": record.stake_before,
        "stake_after": record.stake_after,
        "committed_height": record.committed_height,
        "reporter": _party(record.reporter, names),
    }


# ---- the file ----------------------------------------------------------------------------


def _parse(line: bytes) -> dict[str, Any]:
    """The JSON object on ``line``; ValueError says why there is none."""
    try:
        value = json.loads(line)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"not valid JSON: {exc}") from None
    except RecursionError:  # json parses nested arrays and objects by recursion
        raise ValueError("not valid JSON: nested too deeply") from None
    if not isinstance(value, dict):
        raise ValueError("not a JSON object")
    return value


def _is_record(line: bytes) -> bool:
    try:
        _parse(line)
    except ValueError:
        return False
    return True


def _lines(path: Path, tolerate_torn_tail: bool) -> Iterator[tuple[int, dict[str, Any]]]:
    """(line number, record) for each line; a malformed line raises, naming file and line.
    With ``tolerate_torn_tail``, an unterminated last line that is not a JSON object (a write
    cut by a crash) is skipped instead."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise EvidenceLogError(f"{path}: file not found") from None
    except IsADirectoryError:
        raise EvidenceLogError(f"{path}: is a directory, expected an evidence log") from None
    except OSError as exc:
        raise EvidenceLogError(f"{path}: cannot read: {exc.strerror or exc}") from None
    lines = data.split(b"\n")
    if not lines[-1] or (tolerate_torn_tail and not _is_record(lines[-1])):
        lines.pop()  # the empty rest after the final newline, or a torn write
    for number, line in enumerate(lines, start=1):
        try:
            record = _parse(line)
        except ValueError as exc:
            raise EvidenceLogError(f"{path}: line {number}: {exc}") from None
        yield number, record


def read_log(path: Path | str) -> list[dict[str, Any]]:
    """Every record of the log at ``path``, in file order (record i is line i + 1)."""
    return [record for _, record in _lines(Path(path), tolerate_torn_tail=False)]


class EvidenceLog:
    """Appends records to one node's evidence log."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)

    def ids(self) -> set[str]:
        """Ids already logged, so a restarted node refills only what is missing. An
        unterminated last line (a write cut by a crash) does not count."""
        if not self.path.exists():
            return set()
        ids: set[str] = set()
        for number, record in _lines(self.path, tolerate_torn_tail=True):
            if not isinstance(record.get("id"), str):
                raise EvidenceLogError(f"{self.path}: line {number}: record has no id")
            ids.add(record["id"])
        return ids

    def append(self, records: Iterable[Mapping[str, Any]]) -> None:
        """Write each record as one line, durably, before returning."""
        lines = b"".join(
            json.dumps(r, separators=(",", ":"), ensure_ascii=False).encode() + b"\n"
            for r in records
        )
        if not lines:
            return
        created = not self.path.exists()
        with self.path.open("a+b") as f:  # readable too: a torn tail is found by reading
            _mend_tail(f)
            f.write(lines)
            f.flush()
            os.fsync(f.fileno())
        if created:  # the new directory entry must survive a crash too
            directory = os.open(self.path.parent, os.O_RDONLY)
            try:
                os.fsync(directory)
            finally:
                os.close(directory)


def _mend_tail(f: BinaryIO) -> None:
    """Make the file end in a newline before appending. An unterminated last line that is not
    a JSON object is a write cut by a crash: drop it (the node's refill rewrites that record
    whole). One that is a whole object (a hand-edited file) only gets its newline. The log
    holds at most one line per validator (each is slashed once), so reading it all is cheap."""
    f.seek(0)
    data = f.read()
    if not data or data.endswith(b"\n"):
        return
    start = data.rfind(b"\n") + 1
    if not _is_record(data[start:]):
        f.truncate(start)
    else:
        f.write(b"\n")


# ---- offline verification ----------------------------------------------------------------


def _differences(path: str, recorded: object, expected: object) -> Iterator[str]:
    """Where ``recorded`` differs from ``expected``, as dotted paths with both values."""
    if isinstance(expected, dict) and isinstance(recorded, dict):
        for key in expected:
            if key not in recorded:
                yield f"{path}.{key}: missing"
            else:
                yield from _differences(f"{path}.{key}", recorded[key], expected[key])
        for key in recorded:
            if key not in expected:
                yield f"{path}.{key}: unexpected field"
    elif (
        isinstance(expected, list) and isinstance(recorded, list) and len(recorded) == len(expected)
    ):
        for i, (r, e) in enumerate(zip(recorded, expected, strict=True)):
            yield from _differences(f"{path}[{i}]", r, e)
    elif type(recorded) is not type(expected) or recorded != expected:
        yield f"{path}: recorded {_short(recorded)}, expected {_short(expected)}"


def _short(value: object, limit: int = 40) -> str:
    """A value for a one-line message: hex strings run to hundreds of characters."""
    text = json.dumps(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _integer(record: Mapping[str, Any], key: str) -> int:
    value = record.get(key)
    if type(value) is not int or value < 0:
        raise ValueError(f"{key}: expected a non-negative integer, got {json.dumps(value)}")
    return value


def _reporter_key(record: Mapping[str, Any]) -> bytes:
    reporter = record.get("reporter")
    text = reporter.get("public_key") if isinstance(reporter, dict) else None
    try:
        key = bytes.fromhex(text) if isinstance(text, str) else b""
    except ValueError:
        key = b""
    if len(key) != 32:
        raise ValueError(f"reporter.public_key: expected 64 hex digits, got {json.dumps(text)}")
    return key


def _decode(record: Mapping[str, Any]) -> SlashRecord:
    """The SlashRecord a log line claims to be, from its evidence bytes and numeric fields;
    ValueError says what is unreadable."""
    text = record.get("evidence")
    if not isinstance(text, str):
        raise ValueError("evidence: missing or not a hex string")
    try:
        evidence = codec.decode(bytes.fromhex(text), Evidence)
    except ValueError as exc:  # DecodeError included: it is a ValueError
        raise ValueError(f"evidence does not decode: {exc}") from None
    timestamp_ms = _integer(record, "time_ms")
    try:
        iso_time(timestamp_ms)
    except (OverflowError, ValueError, OSError):
        raise ValueError(f"time_ms: {timestamp_ms} is not a representable time") from None
    return SlashRecord(
        evidence,
        committed_height=_integer(record, "committed_height"),
        timestamp_ms=timestamp_ms,
        stake_before=_integer(record, "stake_before"),
        stake_after=_integer(record, "stake_after"),
        reporter=_reporter_key(record),
    )


def _rule_problems(slash: SlashRecord, genesis: Genesis) -> Iterator[str]:
    """The chain's rules, replayed from genesis: signatures, membership, stakes, age."""
    evidence, chain_id, params = slash.evidence, genesis.chain_id, genesis.params
    if isinstance(evidence, EarlyRelease):
        # Signature and shares need genesis alone; that the claimed height did not commit
        # the transaction was judged against the chain by every node that committed it.
        if not evidence.verify(chain_id):
            yield f"released shares: signature does not verify for chain {chain_id!r}"
        problem = release_problem(evidence, genesis.private)
        if problem:
            yield f"released shares: {problem}"
    else:
        for which, message in (("first", evidence.first), ("second", evidence.second)):
            if not message.verify(chain_id):
                yield f"{which} message: signature does not verify for chain {chain_id!r}"
    validators = genesis.validator_set
    offender = validators.get(evidence.offender)
    if offender is None:
        yield f"offender {evidence.offender.hex()} is not a genesis validator"
    else:
        if slash.stake_before != offender.power:
            yield (
                f"stake_before {slash.stake_before} is not {offender.name}'s genesis stake "
                f"{offender.power} (an offender is slashed once, from its genesis stake)"
            )
        try:
            after = validators.slash(offender.public_key, params.slash_fraction_ppm)
        except ValueError as exc:
            yield f"offender cannot be slashed: {exc}"
        else:
            power = next(v.power for v in after.validators if v.public_key == offender.public_key)
            if slash.stake_after != power:
                yield (
                    f"stake_after {slash.stake_after} is not {power}: {offender.power} slashed "
                    f"by {params.slash_fraction_ppm} ppm"
                )
    if validators.get(slash.reporter) is None:
        yield f"reporter {slash.reporter.hex()} is not a genesis validator"
    if evidence.height > slash.committed_height:
        yield (
            f"evidence from height {evidence.height} committed earlier, at {slash.committed_height}"
        )
    elif slash.committed_height - evidence.height > params.max_evidence_age:
        yield (
            f"evidence from height {evidence.height} committed at {slash.committed_height}: "
            f"older than max_evidence_age {params.max_evidence_age}"
        )


def _record_problems(record: Mapping[str, Any], genesis: Genesis) -> tuple[list[str], bytes]:
    """Problems with one record on its own, and its offender's key (empty if unreadable)."""
    try:
        slash = _decode(record)
    except ValueError as exc:
        return [str(exc)], b""
    names = {v.public_key: v.name for v in genesis.validators}
    expected = make_record(slash, genesis.chain_id, names)
    problems = [d.removeprefix(".") for d in _differences("", dict(record), expected)]
    problems += _rule_problems(slash, genesis)
    return problems, slash.evidence.offender


def verify_records(records: Iterable[Mapping[str, Any]], genesis: Genesis) -> list[Problem]:
    """Every problem found, re-verifying each record from its evidence bytes and ``genesis``
    alone: no node, no chain store. An empty list means every record verifies."""
    problems: list[Problem] = []
    first_id: dict[bytes, str] = {}  # offender key -> id of the first record slashing it
    for index, record in enumerate(records):
        record_id = record.get("id")
        shown = record_id if isinstance(record_id, str) else "?"
        messages, offender = _record_problems(record, genesis)
        if offender and offender in first_id and first_id[offender] != record_id:
            messages.append(
                f"offender already slashed by {shown_id(first_id[offender])}: a validator is "
                "tombstoned after its first slash"
            )
        if offender and isinstance(record_id, str):
            first_id.setdefault(offender, record_id)
        problems += [Problem(index, shown, m) for m in messages]
    return problems
