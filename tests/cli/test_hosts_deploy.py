"""`cluster init --hosts` and `--deploy`: one bundle per host holding that host's secrets and
no one else's, addresses that agree across genesis, node.toml and the deploy files, and deploy
files that parse and name every node. Only files are written and read here: the hosts are
names, nothing binds or connects."""

from __future__ import annotations

import configparser
import stat
import tomllib
from pathlib import Path

import pytest
from helpers.cli import run
from helpers.yaml_subset import YamlError, parse

from sequencer_net.cluster import init_cluster
from sequencer_net.cluster.bundles import bundle_nodes
from sequencer_net.cluster.deploy import to_yaml
from sequencer_net.config import ClusterSpec, load_genesis, load_node_config

HOSTS = {"n1": "seq1.example.org", "n2": "seq2.example.org", "n3": "10.0.0.3", "n4": "10.0.0.3"}


def secrets_of(root: Path, name: str) -> list[str]:
    return [(root / name / f).read_text().strip() for f in ("key", "admin_token")]


def everything_in(bundle: Path) -> str:
    return "\n".join(p.read_text() for p in sorted(bundle.rglob("*")) if p.is_file())


@pytest.mark.parametrize("deploy", [None, "compose", "systemd"])
def test_a_bundle_holds_its_hosts_secrets_and_no_one_elses(
    tmp_path: Path, deploy: str | None
) -> None:
    root = init_cluster(ClusterSpec("wan", 4, hosts=HOSTS), tmp_path / "c", deploy)
    bundles = {p.name: p for p in (root / "bundles").iterdir()}
    assert {h: bundle_nodes(b) for h, b in bundles.items()} == {
        "seq1.example.org": ["n1"],
        "seq2.example.org": ["n2"],
        "10.0.0.3": ["n3", "n4"],
    }
    for host, bundle in bundles.items():
        mine = bundle_nodes(bundle)
        text = everything_in(bundle)
        for name in HOSTS:
            for secret in secrets_of(root, name):
                assert (secret in text) == (name in mine), f"{name}'s secret in {host}'s bundle"
        assert sorted(p.name for p in bundle.iterdir() if p.is_dir()) == sorted(
            mine + (["systemd"] if deploy == "systemd" else [])
        )
        for name in mine:
            for secret in ("key", "admin_token"):
                assert stat.S_IMODE((bundle / name / secret).stat().st_mode) == 0o600
            config = load_node_config(bundle / name / "node.toml")  # loads where it lands
            assert config.genesis_file.path == bundle / "genesis.toml"
            assert config.admin_token == (root / name / "admin_token").read_text().strip()
    tokens = {secrets_of(root, name)[1] for name in HOSTS}
    assert len(tokens) == 4, "every node has an admin token of its own"


def test_hosts_are_advertised_with_standard_ports_and_bound_sensibly(tmp_path: Path) -> None:
    root = init_cluster(ClusterSpec("wan", 4, hosts=HOSTS), tmp_path / "c")
    genesis = load_genesis(root / "genesis.toml")
    assert {n: a.peer for n, a in genesis.addresses.items()} == {
        "n1": "seq1.example.org:26656",
        "n2": "seq2.example.org:26656",
        "n3": "10.0.0.3:26656",
        "n4": "10.0.0.3:26666",  # the second node on one host: 10 higher
    }
    configs = {n: load_node_config(root / n / "node.toml") for n in HOSTS}
    # A hostname may resolve to another address on the host itself: bind every interface.
    assert configs["n1"].peer_bind == ("0.0.0.0", 26656)
    assert configs["n1"].client_bind == ("0.0.0.0", 26657)
    # An IP address is bound as it is.
    assert configs["n4"].peer_bind == ("10.0.0.3", 26666) and configs["n4"].peer_listen is None
    for config in configs.values():
        assert config.admin_endpoint is not None and config.admin_endpoint.host == "127.0.0.1"
        assert config.metrics_endpoint is not None and config.metrics_endpoint.host == "127.0.0.1"
    prometheus = (root / "prometheus.yml").read_text()
    assert '"seq1.example.org:26660"' in prometheus and '"10.0.0.3:26670"' in prometheus


def test_loopback_hosts_get_free_ports_on_their_own_address(tmp_path: Path) -> None:
    hosts = {f"n{i}": f"127.0.0.{i + 1}" for i in range(1, 5)}
    root = init_cluster(ClusterSpec("lo", 4, hosts=hosts), tmp_path / "c")
    for name, host in hosts.items():
        config = load_node_config(root / name / "node.toml")
        own = config.endpoints[name]
        assert own.peer.host == own.client.host == host
        assert config.peer_bind == own.peer and config.client_bind == own.client
        assert config.admin_endpoint is not None and config.admin_endpoint.host == host
        assert config.metrics_endpoint is not None and config.metrics_endpoint.host == host


