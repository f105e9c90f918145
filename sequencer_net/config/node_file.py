"""node.toml: one node's name, genesis, key, data dir, params, faults, admin API, metrics
endpoint, logging and emulated WAN latency.

The loader makes every path absolute (relative to node.toml, so a cluster dir can move),
loads the genesis and the key, and checks the key is the one genesis gives this node's name.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any

import tomli_w

from ..crypto import PrivateKey
from ..faults.spec import Fault
from ..genesis import Genesis
from ..node_params import NodeParams
from . import schema, sections
from .genesis_file import Addresses, Endpoints, GenesisFile, load_genesis
from .network import NodeNetwork, node_network, node_network_document
from .schema import Endpoint
from .secrets import load_admin_token, load_key

if TYPE_CHECKING:
    from ..threshold.keys import KeyShare

NODE_KEYS = (
    "name",
    "genesis",
    "key_file",
    "data_dir",
    "params",
    "faults",
    "admin_address",
    "admin_token_file",
    "metrics_address",
    "peer_listen",
    "client_listen",
    "log_level",
    "log_max_bytes",
    "log_backups",
    "network",
)
LOG_LEVELS = ("debug", "info", "warning", "error")
MIN_LOG_BYTES = 4096
MAX_LOG_BACKUPS = 100


@dataclass(frozen=True)
class LogSettings:
    """node.log: the lowest level written (per-height lines are debug), and size-based
    rotation: past ``max_bytes`` node.log becomes node.log.1 and so on, ``backups`` kept."""

    level: str = "info"
    max_bytes: int = 50 * 1024 * 1024
    backups: int = 5


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
    admin_endpoint: Endpoint | None = None
    metrics_address: str | None = None  # None: no metrics endpoint
    metrics_endpoint: Endpoint | None = None
    log: LogSettings = field(default_factory=LogSettings)
    # Where to bind the peer and client ports when not at the address genesis advertises
    # (behind NAT or in a container: 0.0.0.0:26656 while peers dial host1:26656).
    peer_listen: Endpoint | None = None
    client_listen: Endpoint | None = None
    # Its threshold decryption shares, beside the key, when genesis has ``[private]``.
    threshold_share: KeyShare | None = None
    network: NodeNetwork | None = None  # emulated WAN latency to each peer; None: none

    @property
    def peer_bind(self) -> Endpoint:
        return self.peer_listen or self.endpoints[self.name].peer

    @property
    def client_bind(self) -> Endpoint:
        return self.client_listen or self.endpoints[self.name].client

    @property
    def genesis(self) -> Genesis:
        return self.genesis_file.genesis

    @property
    def addresses(self) -> dict[str, Addresses]:
        """Every validator's addresses by name, this node's own included."""
        return self.genesis_file.addresses

    @property
    def endpoints(self) -> dict[str, Endpoints]:
        """Every validator's addresses parsed, for binding and dialling."""
        return self.genesis_file.endpoints


def load_node_config(path: Path | str) -> NodeConfig:
    """Load node.toml, its genesis and its key, and check the key is this node's genesis key."""
    path = Path(path)
    top = schema.load_table(path)
    top.only(NODE_KEYS)
    base = path.resolve().parent
    name = schema.name(top, "name")
    genesis_file = load_genesis(schema.resolve(base, top.string("genesis")))
    key_file = schema.resolve(base, top.string("key_file"))
    data_dir = schema.resolve(base, top.string("data_dir"))
    params = sections.params(top.table("params"))
    faults = sections.faults(top)
    admin_address = admin_token = admin_endpoint = None
    if "admin_address" in top.data or "admin_token_file" in top.data:
        admin_endpoint = schema.address(top, "admin_address", loopback_only=True)
        admin_address = shown(admin_endpoint)
        admin_token = load_admin_token(schema.resolve(base, top.string("admin_token_file")), top)
    metrics_endpoint = None
    if "metrics_address" in top.data:
        metrics_endpoint = schema.address(top, "metrics_address", wildcard=True)
    listen = {
        key: schema.address(top, key, wildcard=True) if key in top.data else None
        for key in ("peer_listen", "client_listen")
    }
    validator = next((v for v in genesis_file.genesis.validators if v.name == name), None)
    if validator is None:
        raise top.error("name", f"{name!r} is not a validator in {genesis_file.path}")
    network = None
    if "network" in top.data:
        network = node_network(top.table("network"))
        names = [v.name for v in genesis_file.genesis.validators if v.name != name]
        unknown = sorted(set(network.peers) - set(names))
        if unknown:
            raise top.error(
                f"network.peers.{unknown[0]}", f"not another validator of {genesis_file.path}"
            )
    key = load_key(key_file, top)
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
        admin_endpoint=admin_endpoint,
        metrics_address=shown(metrics_endpoint) if metrics_endpoint else None,
        metrics_endpoint=metrics_endpoint,
        log=_log_settings(top),
        peer_listen=listen["peer_listen"],
        client_listen=listen["client_listen"],
        threshold_share=_threshold_share(key_file, top, key, genesis_file.genesis),
        network=network,
    )


