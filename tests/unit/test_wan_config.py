"""The emulated WAN's [network] table: configs/wan-7.toml loads, `cluster init` carries each
node's latencies into its node.toml and back unchanged, and a broken table (unknown region,
missing pair, negative delay, a node without a region) is one clear error, exit 2 from the CLI."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

import pytest
import tomli_w
from helpers.cli import run
from helpers.paths import CONFIGS

from sequencer_net.cluster.init import init_cluster
from sequencer_net.config import ConfigError, load_cluster_spec, load_node_config
from sequencer_net.latency import LinkLatency


def spec_document() -> dict[str, Any]:
    return {
        "cluster": {"name": "wan-test", "nodes": 3},
        "network": {
            "seed": 4,
            "regions": ["east", "west"],
            "nodes": {"n1": "east", "n2": "east", "n3": "west"},
            "latency": {"east/west": {"delay_ms": 40, "jitter_ms": 5}},
        },
    }


def write(path: Path, document: dict[str, Any]) -> Path:
    path.write_text(tomli_w.dumps(document))
    return path


def test_wan_7_places_seven_nodes_in_seven_regions_with_every_pair() -> None:
    spec = load_cluster_spec(CONFIGS / "wan-7.toml")
    assert spec.network is not None
    assert len(set(spec.network.regions.values())) == 7
    assert len(spec.network.latency) == 7 * 6 // 2
    # Frankfurt-Sydney, the longest pair: half of the published 323.5 ms round trip.
    assert spec.network.between("n4", "n6") == LinkLatency(159, 6)
    assert spec.network.between("n6", "n4") == spec.network.between("n4", "n6")


def test_init_writes_each_node_its_own_latencies(tmp_path: Path) -> None:
    spec = load_cluster_spec(write(tmp_path / "spec.toml", spec_document()))
    root = init_cluster(spec, tmp_path / "c")
    n1 = load_node_config(root / "n1" / "node.toml")
    assert n1.network is not None
    assert n1.network.region == "east" and n1.network.seed == 4
    # Same region: no delay; the other region: the pair's latency.
    assert n1.network.peers == {"n2": LinkLatency(0, 0), "n3": LinkLatency(40, 5)}
    n3 = load_node_config(root / "n3" / "node.toml")
    assert n3.network is not None and n3.network.peers["n1"] == LinkLatency(40, 5)
    genesis = tomllib.loads((root / "genesis.toml").read_text())
    assert "network" not in genesis  # emulation is not part of consensus


def test_a_spec_without_network_writes_none(tmp_path: Path) -> None:
    root = init_cluster(load_cluster_spec(CONFIGS / "local-4.toml"), tmp_path / "c")
    assert load_node_config(root / "n1" / "node.toml").network is None
    assert "network" not in tomllib.loads((root / "n1" / "node.toml").read_text())


def broken(change: str) -> dict[str, Any]:
    document = spec_document()
    network = document["network"]
    if change == "unknown node region":
        network["nodes"]["n3"] = "mars"
    elif change == "unknown pair region":
        network["latency"]["east/mars"] = {"delay_ms": 1}
    elif change == "missing pair":
        network["regions"].append("south")
        network["nodes"]["n2"] = "south"
    elif change == "negative delay":
        network["latency"]["east/west"]["delay_ms"] = -5
    elif change == "negative jitter":
        network["latency"]["east/west"]["jitter_ms"] = -1
    elif change == "node without region":
        del network["nodes"]["n2"]
    elif change == "no such node":
        network["nodes"]["n9"] = "east"
    elif change == "not a pair":
        network["latency"]["eastwest"] = {"delay_ms": 1}
    return document


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ("unknown node region", r"network\.nodes\.n3: unknown region 'mars'"),
        ("unknown pair region", r"network\.latency\.east/mars: unknown region 'mars'"),
        ("missing pair", r"network\.latency\.(east/south|west/south|south/west): missing"),
        ("negative delay", r"network\.latency\.east/west\.delay_ms: must be 0\.\.10000 ms, got -5"),
        ("negative jitter", r"jitter_ms: must be 0\.\.10000 ms, got -1"),
        ("node without region", r"network\.nodes\.n2: missing: every node needs a region"),
        ("no such node", r"network\.nodes\.n9: no such node"),
        ("not a pair", r"network\.latency\.eastwest: expected a pair of regions"),
    ],
)
def test_a_broken_network_table_is_one_clear_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], change: str, message: str
) -> None:
    path = write(tmp_path / "spec.toml", broken(change))
    with pytest.raises(ConfigError, match=message):
        load_cluster_spec(path)
    code, _, err = run(capsys, "cluster", "init", path, "--dir", tmp_path / "c")
    assert code == 2
    assert "Traceback" not in err and str(path) in err
    assert not (tmp_path / "c").exists()


def test_node_toml_naming_a_stranger_peer_is_refused(tmp_path: Path) -> None:
    root = init_cluster(
        load_cluster_spec(write(tmp_path / "s.toml", spec_document())), tmp_path / "c"
    )
    path = root / "n1" / "node.toml"
    document = tomllib.loads(path.read_text())
    document["network"]["peers"]["n7"] = {"delay_ms": 1, "jitter_ms": 0}
    path.write_text(tomli_w.dumps(document))
    with pytest.raises(ConfigError, match=r"network\.peers\.n7: not another validator"):
        load_node_config(path)
