"""Config files: what is written loads back unchanged, and every broken file gives one
ConfigError naming the file and the key (never a KeyError or a traceback from deep inside)."""

from __future__ import annotations

import copy
import os
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import tomli_w
from helpers.paths import CONFIGS

from sequencer_net.config import (
    Addresses,
    ClusterSpec,
    ConfigError,
    LogSettings,
    NodeParams,
    SpecError,
    load_cluster_spec,
    load_genesis,
    load_node_config,
    write_genesis,
    write_key,
    write_node_config,
)
from sequencer_net.consensus.config import Timeouts
from sequencer_net.crypto import PrivateKey
from sequencer_net.genesis import Genesis
from sequencer_net.validators import Validator

KEYS = {name: PrivateKey.from_label(name) for name in ("n1", "n2", "n3")}


def genesis_document() -> dict[str, Any]:
    return {
        "chain_id": "test-chain",
        "timeouts": {"propose_ms": 700},
        "validators": [
            {
                "name": name,
                "public_key": key.public_key.hex(),
                "power": 10 + i,
                "address": f"127.0.0.1:{30000 + 2 * i}",
                "client_address": f"127.0.0.1:{30001 + 2 * i}",
            }
            for i, (name, key) in enumerate(KEYS.items())
        ],
    }


def write_toml(path: Path, document: dict[str, Any]) -> Path:
    path.write_text(tomli_w.dumps(document))
    return path


def node_dir(tmp_path: Path, name: str = "n1", params: dict[str, Any] | None = None) -> Path:
    """A valid node: tmp/genesis.toml, tmp/NAME/node.toml, tmp/NAME/key. Returns node.toml."""
    write_toml(tmp_path / "genesis.toml", genesis_document())
    (tmp_path / name).mkdir()
    write_key(tmp_path / name / "key", KEYS[name])
    document: dict[str, Any] = {
        "name": name,
        "genesis": "../genesis.toml",
        "key_file": "key",
        "data_dir": "data",
    }
    if params is not None:
        document["params"] = params
    return write_toml(tmp_path / name / "node.toml", document)


def assert_config_error(load: Callable[[], object], *fragments: str) -> str:
    with pytest.raises(ConfigError) as caught:
        load()
    message = str(caught.value)
    for fragment in fragments:
        assert fragment in message, f"{fragment!r} not in {message!r}"
    return message


# ---- round trips -----------------------------------------------------------------------------


def test_genesis_round_trip(tmp_path: Path) -> None:
    validators = tuple(
        Validator(n, k.public_key, 5 * (i + 1)) for i, (n, k) in enumerate(KEYS.items())
    )
    genesis = Genesis("round-trip", validators, Timeouts(propose_ms=1234, prevote_delta_ms=0))
    addresses = {
        "n1": Addresses("127.0.0.1:26001", "127.0.0.1:26002"),
        "n2": Addresses("localhost:26003", "127.0.0.1:26004"),
        "n3": Addresses("[::1]:26005", "127.0.0.2:26006"),
    }
    path = tmp_path / "genesis.toml"
    write_genesis(path, genesis, addresses)
    loaded = load_genesis(path)
    assert loaded.genesis == genesis
    assert loaded.addresses == addresses
    assert loaded.path == path.resolve()
    assert loaded.genesis.validator_set.total_power == 30


def test_genesis_parses_every_address_once_for_the_runtime(tmp_path: Path) -> None:
    document = genesis_document()
    document["validators"][1]["address"] = "localhost:30002"
    document["validators"][2]["client_address"] = "[::1]:30005"
    loaded = load_genesis(write_toml(tmp_path / "genesis.toml", document))
    assert loaded.endpoints["n1"] == (("127.0.0.1", 30000), ("127.0.0.1", 30001))
    assert loaded.endpoints["n2"].peer == ("127.0.0.1", 30002)
    assert loaded.endpoints["n3"].client == ("::1", 30005)
    assert loaded.addresses["n2"].peer == "localhost:30002", "kept as written for people"


