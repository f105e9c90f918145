"""Argument types that refuse at parse time what a command could not use: integers out of
range (negative ones, and ones past what a later step can hold, such as msgpack's 64 bits),
floats that are not finite, and a ``--node`` that is neither a name nor a HOST:PORT. argparse
turns each refusal into one usage line and exit status 2, never a traceback."""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable

MAX_INT = 2**63 - 1  # what a node's schema takes (heights, seeds) and a C index can hold
MAX_SECONDS = 10.0**9  # about 30 years: finite, and far past any run
MAX_TOTAL_STAKE = 2**60  # validators.MAX_TOTAL_POWER, without importing it to build a parser
MAX_RATE = 10_000_000  # transactions per second a load may ask for
MAX_GST_MS = 3_600_000  # a simulated hour before the network stabilises
MAX_SIM_HEIGHTS = 100_000


def integer(low: int, high: int = MAX_INT) -> Callable[[str], int]:
    """An integer in ``low..high``."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"must be an integer from {low} to {high}, got {text}")
        return value

    return parse


def number(low: float, high: float = MAX_SECONDS, low_open: bool = False) -> Callable[[str], float]:
    """A finite number in ``low..high`` (above ``low`` if ``low_open``)."""

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
        below = value <= low if low_open else value < low
        if not math.isfinite(value) or below or value > high:
            above = "above" if low_open else "from"
            raise argparse.ArgumentTypeError(
                f"must be a number {above} {low:g} and at most {high:g}, got {text}"
            )
        return value

    return parse


def node_arg(text: str) -> str:
    """A node name, or the HOST:PORT of a node's client API (anything with a colon)."""
    from ..client import parse_address

    if not text.strip():
        raise argparse.ArgumentTypeError("an empty node name")
    if ":" in text:
        try:
            parse_address(text)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None
    return text