def test_compose_file_parses_and_runs_every_node(tmp_path: Path) -> None:
    root = init_cluster(ClusterSpec("dc", 4), tmp_path / "c", "compose")
    document = parse((root / "compose.yaml").read_text())
    names = ["n1", "n2", "n3", "n4"]
    assert list(document["services"]) == names
    assert list(document["volumes"]) == [f"{n}-data" for n in names]
    genesis = load_genesis(root / "genesis.toml")
    published = set()
    for name, service in document["services"].items():
        assert service["command"] == ["node", "--config", f"/node/{name}/node.toml"]
        assert f"{name}-data:/node/{name}/data" in service["volumes"]
        assert f"./{name}/key:/node/{name}/key:ro" in service["volumes"]
        assert not any(
            f"/n{i}/" in v for v in service["volumes"] for i in range(1, 5) if f"n{i}" != name
        )
        assert service["restart"] == "unless-stopped"
        assert genesis.addresses[name].peer == f"{name}:26656"  # the service name resolves
        config = load_node_config(root / name / "node.toml")
        assert config.peer_bind == ("0.0.0.0", 26656)
        assert config.metrics_endpoint == ("0.0.0.0", 26660)
        assert "26660" in service["expose"]
        metrics = [p for p in service["ports"] if p.endswith(":26660")]
        assert len(metrics) == 1 and metrics[0].startswith("127.0.0.1:")
        published.update(service["ports"])
        assert "${SEQUENCER_NET_SRC" in service["build"]["additional_contexts"]["src"]
    assert len(published) == 8, "each node's client and metrics ports are published apart"
    dockerfile = (root / "Dockerfile").read_text()
    copies = [line for line in dockerfile.splitlines() if line.startswith(("COPY", "ADD"))]
    assert copies and all(line.startswith("COPY --from=src ") for line in copies)
    assert (root / ".dockerignore").read_text().splitlines()[-1] == "*"


def test_compose_in_a_bundle_publishes_its_nodes_ports(tmp_path: Path) -> None:
    root = init_cluster(ClusterSpec("wan", 4, hosts=HOSTS), tmp_path / "c", "compose")
    document = parse((root / "bundles" / "10.0.0.3" / "compose.yaml").read_text())
    assert list(document["services"]) == ["n3", "n4"]
    assert document["services"]["n4"]["ports"] == ["26666:26666", "26667:26667", "26670:26670"]


def test_systemd_units_parse_and_restart_each_node(tmp_path: Path) -> None:
    root = init_cluster(ClusterSpec("sd", 3), tmp_path / "c", "systemd")
    units = sorted((root / "systemd").iterdir())
    assert [u.name for u in units] == [f"sequencer-net-n{i}.service" for i in (1, 2, 3)]
    for i, unit in enumerate(units, 1):
        parser = configparser.ConfigParser(interpolation=None, strict=True)
        parser.optionxform = str  # type: ignore[assignment,method-assign]
        parser.read_string(unit.read_text())
        assert parser.sections() == ["Unit", "Service", "Install"]
        service = parser["Service"]
        assert service["ExecStart"].endswith(f"node --config /var/lib/sequencer-net/n{i}/node.toml")
        assert service["Restart"] == "on-failure" and service["RestartPreventExitStatus"] == "2"
        assert service["ReadWritePaths"] == f"/var/lib/sequencer-net/n{i}/data"
        assert parser["Install"]["WantedBy"] == "multi-user.target"


def test_the_yaml_reader_is_strict_and_inverts_the_writer() -> None:
    document = {"a": {"b": ["x", 'q"uote', {"c": 1, "d": True}], "e": {}}, "f": "${X:-/p}"}
    assert parse(to_yaml(document)) == document
    for broken in ("a: b", 'a:\n   - "x"', "a: 1\na: 2", "a:\n\t- 1"):
        with pytest.raises(YamlError):
            parse(broken)