def _threshold_share(
    key_file: Path, top: schema.Table, key: PrivateKey, genesis: Genesis
) -> KeyShare | None:
    """The shares in ``threshold_share`` beside the key, when genesis deals them."""
    if genesis.private is None:
        return None
    from .private_section import SHARE_FILE, load_share

    return load_share(key_file.with_name(SHARE_FILE), top, key.public_key, genesis.private)


def shown(endpoint: Endpoint) -> str:
    """host:port as a config file writes it (IPv6 in brackets)."""
    host, port = endpoint
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _log_settings(top: schema.Table) -> LogSettings:
    defaults = LogSettings()
    level = top.string("log_level", defaults.level)
    if level not in LOG_LEVELS:
        raise top.error("log_level", f"{level!r}: expected one of {', '.join(LOG_LEVELS)}")
    max_bytes = top.integer("log_max_bytes", defaults.max_bytes)
    if max_bytes < MIN_LOG_BYTES:
        raise top.error("log_max_bytes", f"must be at least {MIN_LOG_BYTES}, got {max_bytes}")
    backups = top.integer("log_backups", defaults.backups)
    if not 1 <= backups <= MAX_LOG_BACKUPS:
        raise top.error("log_backups", f"must be 1..{MAX_LOG_BACKUPS}, got {backups}")
    return LogSettings(level, max_bytes, backups)


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
    metrics_address: str | None = None,
    log_level: str | None = None,
    peer_listen: str | None = None,
    client_listen: str | None = None,
    network: NodeNetwork | None = None,
) -> None:
    """Write node.toml; relative paths keep a cluster dir movable. Only the params that differ
    from NodeParams' defaults are written, so a later change of a default still applies.
    Without ``admin_address`` the node has no admin API (no runtime fault injection), without
    ``metrics_address`` no metrics endpoint, without ``network`` no emulated latency; without
    ``peer_listen``/``client_listen`` the node binds the addresses genesis advertises for it."""
    document: dict[str, Any] = {
        "name": name,
        "genesis": genesis,
        "key_file": key_file,
        "data_dir": data_dir,
    }
    if admin_address is not None:
        document["admin_address"] = admin_address
        document["admin_token_file"] = admin_token_file
    if metrics_address is not None:
        document["metrics_address"] = metrics_address
    if log_level is not None:
        document["log_level"] = log_level
    if peer_listen is not None:
        document["peer_listen"] = peer_listen
    if client_listen is not None:
        document["client_listen"] = client_listen
    fault_specs = [str(f) for f in faults]
    if fault_specs:
        document["faults"] = fault_specs
    overrides = _non_default(params or NodeParams())
    if overrides:
        document["params"] = overrides
    if network is not None:
        document["network"] = node_network_document(network)
    path.write_text(tomli_w.dumps(document))


def _non_default(params: NodeParams) -> dict[str, int]:
    defaults = NodeParams()
    return {
        f.name: getattr(params, f.name)
        for f in fields(NodeParams)
        if getattr(params, f.name) != getattr(defaults, f.name)
    }