def test_node_config_round_trip_resolves_paths_and_checks_the_key(tmp_path: Path) -> None:
    write_toml(tmp_path / "genesis.toml", genesis_document())
    (tmp_path / "n2").mkdir()
    write_key(tmp_path / "n2" / "key", KEYS["n2"])
    params = NodeParams(max_batch_txs=77, chunk_interval_ms=7, max_batch_chunks=9)
    write_node_config(tmp_path / "n2" / "node.toml", "n2", params=params)
    config = load_node_config(tmp_path / "n2" / "node.toml")
    assert config.name == "n2"
    assert config.params == params
    assert config.key.public_key == KEYS["n2"].public_key
    assert config.key_file == (tmp_path / "n2" / "key").resolve()
    assert config.data_dir == (tmp_path / "n2" / "data").resolve()
    assert config.path.is_absolute() and config.genesis_file.path.is_absolute()
    assert config.genesis.chain_id == "test-chain"
    assert config.genesis.timeouts == Timeouts(propose_ms=700)
    assert config.addresses["n2"] == Addresses("127.0.0.1:30002", "127.0.0.1:30003")
    # Only overridden params are written, so changed defaults still reach old clusters.
    assert "max_buffered_messages" not in (tmp_path / "n2" / "node.toml").read_text()


def test_node_config_metrics_and_log_settings(tmp_path: Path) -> None:
    path = node_dir(tmp_path)
    plain = load_node_config(path)
    assert plain.metrics_endpoint is None and plain.metrics_address is None  # no endpoint
    assert plain.log == LogSettings()
    assert (plain.log.level, plain.log.backups) == ("info", 5)
    _rewrite(path, "metrics_address", "localhost:9100")
    _rewrite(path, "log_level", "debug")
    _rewrite(path, "log_max_bytes", 8192)
    _rewrite(path, "log_backups", 3)
    config = load_node_config(path)
    assert config.metrics_endpoint == ("127.0.0.1", 9100)
    assert config.metrics_address == "127.0.0.1:9100"
    assert config.log == LogSettings("debug", 8192, 3)


def test_cluster_spec_log_level(tmp_path: Path) -> None:
    spec = write_toml(
        tmp_path / "c.toml", {"cluster": {"name": "c", "nodes": 2, "log_level": "debug"}}
    )
    assert load_cluster_spec(spec).log_level == "debug"
    with pytest.raises(SpecError, match="log_level: 'loud'"):
        ClusterSpec("c", 2, log_level="loud")


def test_node_config_loads_from_another_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = node_dir(tmp_path)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    assert load_node_config(os.path.relpath(path, elsewhere)).name == "n1"


def test_key_file_is_owner_only_and_never_overwritten(tmp_path: Path) -> None:
    path = tmp_path / "key"
    write_key(path, KEYS["n1"])
    assert path.stat().st_mode & 0o777 == 0o600
    assert path.read_text().strip() == KEYS["n1"].seed.hex()
    assert_config_error(lambda: write_key(path, KEYS["n2"]), str(path), "refusing to overwrite")
    assert path.read_text().strip() == KEYS["n1"].seed.hex()


@pytest.mark.parametrize(
    ("file", "nodes", "stakes"),
    [("local-4.toml", 4, (10, 10, 10, 10)), ("weighted-7.toml", 7, (30, 20, 15, 10, 10, 10, 5))],
)
def test_shipped_cluster_specs_load(file: str, nodes: int, stakes: tuple[int, ...]) -> None:
    spec = load_cluster_spec(CONFIGS / file)
    assert spec.name == file.removesuffix(".toml") == spec.chain_id
    assert spec.nodes == nodes and spec.stakes == stakes


def test_cluster_spec_defaults(tmp_path: Path) -> None:
    path = write_toml(tmp_path / "spec.toml", {"cluster": {"name": "tiny", "nodes": 3}})
    spec = load_cluster_spec(path)
    assert spec == ClusterSpec("tiny", 3, (10, 10, 10), "tiny", Timeouts(), NodeParams())
    assert spec.node_names == ["n1", "n2", "n3"]


def test_cluster_spec_sections_override_defaults(tmp_path: Path) -> None:
    document = {
        "cluster": {"name": "w", "nodes": 2, "stakes": [3, 1], "chain_id": "chain-w"},
        "timeouts": {"precommit_ms": 900},
        "params": {"mempool_max_txs": 50},
    }
    spec = load_cluster_spec(write_toml(tmp_path / "spec.toml", document))
    assert spec.stakes == (3, 1) and spec.chain_id == "chain-w"
    assert spec.timeouts == Timeouts(precommit_ms=900)
    assert spec.params == NodeParams(mempool_max_txs=50)


def test_spec_errors_name_the_key() -> None:
    with pytest.raises(SpecError) as caught:
        ClusterSpec("x", 4, (10, 10, 10))
    assert caught.value.key == "stakes" and "3 stakes for 4 nodes" in str(caught.value)


# ---- broken genesis files --------------------------------------------------------------------