def test_hosts_flag_sets_the_node_count_and_writes_bundles(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    hosts = "seq1.example.org,seq2.example.org,seq3.example.org,seq4.example.org"
    code, out, err = run(
        capsys, "cluster", "init", "--hosts", hosts, "--deploy", "systemd", "--dir", tmp_path / "c"
    )
    assert code == 0, err
    assert out.strip() == str(tmp_path / "c")
    assert err.count("bundle ") == 4 and "docs/deploy.md" in err
    for i in range(1, 5):
        bundle = tmp_path / "c" / "bundles" / f"seq{i}.example.org"
        assert (bundle / "systemd" / f"sequencer-net-n{i}.service").is_file()
        assert bundle_nodes(bundle) == [f"n{i}"]


def test_hosts_in_a_spec_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    spec = tmp_path / "spec.toml"
    spec.write_text(
        '[cluster]\nname = "two"\nnodes = 2\n[nodes.n1]\nhost = "a.example"\n'
        '[nodes.n2]\nhost = "b.example"\nfaults = ["mute"]\n'
    )
    code, _, err = run(capsys, "cluster", "init", spec, "--dir", tmp_path / "c", "--allow-unsafe")
    assert code == 0, err
    assert bundle_nodes(tmp_path / "c" / "bundles" / "b.example") == ["n2"]
    spec.write_text('[cluster]\nname = "two"\nnodes = 2\n[nodes.n1]\nhost = "a.example"\n')
    code, _, err = run(capsys, "cluster", "init", spec, "--dir", tmp_path / "d")
    assert code == 2 and "nodes: give a host for every node or for none (none for n2)" in err


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["--hosts", "a,0.0.0.0"], "0.0.0.0 means every interface"),
        (["--hosts", "a,,b"], "an empty host"),
        (["--hosts", "a_b"], "neither an IP address nor a hostname"),
        (["--hosts", "a,b", "--nodes", "3"], "--hosts names 2 hosts for 3 nodes"),
        (["--nodes", "2", "--deploy", "k8s"], "invalid choice: 'k8s'"),
    ],
)
def test_bad_host_flags_are_usage_errors(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], argv: list[str], expected: str
) -> None:
    code, _, err = run(capsys, "cluster", "init", *argv, "--dir", tmp_path / "c")
    assert code == 2 and expected in err
    assert "Traceback" not in err and not (tmp_path / "c").exists()


def test_a_node_config_with_a_public_admin_address_is_refused_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = init_cluster(ClusterSpec("adm", 1), tmp_path / "c")
    path = root / "n1" / "node.toml"
    document = tomllib.loads(path.read_text())
    path.write_text(path.read_text().replace(document["admin_address"], "192.0.2.1:26658"))
    code, _, err = run(capsys, "node", "--config", path)
    assert code == 2
    assert err.count("\n") == 1 and "admin_address" in err and "must be a loopback" in err


def test_the_admin_tool_in_a_bundle_sees_that_hosts_nodes_only(tmp_path: Path) -> None:
    from sequencer_net.cluster.admin import admin_targets
    from sequencer_net.cluster.control import Cluster

    root = init_cluster(ClusterSpec("wan", 4, hosts=HOSTS), tmp_path / "c")
    targets = admin_targets(Cluster(root / "bundles" / "10.0.0.3"))
    assert sorted(targets) == ["n3", "n4"]
    assert targets["n4"].token == (root / "n4" / "admin_token").read_text().strip()
    assert sorted(admin_targets(Cluster(root))) == ["n1", "n2", "n3", "n4"]


@pytest.mark.parametrize("deploy", [None, "compose"])
def test_cluster_up_refuses_nodes_that_run_on_other_hosts(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], deploy: str | None
) -> None:
    """Starting them here would bind every interface and dial the other hosts."""
    spec = ClusterSpec("wan", 4, hosts=HOSTS) if deploy is None else ClusterSpec("dc", 4)
    root = init_cluster(spec, tmp_path / "c", deploy)
    code, _, err = run(capsys, "cluster", "up", root, "--detach")
    assert code == 1 and "not on this machine" in err and "docs/deploy.md" in err
    assert not (root / "cluster.json").exists()
    code, _, err = run(capsys, "cluster", "restart", "n1", "--dir", root)
    assert code == 1 and "not on this machine" in err


def test_the_example_hosts_spec_places_each_node_on_its_own_address(tmp_path: Path) -> None:
    from helpers.paths import CONFIGS

    from sequencer_net.config import load_cluster_spec

    spec = load_cluster_spec(CONFIGS / "hosts-4.toml")
    assert spec.hosts == {f"n{i}": f"127.0.0.{i + 1}" for i in range(1, 5)}
    root = init_cluster(spec, tmp_path / "c")
    assert [bundle_nodes(root / "bundles" / f"127.0.0.{i + 1}") for i in range(1, 5)] == [
        [f"n{i}"] for i in range(1, 5)
    ]
