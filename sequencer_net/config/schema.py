"""Reading one TOML file into checked values, every error naming the file and the dotted key.

The loaders of genesis.toml, node.toml and cluster specs are written against :class:`Table`
and the value checkers here, so a typo anywhere becomes one :class:`ConfigError` such as
``genesis.toml: validators[1].power: expected an integer, got a string ('3')``.
"""

from __future__ import annotations

import ipaddress
import re
import tomllib
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, NamedTuple, TypeVar

from ..crypto import PUBLIC_KEY_SIZE

NAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,31}")
NAME_RULE = "1-32 letters, digits, '.', '_' or '-', starting with a letter or digit"

T = TypeVar("T")


class ConfigError(Exception):
    """A config file is missing or invalid; the message names the file and the key."""


class Endpoint(NamedTuple):
    """A checked host (an IP address, IPv6 without brackets, or a lower-case hostname;
    ``localhost`` as 127.0.0.1) and port, ready to bind or dial: the runtime never parses an
    address string itself."""

    host: str
    port: int


def read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as f:
            return tomllib.load(f)
    except FileNotFoundError:
        raise ConfigError(f"{path}: file not found") from None
    except IsADirectoryError:
        raise ConfigError(f"{path}: is a directory, expected a TOML file") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror or exc}") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: invalid TOML: {exc}") from None
    except RecursionError:  # tomllib parses nested arrays and tables by recursion
        raise ConfigError(f"{path}: invalid TOML: nested too deeply") from None


def describe(value: object) -> str:
    """What a TOML value is, for "expected X, got Y" messages."""
    kind = {
        bool: "a boolean",
        int: "an integer",
        float: "a float",
        str: "a string",
        list: "an array",
        dict: "a table",
    }.get(type(value), "a date/time")
    return kind if isinstance(value, list | dict) else f"{kind} ({value!r})"


class Table:
    """One TOML table being read; every error names the file and the dotted key."""

    def __init__(self, file: Path, data: Mapping[str, Any], where: str = "") -> None:
        self.file = file
        self.data = data
        self.where = where

    def error(self, key: str, problem: str) -> ConfigError:
        return ConfigError(f"{self.file}: {self.where}{key}: {problem}")

    def _get(self, key: str, kind: type[T], what: str, default: T | None) -> T:
        if key not in self.data:
            if default is None:
                raise self.error(key, f"missing (expected {what})")
            return default
        value = self.data[key]
        # bool is an int subclass in Python, but `power = true` is a mistake in TOML.
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            raise self.error(key, f"expected {what}, got {describe(value)}")
        return value

    def string(self, key: str, default: str | None = None) -> str:
        return self._get(key, str, "a string", default)

    def integer(self, key: str, default: int | None = None) -> int:
        return self._get(key, int, "an integer", default)

    def integers(self, key: str, default: list[int] | None = None) -> list[int]:
        values = self._get(key, list, "an array of integers", default)
        for i, value in enumerate(values):
            if not isinstance(value, int) or isinstance(value, bool):
                raise self.error(f"{key}[{i}]", f"expected an integer, got {describe(value)}")
        return values

    def strings(self, key: str) -> list[str]:
        values = self._get(key, list, "an array of strings", [])
        for i, value in enumerate(values):
            if not isinstance(value, str):
                raise self.error(f"{key}[{i}]", f"expected a string, got {describe(value)}")
        return values

    def table(self, key: str) -> Table:
        """A sub-table; absent means empty, since every sub-table here is optional."""
        return Table(self.file, self._get(key, dict, "a table", {}), f"{self.where}{key}.")

    def tables(self, key: str) -> list[Table]:
        items = self._get(key, list, f"an array of tables ([[{key}]])", None)
        for i, item in enumerate(items):
            if not isinstance(item, dict):
                raise self.error(f"{key}[{i}]", f"expected a table, got {describe(item)}")
        return [Table(self.file, t, f"{self.where}{key}[{i}].") for i, t in enumerate(items)]

    def only(self, known: Iterable[str]) -> None:
        """Refuse unknown keys: a misspelt optional key must not be silently ignored."""
        allowed = list(known)
        for key in self.data:
            if key not in allowed:
                raise self.error(key, f"unknown key (expected one of: {', '.join(allowed)})")