def _set(document: dict[str, Any], dotted: str, value: object) -> None:
    """Set (or with value DELETE, remove) ``validators.1.power`` style paths."""
    *parents, last = dotted.split(".")
    target: Any = document
    for part in parents:
        target = target[int(part)] if isinstance(target, list) else target[part]
    if value is DELETE:
        del target[last]
    elif isinstance(target, list):
        target[int(last)] = value
    else:
        target[last] = value


DELETE = object()
PEER_N1 = "127.0.0.1:30000"


@pytest.mark.parametrize(
    ("change", "value", "expected"),
    [
        ("chain_id", DELETE, ["chain_id: missing"]),
        ("chain_id", 5, ["chain_id: expected a string, got an integer"]),
        ("chain_id", "", ["chain_id: must be 1..64 characters"]),
        ("validators.1.power", "10", ["validators[1].power: expected an integer, got a string"]),
        ("validators.1.power", True, ["validators[1].power: expected an integer, got a boolean"]),
        ("validators.1.power", 0, ["validators[1].power: must be a positive integer"]),
        ("validators.2.name", DELETE, ["validators[2].name: missing"]),
        ("validators.2.name", "n 3", ["validators[2].name: 'n 3' is not a valid name"]),
        ("validators.0.public_key", "zz" * 32, ["validators[0].public_key: expected 64 hex"]),
        ("validators.0.public_key", "abcd", ["validators[0].public_key: expected 64 hex"]),
        ("validators.0.address", "0.0.0.0:30000", ["validators[0].address", "nobody can dial"]),
        ("validators.0.client_address", "[::]:30000", ["client_address", "nobody can dial"]),
        ("validators.0.address", "-bad-.example:30000", ["address", "neither an IP address"]),
        ("validators.0.address", "a..b:30000", ["validators[0].address", "nor a hostname"]),
        ("validators.0.address", "x_y.example:1", ["validators[0].address", "nor a hostname"]),
        ("validators.0.address", "::1:30000", ["validators[0].address", "brackets"]),
        ("validators.0.address", "127.0.0.1", ["validators[0].address", "not host:port"]),
        ("validators.0.client_address", "127.0.0.1:70000", ["client_address", "65535"]),
        ("validators.1.name", "n1", ["validators[1].name: duplicate", "validators[0].name"]),
        (
            "validators.1.public_key",
            KEYS["n1"].public_key.hex(),
            ["validators[1].public_key: duplicate"],
        ),
        ("validators.2.client_address", PEER_N1, ["validators[2].client_address: duplicate"]),
        ("validators.2.address", "localhost:30000", ["validators[2].address: duplicate"]),
        ("validators.1.jailed", True, ["validators[1].jailed: unknown key"]),
        ("validator", [], ["validator: unknown key", "validators"]),
        ("validators", [], ["validators: at least one"]),
        ("validators", DELETE, ["validators: missing"]),
        ("validators", "n1", ["validators: expected an array of tables"]),
        ("validators.1", 5, ["validators[1]: expected a table, got an integer"]),
        ("timeouts", 5, ["timeouts: expected a table"]),
        ("timeouts.propose_ms", 0, ["timeouts.propose_ms: must be at least 1"]),
        ("timeouts.prevote_delta_ms", -1, ["timeouts.prevote_delta_ms: must be at least 0"]),
        ("timeouts.propose_ms", 1.5, ["timeouts.propose_ms: expected an integer, got a float"]),
        ("timeouts.propose", 100, ["timeouts.propose: unknown key", "propose_ms"]),
    ],
)
def test_broken_genesis_names_file_and_key(
    tmp_path: Path, change: str, value: object, expected: list[str]
) -> None:
    document = copy.deepcopy(genesis_document())
    _set(document, change, value)
    path = write_toml(tmp_path / "genesis.toml", document)
    assert_config_error(lambda: load_genesis(path), str(path), *expected)


def test_loopback_hosts_are_accepted(tmp_path: Path) -> None:
    document = genesis_document()
    _set(document, "validators.0.address", "localhost:30000")
    _set(document, "validators.1.address", "[::1]:30002")
    _set(document, "validators.2.address", "127.1.2.3:30004")
    load_genesis(write_toml(tmp_path / "genesis.toml", document))


