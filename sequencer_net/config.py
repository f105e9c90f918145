"""The files a cluster runs from: genesis.toml, one node.toml per node, and cluster specs.

Every loader reads a whole file and checks it before anything starts, so a typo becomes one
:class:`ConfigError` naming the file and the offending key instead of a node that dies later
with a traceback. Unknown keys are refused too: a misspelt optional key would otherwise be
silently ignored. Writers use ``tomli_w`` and produce exactly what the loaders accept.

Addresses must be on loopback: this project runs local clusters only and never binds a port
reachable from other machines.
"""

from __future__ import annotations

import ipaddress
import os
import re
import secrets
import stat
import tomllib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any, NamedTuple, TypeVar

import tomli_w

from .consensus.config import Timeouts
from .crypto import PUBLIC_KEY_SIZE, PrivateKey
from .faults.spec import Fault, FaultSpecError, parse_fault
from .genesis import ChainParams, Genesis
from .replica import NodeParams
from .validators import PPM, Validator

DEFAULT_STAKE = 10
MAX_NODES = 100
NAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,31}")
NAME_RULE = "1-32 letters, digits, '.', '_' or '-', starting with a letter or digit"
SEED_SIZE = 32
ADMIN_TOKEN_BYTES = 32

T = TypeVar("T")


class ConfigError(Exception):
    """A config file is missing or invalid; the message names the file and the key."""


class SpecError(ValueError):
    """A cluster spec value out of range; ``key`` says which, for file and flag errors alike."""

    def __init__(self, key: str, problem: str) -> None:
        super().__init__(f"{key}: {problem}")
        self.key = key
        self.problem = problem


class Addresses(NamedTuple):
    """Where one validator listens: ``peer`` for other validators, ``client`` for clients."""

    peer: str
    client: str


@dataclass(frozen=True)
class GenesisFile:
    """A loaded genesis.toml: the consensus-relevant :class:`Genesis` plus where each
    validator listens (addresses are not part of consensus, so Genesis does not hold them)."""

    path: Path
    genesis: Genesis
    addresses: dict[str, Addresses]


@dataclass(frozen=True)
class NodeConfig:
    """A loaded node.toml with every path made absolute and every reference checked."""

    path: Path
    name: str
    genesis_file: GenesisFile
    key_file: Path
    key: PrivateKey
    data_dir: Path
    params: NodeParams = field(default_factory=NodeParams)
    faults: tuple[Fault, ...] = ()
    admin_address: str | None = None
    admin_token: str | None = None

    @property
    def genesis(self) -> Genesis:
        return self.genesis_file.genesis

    @property
    def addresses(self) -> dict[str, Addresses]:
        """Every validator's addresses by name, this node's own included."""
        return self.genesis_file.addresses


