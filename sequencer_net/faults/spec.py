"""Fault behaviours and their spec strings ("mute", "delay 200", "censor sender=alice").

One frozen dataclass per behaviour, so the layer can match on them and a spec written back
with ``str()`` parses to the same fault (node.toml, the admin API and `fault list` all carry
spec strings). A bad spec is one :class:`FaultSpecError` line naming the behaviour and the
forms it accepts, because it is read by a person at a terminal or in a config file.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import ClassVar, Literal

from .. import codec
from ..messages import ChunkRequest, Message, SyncRequest
from ..types import MAX_NAME, Tx

MAX_DELAY_MS = 60_000
CENSOR_FIELDS = ("sender", "namespace", "prefix")
FORMS = {
    "mute": "mute",
    "withhold": "withhold",
    "equivocate": "equivocate",
    "garbage": "garbage",
    "amnesia": "amnesia",
    "delay": "delay MS",
    "drop": "drop FRACTION",
    "crash": "crash HEIGHT",
    "censor": "censor sender=X|namespace=X|prefix=HEX",
    "leak-shares": "leak-shares",
    "frontrun": "frontrun PREFIX_HEX",
}
ACCEPTED = ", ".join(FORMS.values())
BEHAVIOURS = tuple(FORMS)


class FaultSpecError(ValueError):
    """A fault spec that does not parse; the message is one line meant for a person."""


@dataclass(frozen=True)
class Mute:
    """Say nothing: no proposal, vote, chunk, evidence or sync answer. The node still asks
    for the batches and chunks it missed, so it follows the chain like a silent observer
    would; a request carries no opinion a peer could count."""

    behaviour: ClassVar[str] = "mute"

    def __str__(self) -> str:
        return self.behaviour

    @staticmethod
    def lets_out(message: Message) -> bool:
        return isinstance(message, SyncRequest | ChunkRequest)


@dataclass(frozen=True)
class Withhold:
    """Never send its own votes, nor the commit certificates that hold them (sync answers)."""

    behaviour: ClassVar[str] = "withhold"

    def __str__(self) -> str:
        return self.behaviour


@dataclass(frozen=True)
class Equivocate:
    """Double-propose to two halves of the set and double-vote to everyone."""

    behaviour: ClassVar[str] = "equivocate"

    def __str__(self) -> str:
        return self.behaviour


@dataclass(frozen=True)
class Garbage:
    """Periodically send malformed frames and badly signed votes."""

    behaviour: ClassVar[str] = "garbage"

    def __str__(self) -> str:
        return self.behaviour


@dataclass(frozen=True)
class Amnesia:
    """Once: forget the sign state right after the next own proposal, and propose again.
    Having fired, the fault is gone (set it again for another double proposal)."""

    behaviour: ClassVar[str] = "amnesia"

    def __str__(self) -> str:
        return self.behaviour


@dataclass(frozen=True)
class Delay:
    ms: int
    behaviour: ClassVar[str] = "delay"

    def __str__(self) -> str:
        return f"delay {self.ms}"


@dataclass(frozen=True)
class Drop:
    fraction: float
    behaviour: ClassVar[str] = "drop"

    def __str__(self) -> str:
        return f"drop {self.fraction:g}"


@dataclass(frozen=True)
class Crash:
    height: int
    behaviour: ClassVar[str] = "crash"

    def __str__(self) -> str:
        return f"crash {self.height}"


@dataclass(frozen=True)
class Censor:
    """Omit and stop relaying transactions whose sender, namespace or payload prefix match."""

    field: Literal["sender", "namespace", "prefix"]
    value: str
    behaviour: ClassVar[str] = "censor"

    def __str__(self) -> str:
        return f"censor {self.field}={self.value}"

    def matches(self, encoded: bytes) -> bool:
        """True for an encoded transaction this filter censors (malformed ones never match:
        the replica refuses those by itself)."""
        try:
            tx = codec.decode(encoded, Tx)
        except codec.DecodeError:
            return False
        if self.field == "sender":
            return tx.sender == self.value
        if self.field == "namespace":
            return tx.namespace == self.value
        return tx.payload.startswith(bytes.fromhex(self.value))


@dataclass(frozen=True)
class LeakShares:
    """Release this validator's decryption shares for the encrypted transactions of its own
    chunks as it sends them, before any commit (private sequencing; slashable evidence)."""

    behaviour: ClassVar[str] = "leak-shares"

    def __str__(self) -> str:
        return self.behaviour


@dataclass(frozen=True)
class Frontrun:
    """Read pending transactions; before each whose payload starts with ``prefix`` (hex),
    insert one of our own and hold the victim back until ours commits (faults/frontrun.py)."""

    prefix: str
    behaviour: ClassVar[str] = "frontrun"

    def __str__(self) -> str:
        return f"frontrun {self.prefix}"


Fault = (
    Mute
    | Withhold
    | Equivocate
    | Garbage
    | Amnesia
    | Delay
    | Drop
    | Crash
    | Censor
    | LeakShares
    | Frontrun
)


def parse_fault(text: str) -> Fault:
    """Parse one spec string, e.g. ``"drop 0.3"``; raises :class:`FaultSpecError`."""
    words = text.split()
    if not words:
        raise FaultSpecError(f"empty fault spec; accepted: {ACCEPTED}")
    behaviour, args = words[0], words[1:]
    parser = _PARSERS.get(behaviour)
    if parser is None:
        raise FaultSpecError(f"unknown fault behaviour {behaviour!r}; accepted: {ACCEPTED}")
    expected = 0 if FORMS[behaviour] == behaviour else 1
    if len(args) != expected:
        problem = "takes no parameter" if expected == 0 else "takes exactly one parameter"
        raise FaultSpecError(f"{_usage(behaviour)}: {behaviour} {problem}")
    try:
        return parser(args)
    except ValueError as exc:
        raise FaultSpecError(f"{_usage(behaviour)}: {exc}") from None


def check_behaviour(name: str) -> str:
    """``name`` if it is a known behaviour (for `fault clear`), else FaultSpecError."""
    if name not in FORMS:
        raise FaultSpecError(f"unknown fault behaviour {name!r}; accepted: {', '.join(FORMS)}")
    return name


def _usage(behaviour: str) -> str:
    return f"bad {behaviour!r} fault (form: {FORMS[behaviour]})"


def _int(text: str, what: str, low: int, high: int) -> int:
    if not text.isdigit() or not low <= int(text) <= high:
        raise ValueError(f"{what} must be a whole number from {low} to {high}, got {text!r}")
    return int(text)


def _fraction(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0 < value <= 1:
        raise ValueError(f"FRACTION must be a number above 0 and at most 1, got {text!r}")
    return value


def _censor(text: str) -> Censor:
    field, sep, value = text.partition("=")
    if not sep or field not in CENSOR_FIELDS or not value:
        raise ValueError(f"expected sender=X, namespace=X or prefix=HEX, got {text!r}")
    if field == "prefix":
        try:
            bytes.fromhex(value)
        except ValueError:
            raise ValueError(
                f"prefix must be hex digits, e.g. prefix=deadbeef, got {value!r}"
            ) from None
        value = value.lower()
    elif len(value) > MAX_NAME:
        raise ValueError(f"{field} must be at most {MAX_NAME} characters")
    return Censor(field, value)  # type: ignore[arg-type]  # checked against CENSOR_FIELDS


def _hex_prefix(text: str) -> str:
    try:
        raw = bytes.fromhex(text)
    except ValueError:
        raw = b""
    if not raw:
        raise ValueError(f"PREFIX_HEX must be hex digits, e.g. 4255593a for 'BUY:', got {text!r}")
    return text.lower()


_PARSERS: dict[str, Callable[[list[str]], Fault]] = {
    "mute": lambda _: Mute(),
    "withhold": lambda _: Withhold(),
    "equivocate": lambda _: Equivocate(),
    "garbage": lambda _: Garbage(),
    "amnesia": lambda _: Amnesia(),
    "delay": lambda args: Delay(_int(args[0], "MS", 1, MAX_DELAY_MS)),
    "drop": lambda args: Drop(_fraction(args[0])),
    "crash": lambda args: Crash(_int(args[0], "HEIGHT", 1, 2**63 - 1)),
    "censor": lambda args: _censor(args[0]),
    "leak-shares": lambda _: LeakShares(),
    "frontrun": lambda args: Frontrun(_hex_prefix(args[0])),
}