def test_any_ip_or_hostname_may_be_advertised(tmp_path: Path) -> None:
    """Nodes on separate hosts: genesis holds what peers and clients dial, parsed only (the
    file is read, nothing connects)."""
    document = genesis_document()
    _set(document, "validators.0.address", "10.0.0.1:30000")
    _set(document, "validators.0.client_address", "Seq-1.Example.ORG:30001")
    _set(document, "validators.1.address", "[2001:db8::7]:30002")
    _set(document, "validators.2.address", "host3:30004")
    loaded = load_genesis(write_toml(tmp_path / "genesis.toml", document))
    assert loaded.endpoints["n1"].peer == ("10.0.0.1", 30000)
    assert loaded.endpoints["n1"].client == ("seq-1.example.org", 30001)
    assert loaded.endpoints["n2"].peer == ("2001:db8::7", 30002)
    assert loaded.endpoints["n3"].peer == ("host3", 30004)


def test_the_same_host_and_port_twice_is_refused_whatever_its_case(tmp_path: Path) -> None:
    document = genesis_document()
    _set(document, "validators.0.address", "host1:30000")
    _set(document, "validators.1.address", "HOST1:30000")
    path = write_toml(tmp_path / "genesis.toml", document)
    assert_config_error(lambda: load_genesis(path), "validators[1].address: duplicate")


def test_missing_and_invalid_files(tmp_path: Path) -> None:
    missing = tmp_path / "nope.toml"
    assert_config_error(lambda: load_genesis(missing), str(missing), "file not found")
    broken = tmp_path / "broken.toml"
    broken.write_text('chain_id = "x"\n[[validators]\nname = ')
    assert_config_error(lambda: load_genesis(broken), str(broken), "invalid TOML")
    binary = tmp_path / "binary.toml"
    binary.write_bytes(b"\xff\xfe\x00")
    assert_config_error(lambda: load_cluster_spec(binary), str(binary), "invalid TOML")
    assert_config_error(lambda: load_node_config(tmp_path), str(tmp_path), "directory")


# ---- broken node configs ---------------------------------------------------------------------


def _rewrite(path: Path, change: str, value: object) -> None:
    document = tomllib.loads(path.read_text())
    _set(document, change, value)
    write_toml(path, document)


@pytest.mark.parametrize(
    ("change", "value", "expected"),
    [
        ("name", DELETE, ["name: missing"]),
        ("name", "n9", ["name: 'n9' is not a validator in"]),
        ("key_file", 3, ["key_file: expected a string, got an integer"]),
        ("key_file", "missing-key", ["key_file:", "missing-key: file not found"]),
        ("data_dir", DELETE, ["data_dir: missing"]),
        ("params", {"max_batch_txs": "many"}, ["params.max_batch_txs: expected an integer"]),
        ("params", {"max_batch_txs": 0}, ["params.max_batch_txs: must be at least 1"]),
        ("params", {"max_batch": 10}, ["params.max_batch: unknown key", "max_batch_txs"]),
        # Renamed when transactions moved from gossip to chunks: an old file says so.
        ("params", {"gossip_interval_ms": 10}, ["params.gossip_interval_ms: unknown key"]),
        ("params", {"chunk_max_txs": 0}, ["params.chunk_max_txs: must be at least 1"]),
        ("keyfile", "key", ["keyfile: unknown key"]),
        ("admin_address", "10.0.0.1:9100", ["admin_address:", "must be a loopback"]),
        ("admin_address", "0.0.0.0:9100", ["admin_address:", "controls the node"]),
        ("admin_address", "host1:9100", ["admin_address:", "must be a loopback"]),
        ("peer_listen", "host:x", ["peer_listen: 'host:x' is not host:port"]),
        ("client_listen", 5, ["client_listen: expected a string"]),
        ("metrics_address", "9100", ["metrics_address: '9100' is not host:port"]),
        ("log_level", "verbose", ["log_level: 'verbose': expected one of debug, info"]),
        ("log_max_bytes", 10, ["log_max_bytes: must be at least 4096"]),
        ("log_backups", 0, ["log_backups: must be 1..100"]),
    ],
)
def test_broken_node_config_names_file_and_key(
    tmp_path: Path, change: str, value: object, expected: list[str]
) -> None:
    path = node_dir(tmp_path)
    _rewrite(path, change, value)
    assert_config_error(lambda: load_node_config(path), str(path), *expected)


def test_node_config_with_missing_genesis_names_the_genesis_path(tmp_path: Path) -> None:
    path = node_dir(tmp_path)
    _rewrite(path, "genesis", "../other-genesis.toml")
    assert_config_error(
        lambda: load_node_config(path), str(tmp_path / "other-genesis.toml"), "file not found"
    )