@dataclass(frozen=True)
class ClusterSpec:
    """What a user asks for: how many validators, their stakes, and shared settings.
    Empty ``stakes`` means DEFAULT_STAKE each; empty ``chain_id`` means the cluster name."""

    name: str
    nodes: int
    stakes: tuple[int, ...] = ()
    chain_id: str = ""
    timeouts: Timeouts = field(default_factory=Timeouts)
    params: NodeParams = field(default_factory=NodeParams)
    chain: ChainParams = field(default_factory=ChainParams)
    faults: Mapping[str, tuple[Fault, ...]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not NAME_PATTERN.fullmatch(self.name):
            raise SpecError("name", f"{self.name!r} is not valid: use {NAME_RULE}")
        if not 1 <= self.nodes <= MAX_NODES:
            raise SpecError("nodes", f"must be 1..{MAX_NODES}, got {self.nodes}")
        if self.stakes and len(self.stakes) != self.nodes:
            raise SpecError("stakes", f"{len(self.stakes)} stakes for {self.nodes} nodes")
        if any(s <= 0 for s in self.stakes):
            raise SpecError("stakes", f"must be positive integers, got {list(self.stakes)}")
        if not self.stakes:
            object.__setattr__(self, "stakes", (DEFAULT_STAKE,) * self.nodes)
        if not self.chain_id:
            object.__setattr__(self, "chain_id", self.name)
        if len(self.chain_id) > 64:
            raise SpecError("chain_id", f"must be 1..64 characters, got {len(self.chain_id)}")
        unknown = sorted(set(self.faults) - set(self.node_names))
        if unknown:
            raise SpecError(
                "nodes", f"no node {unknown[0]!r} in this cluster (nodes are n1..n{self.nodes})"
            )

    @property
    def node_names(self) -> list[str]:
        """n1..nN, the names the simulator uses too."""
        return [f"n{i}" for i in range(1, self.nodes + 1)]


# ---- reading ---------------------------------------------------------------------------------


def _read_toml(path: Path) -> dict[str, Any]:
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


def _describe(value: object) -> str:
    kind = {
        bool: "a boolean",
        int: "an integer",
        float: "a float",
        str: "a string",
        list: "an array",
        dict: "a table",
    }.get(type(value), "a date/time")
    return kind if isinstance(value, list | dict) else f"{kind} ({value!r})"


class _Table:
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
            raise self.error(key, f"expected {what}, got {_describe(value)}")
        return value

    def string(self, key: str, default: str | None = None) -> str:
        return self._get(key, str, "a string", default)

    def integer(self, key: str, default: int | None = None) -> int:
        return self._get(key, int, "an integer", default)

    def integers(self, key: str, default: list[int] | None = None) -> list[int]:
        values = self._get(key, list, "an array of integers", default)
        for i, value in enumerate(values):
            if not isinstance(value, int) or isinstance(value, bool):
                raise self.error(f"{key}[{i}]", f"expected an integer, got {_describe(value)}")
        return values

    def strings(self, key: str) -> list[str]:
        values = self._get(key, list, "an array of strings", [])
        for i, value in enumerate(values):
            if not isinstance(value, str):
                raise self.error(f"{key}[{i}]", f"expected a string, got {_describe(value)}")
        return values

    def table(self, key: str) -> _Table:
        """A sub-table; absent means empty, since every sub-table here is optional."""
        return _Table(self.file, self._get(key, dict, "a table", {}), f"{self.where}{key}.")

    def tables(self, key: str) -> list[_Table]:
        items = self._get(key, list, f"an array of tables ([[{key}]])", None)
        for i, item in enumerate(items):
            if not isinstance(item, dict):
                raise self.error(f"{key}[{i}]", f"expected a table, got {_describe(item)}")
        return [_Table(self.file, t, f"{self.where}{key}[{i}].") for i, t in enumerate(items)]

    def only(self, known: Iterable[str]) -> None:
        """Refuse unknown keys: a misspelt optional key must not be silently ignored."""
        allowed = list(known)
        for key in self.data:
            if key not in allowed:
                raise self.error(key, f"unknown key (expected one of: {', '.join(allowed)})")


def _int_fields(table: _Table, cls: type[T], minimum: Callable[[str], int]) -> T:
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


def _timeouts(table: _Table) -> Timeouts:
    return _int_fields(table, Timeouts, lambda name: 0 if name.endswith("_delta_ms") else 1)


def _params(table: _Table) -> NodeParams:
    # Every NodeParams field is a limit or an interval; zero or less would stall the node.
    return _int_fields(table, NodeParams, lambda name: 1)


def _chain_params(table: _Table) -> ChainParams:
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
            raise table.error(name, f"expected true or false, got {_describe(flag)}")
    values = {name: table.integer(name, getattr(defaults, name)) for name in counts}
    for name, value in values.items():
        least = 0 if name in ("reputation_window", "inclusion_grace_ms") else 1
        if value < least:
            raise table.error(name, f"must be at least {least}, got {value}")
    return ChainParams(slash_fraction_ppm=round(fraction * PPM), **flags, **values)


def _chain_document(params: ChainParams) -> dict[str, Any]:
    return {
        "slash_fraction": params.slash_fraction_ppm / PPM,
        "max_evidence_age": params.max_evidence_age,
        "slashing": params.slashing,
        "inclusion_deadline": params.inclusion_deadline,
        "inclusion_grace_ms": params.inclusion_grace_ms,
        "reputation_window": params.reputation_window,
        "forced_inclusion": params.forced_inclusion,
    }


def _name(table: _Table, key: str) -> str:
    name = table.string(key)
    if not NAME_PATTERN.fullmatch(name):
        raise table.error(key, f"{name!r} is not a valid name: use {NAME_RULE}")
    return name


def _address(table: _Table, key: str) -> tuple[str, int]:
    """Parse host:port (IPv6 as [::1]:port) and insist on a loopback host."""
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
        return "127.0.0.1", port
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        ip = None
    if ip is None or not ip.is_loopback:
        raise table.error(
            key,
            f"{text!r}: host must be a loopback address (127.0.0.0/8, ::1 or localhost); "
            "sequencer-net runs local clusters only and never binds other interfaces",
        )
    return str(ip), port


def _public_key(table: _Table, key: str) -> bytes:
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


def _refuse_duplicate(table: _Table, key: str, value: object, seen: dict[object, str]) -> None:
    """Record ``value`` under ``key``, or fail naming where it was seen first."""
    if value in seen:
        raise table.error(key, f"duplicate: already used by {seen[value]}")
    seen[value] = f"{table.where}{key}"


def _faults(table: _Table) -> tuple[Fault, ...]:
    """The ``faults`` array: spec strings such as "mute" or "delay 200"."""
    faults = []
    for i, text in enumerate(table.strings("faults")):
        try:
            faults.append(parse_fault(text))
        except FaultSpecError as exc:
            raise table.error(f"faults[{i}]", str(exc)) from None
    return tuple(faults)


def _resolve(base: Path, text: str) -> Path:
    return (base / Path(text).expanduser()).resolve()


# ---- genesis.toml ----------------------------------------------------------------------------


def load_genesis(path: Path | str) -> GenesisFile:
    """Load and check genesis.toml: every node must read exactly the same validator set."""
    path = Path(path)
    top = _Table(path, _read_toml(path))
    top.only(["chain_id", "timeouts", "chain", "validators"])
    chain_id = top.string("chain_id")
    if not 1 <= len(chain_id) <= 64:
        raise top.error("chain_id", f"must be 1..64 characters, got {len(chain_id)}")
    timeouts = _timeouts(top.table("timeouts"))
    params = _chain_params(top.table("chain"))
    entries = top.tables("validators")
    if not entries:
        raise top.error("validators", "at least one [[validators]] entry is needed")
    validators: list[Validator] = []
    addresses: dict[str, Addresses] = {}
    names: dict[object, str] = {}
    keys: dict[object, str] = {}
    ports: dict[object, str] = {}
    for entry in entries:
        entry.only(["name", "public_key", "power", "address", "client_address"])
        name = _name(entry, "name")
        _refuse_duplicate(entry, "name", name, names)
        public_key = _public_key(entry, "public_key")
        _refuse_duplicate(entry, "public_key", public_key, keys)
        power = entry.integer("power")
        if power <= 0:
            raise entry.error("power", f"must be a positive integer, got {power}")
        for key in ("address", "client_address"):
            _refuse_duplicate(entry, key, _address(entry, key), ports)
        validators.append(Validator(name, public_key, power))
        addresses[name] = Addresses(entry.string("address"), entry.string("client_address"))
    genesis = Genesis(chain_id, tuple(validators), timeouts, params)
    return GenesisFile(path=path.resolve(), genesis=genesis, addresses=addresses)


def write_genesis(path: Path, genesis: Genesis, addresses: Mapping[str, Addresses]) -> None:
    """Write genesis.toml with every timeout spelled out, so nodes cannot disagree on defaults."""
    document = {
        "chain_id": genesis.chain_id,
        "timeouts": asdict(genesis.timeouts),
        "chain": _chain_document(genesis.params),
        "validators": [
            {
                "name": v.name,
                "public_key": v.public_key.hex(),
                "power": v.power,
                "address": addresses[v.name].peer,
                "client_address": addresses[v.name].client,
            }
            for v in genesis.validators
        ],
    }
    path.write_text(tomli_w.dumps(document))


# ---- key files -------------------------------------------------------------------------------


def write_key(path: Path, key: PrivateKey) -> None:
    """Write the hex seed readable by the owner only; never overwrite a key (that loses it)."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise ConfigError(f"{path}: refusing to overwrite an existing key file") from None
    with os.fdopen(fd, "w") as f:
        f.write(key.seed.hex() + "\n")


def write_admin_token(path: Path) -> None:
    """Write a fresh random admin token readable by the owner only."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise ConfigError(f"{path}: refusing to overwrite an existing admin token") from None
    with os.fdopen(fd, "w") as f:
        f.write(secrets.token_hex(ADMIN_TOKEN_BYTES) + "\n")


def _read_private(path: Path, table: _Table, key: str, what: str) -> str:
    """The stripped text of a secret file named by ``key``, refused if others may read it."""
    try:
        mode = path.stat().st_mode
        text = path.read_text(encoding="ascii").strip()
    except FileNotFoundError:
        raise table.error(key, f"{path}: file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise table.error(key, f"{path}: cannot read: {exc}") from None
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise ConfigError(
            f"{path}: {what} is accessible by others (mode {stat.S_IMODE(mode):04o}); "
            f"run: chmod 600 {path}"
        )
    return text


def _load_admin_token(path: Path, table: _Table) -> str:
    """The token that authorises fault injection: a secret, so kept private like a key."""
    token = _read_private(path, table, "admin_token_file", "admin token")
    if not token:
        raise table.error("admin_token_file", f"{path}: the file is empty")
    return token


def _load_key(path: Path, table: _Table) -> PrivateKey:
    text = _read_private(path, table, "key_file", "key file")
    try:
        seed = bytes.fromhex(text)
    except ValueError:
        seed = b""
    if len(seed) != SEED_SIZE:
        raise ConfigError(f"{path}: expected {2 * SEED_SIZE} hex digits (an Ed25519 seed)")
    return PrivateKey(seed)


# ---- node.toml -------------------------------------------------------------------------------


def load_node_config(path: Path | str) -> NodeConfig:
    """Load node.toml, its genesis and its key, and check the key is this node's genesis key."""
    path = Path(path)
    top = _Table(path, _read_toml(path))
    top.only(
        [
            "name",
            "genesis",
            "key_file",
            "data_dir",
            "params",
            "faults",
            "admin_address",
            "admin_token_file",
        ]
    )
    base = path.resolve().parent
    name = _name(top, "name")
    genesis_file = load_genesis(_resolve(base, top.string("genesis")))
    key_file = _resolve(base, top.string("key_file"))
    data_dir = _resolve(base, top.string("data_dir"))
    params = _params(top.table("params"))
    faults = _faults(top)
    admin_address = admin_token = None
    if "admin_address" in top.data or "admin_token_file" in top.data:
        host, port = _address(top, "admin_address")  # checks it is loopback
        admin_address = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
        admin_token = _load_admin_token(_resolve(base, top.string("admin_token_file")), top)
    validator = next((v for v in genesis_file.genesis.validators if v.name == name), None)
    if validator is None:
        raise top.error("name", f"{name!r} is not a validator in {genesis_file.path}")
    key = _load_key(key_file, top)
    if key.public_key != validator.public_key:
        owner = genesis_file.genesis.validator_set.get(key.public_key)
        held = f"the key of {owner.name!r}" if owner else f"public key {key.public_key.hex()}"
        raise top.error(
            "key_file",
            f"{key_file} holds {held}, but {genesis_file.path} gives {name!r} "
            f"public key {validator.public_key.hex()}",
        )
    return NodeConfig(
        path=path.resolve(),
        name=name,
        genesis_file=genesis_file,
        key_file=key_file,
        key=key,
        data_dir=data_dir,
        params=params,
        faults=faults,
        admin_address=admin_address,
        admin_token=admin_token,
    )


def write_node_config(
    path: Path,
    name: str,
    genesis: str = "../genesis.toml",
    key_file: str = "key",
    data_dir: str = "data",
    params: NodeParams | None = None,
    faults: Iterable[Fault] = (),
    admin_address: str | None = None,
    admin_token_file: str = "../admin_token",
) -> None:
    """Write node.toml; relative paths keep a cluster dir movable. Only the params that differ
    from NodeParams' defaults are written, so a later change of a default still applies.
    Without ``admin_address`` the node has no admin API (no runtime fault injection)."""
    document: dict[str, Any] = {
        "name": name,
        "genesis": genesis,
        "key_file": key_file,
        "data_dir": data_dir,
    }
    if admin_address is not None:
        document["admin_address"] = admin_address
        document["admin_token_file"] = admin_token_file
    fault_specs = [str(f) for f in faults]
    if fault_specs:
        document["faults"] = fault_specs
    overrides = _non_default(params or NodeParams())
    if overrides:
        document["params"] = overrides
    path.write_text(tomli_w.dumps(document))


def _non_default(params: NodeParams) -> dict[str, int]:
    defaults = NodeParams()
    return {
        f.name: getattr(params, f.name)
        for f in fields(NodeParams)
        if getattr(params, f.name) != getattr(defaults, f.name)
    }


# ---- cluster spec ----------------------------------------------------------------------------


def load_cluster_spec(path: Path | str) -> ClusterSpec:
    """Load a cluster spec (configs/*.toml): what `sequencer-net cluster init/up` start from."""
    path = Path(path)
    top = _Table(path, _read_toml(path))
    top.only(["cluster", "timeouts", "params", "chain", "nodes"])
    if "cluster" not in top.data:
        raise top.error("cluster", "missing (expected a [cluster] table with name and nodes)")
    cluster = top.table("cluster")
    cluster.only(["name", "nodes", "stakes", "chain_id"])
    name = cluster.string("name")
    nodes = cluster.integer("nodes")
    stakes = tuple(cluster.integers("stakes", []))
    chain_id = cluster.string("chain_id", "")
    timeouts = _timeouts(top.table("timeouts"))
    params = _params(top.table("params"))
    chain = _chain_params(top.table("chain"))
    faults = _node_faults(top.table("nodes"), nodes)
    try:
        return ClusterSpec(name, nodes, stakes, chain_id, timeouts, params, chain, faults)
    except SpecError as exc:
        raise cluster.error(exc.key, exc.problem) from None


def _node_faults(table: _Table, nodes: int) -> dict[str, tuple[Fault, ...]]:
    """The [nodes.NAME] tables: per-node faults, e.g. ``[nodes.n1] faults = ["mute"]``."""
    names = [f"n{i}" for i in range(1, nodes + 1)]
    faults = {}
    for name in table.data:
        if name not in names:
            raise table.error(name, f"no such node (this cluster has n1..n{nodes})")
        node = table.table(name)
        node.only(["faults"])
        faults[name] = _faults(node)
    return faults