def load_table(path: Path) -> Table:
    """The top-level table of the TOML file at ``path``."""
    return Table(path, read_toml(path))


def name(table: Table, key: str) -> str:
    value = table.string(key)
    if not NAME_PATTERN.fullmatch(value):
        raise table.error(key, f"{value!r} is not a valid name: use {NAME_RULE}")
    return value


HOSTNAME_LABEL = re.compile(r"(?!-)[A-Za-z0-9-]{1,63}(?<!-)")


def host_problem(host: str) -> str | None:
    """Why ``host`` (no port, IPv6 without brackets) cannot be dialled, or None: it must be
    an IP address other than a wildcard, or a DNS hostname."""
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        labels = host.rstrip(".").split(".")
        if len(host) > 253 or not all(HOSTNAME_LABEL.fullmatch(label) for label in labels):
            return f"{host!r} is neither an IP address nor a hostname"
        return None
    if ip.is_unspecified:
        return f"{ip} means every interface, which nobody can dial"
    return None


def address(
    table: Table, key: str, *, loopback_only: bool = False, wildcard: bool = False
) -> Endpoint:
    """Parse host:port (IPv6 as [::1]:port): an IP address or a DNS hostname.

    ``loopback_only`` is for ports that must never be reachable from another machine (the
    admin API). A wildcard host (0.0.0.0, [::]) means "every interface": fine to listen on
    (``wildcard``), but no peer or client can dial it, so an advertised address refuses it."""
    text = table.string(key)
    host, sep, port_text = text.rpartition(":")
    if not sep or not host or not port_text.isdigit():
        raise table.error(key, f"{text!r} is not host:port, e.g. 127.0.0.1:26656")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    elif ":" in host:
        raise table.error(key, f"{text!r}: write IPv6 hosts in brackets, e.g. [::1]:26656")
    port = int(port_text)
    if not 1 <= port <= 65535:
        raise table.error(key, f"{text!r}: port must be 1..65535")
    if host.lower() == "localhost":
        return Endpoint("127.0.0.1", port)
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        ip = None
    if loopback_only and (ip is None or not ip.is_loopback):
        raise table.error(
            key,
            f"{text!r}: host must be a loopback address (127.0.0.0/8, ::1 or localhost); "
            "this port is never bound to another interface, since whoever reaches it "
            "controls the node",
        )
    if ip is None:
        labels = host.rstrip(".").split(".")
        if len(host) > 253 or not all(HOSTNAME_LABEL.fullmatch(label) for label in labels):
            raise table.error(key, f"{text!r}: {host!r} is neither an IP address nor a hostname")
        return Endpoint(host.rstrip(".").lower(), port)
    if ip.is_unspecified and not wildcard:
        raise table.error(
            key,
            f"{text!r}: {ip} means every interface, which nobody can dial; give the address "
            "others reach this node at (listen on every interface with peer_listen or "
            "client_listen in node.toml)",
        )
    return Endpoint(str(ip), port)


def public_key(table: Table, key: str) -> bytes:
    text = table.string(key)
    try:
        raw = bytes.fromhex(text)
    except ValueError:
        raw = b""
    if len(raw) != PUBLIC_KEY_SIZE:
        raise table.error(
            key, f"expected {2 * PUBLIC_KEY_SIZE} hex digits (an Ed25519 public key), got {text!r}"
        )
    return raw


def refuse_duplicate(table: Table, key: str, value: object, seen: dict[object, str]) -> None:
    """Record ``value`` under ``key``, or fail naming where it was seen first."""
    if value in seen:
        raise table.error(key, f"duplicate: already used by {seen[value]}")
    seen[value] = f"{table.where}{key}"


def resolve(base: Path, text: str) -> Path:
    """A path from a config file, relative to that file's directory."""
    return (base / Path(text).expanduser()).resolve()