def test_node_config_with_a_broken_genesis_names_the_genesis_file(tmp_path: Path) -> None:
    path = node_dir(tmp_path)
    _rewrite(tmp_path / "genesis.toml", "validators.0.power", -1)
    assert_config_error(
        lambda: load_node_config(path), str(tmp_path / "genesis.toml"), "validators[0].power"
    )


def test_key_file_of_another_validator_is_refused(tmp_path: Path) -> None:
    path = node_dir(tmp_path)
    (tmp_path / "n1" / "key").unlink()
    write_key(tmp_path / "n1" / "key", KEYS["n2"])
    message = assert_config_error(
        lambda: load_node_config(path), str(path), "key_file", "the key of 'n2'"
    )
    assert KEYS["n1"].public_key.hex() in message


def test_key_file_not_in_genesis_is_refused(tmp_path: Path) -> None:
    path = node_dir(tmp_path)
    (tmp_path / "n1" / "key").unlink()
    stranger = PrivateKey.from_label("stranger")
    write_key(tmp_path / "n1" / "key", stranger)
    assert_config_error(
        lambda: load_node_config(path), str(path), "key_file", stranger.public_key.hex()
    )


@pytest.mark.parametrize("content", ["not hex at all\n", "abcd\n", ""])
def test_malformed_key_file(tmp_path: Path, content: str) -> None:
    path = node_dir(tmp_path)
    key = tmp_path / "n1" / "key"
    key.write_text(content)
    assert_config_error(lambda: load_node_config(path), str(key), "64 hex digits")


def test_key_file_readable_by_others_is_refused(tmp_path: Path) -> None:
    path = node_dir(tmp_path)
    key = tmp_path / "n1" / "key"
    key.chmod(0o644)
    assert_config_error(lambda: load_node_config(path), str(key), "0644", "chmod 600")


# ---- broken cluster specs --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("document", "expected"),
    [
        ({}, ["cluster: missing"]),
        ({"cluster": {"name": "x"}}, ["cluster.nodes: missing"]),
        ({"cluster": {"nodes": 4}}, ["cluster.name: missing"]),
        ({"cluster": {"name": "x", "nodes": "4"}}, ["cluster.nodes: expected an integer"]),
        ({"cluster": {"name": "x", "nodes": 0}}, ["cluster.nodes: must be 1..100"]),
        ({"cluster": {"name": "a/b", "nodes": 2}}, ["cluster.name: 'a/b' is not valid"]),
        (
            {"cluster": {"name": "x", "nodes": 4, "stakes": [10, 10, 10]}},
            ["cluster.stakes: 3 stakes for 4 nodes"],
        ),
        (
            {"cluster": {"name": "x", "nodes": 2, "stakes": [10, "10"]}},
            ["cluster.stakes[1]: expected an integer, got a string"],
        ),
        (
            {"cluster": {"name": "x", "nodes": 2, "stakes": [10, 0]}},
            ["cluster.stakes: must be positive"],
        ),
        ({"cluster": {"name": "x", "nodes": 2, "node": 3}}, ["cluster.node: unknown key"]),
        (
            {"cluster": {"name": "x", "nodes": 2}, "params": {"rebroadcast_ms": -5}},
            ["params.rebroadcast_ms: must be at least 1"],
        ),
        ({"cluster": {"name": "x", "nodes": 2}, "faults": {}}, ["faults: unknown key"]),
    ],
)
def test_broken_cluster_spec_names_file_and_key(
    tmp_path: Path, document: dict[str, Any], expected: list[str]
) -> None:
    path = write_toml(tmp_path / "spec.toml", document)
    assert_config_error(lambda: load_cluster_spec(path), str(path), *expected)


def test_listen_addresses_default_to_the_advertised_ones(tmp_path: Path) -> None:
    path = node_dir(tmp_path)
    config = load_node_config(path)
    assert config.peer_bind == config.endpoints["n1"].peer
    assert config.client_bind == config.endpoints["n1"].client
    assert config.metrics_endpoint is None


def test_listen_and_metrics_may_name_every_interface(tmp_path: Path) -> None:
    """A node in a container binds 0.0.0.0 while genesis advertises the host's name; the
    file is only parsed here, nothing binds."""
    path = node_dir(tmp_path)
    _rewrite(path, "peer_listen", "0.0.0.0:26656")
    _rewrite(path, "client_listen", "[::]:26657")
    _rewrite(path, "metrics_address", "0.0.0.0:9100")
    config = load_node_config(path)
    assert config.peer_bind == ("0.0.0.0", 26656)
    assert config.client_bind == ("::", 26657)
    assert config.metrics_endpoint == ("0.0.0.0", 9100)
