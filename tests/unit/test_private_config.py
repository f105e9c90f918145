"""The dealer at `cluster init` and the loaders of the threshold key: genesis's [private]
table and each node's 0600 share file, with a clear error for every way they can be wrong."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from sequencer_net.cluster.init import init_cluster
from sequencer_net.config import ClusterSpec, ConfigError, load_cluster_spec, load_genesis
from sequencer_net.config import load_node_config as load_node
from sequencer_net.threshold import envelope, hybrid
from sequencer_net.threshold.shares import decrypt, make_shares, valid_shares


def _private_cluster(tmp_path: Path, stakes: tuple[int, ...] = (10, 10, 10, 5)) -> Path:
    spec = ClusterSpec("priv", len(stakes), stakes, private=True)
    return init_cluster(spec, tmp_path / "c")


def test_spec_table_turns_the_dealer_on(tmp_path: Path) -> None:
    path = tmp_path / "spec.toml"
    path.write_text('[cluster]\nname = "p"\nnodes = 4\n[private]\nenabled = true\n')
    assert load_cluster_spec(path).private
    path.write_text('[cluster]\nname = "p"\nnodes = 4\n[private]\nenabled = "yes"\n')
    with pytest.raises(ConfigError, match=r"private\.enabled: expected a boolean"):
        load_cluster_spec(path)
    path.write_text('[cluster]\nname = "p"\nnodes = 4\n[private]\nenable = true\n')
    with pytest.raises(ConfigError, match="unknown key"):
        load_cluster_spec(path)


def test_init_deals_a_key_that_decrypts(tmp_path: Path) -> None:
    root = _private_cluster(tmp_path)
    genesis = load_genesis(root / "genesis.toml").genesis
    public = genesis.private
    assert public is not None
    assert public.share_count == 24 and public.threshold == 13
    nodes = [load_node(root / f"n{i}" / "node.toml") for i in range(1, 5)]
    for node in nodes:
        share_file = root / node.name / "threshold_share"
        assert stat.S_IMODE(share_file.stat().st_mode) == 0o600
        assert node.threshold_share is not None
    assert [len(n.threshold_share.shares) for n in nodes if n.threshold_share] == [7, 7, 7, 3]
    payload = envelope.seal(public.public_key, "ns", "alice", b"from a dealt key")
    ct = envelope.ciphertext_of(payload)
    shares = [s for n in nodes[:3] if n.threshold_share for s in make_shares(n.threshold_share, ct)]
    verified = valid_shares(public, ct, shares)
    assert decrypt(public, ct, "ns", "alice", verified) == b"from a dealt key"
    assert isinstance(ct, hybrid.Ciphertext)


def test_a_cluster_without_private_has_no_key_and_no_share_files(tmp_path: Path) -> None:
    root = init_cluster(ClusterSpec("plain", 3), tmp_path / "c")
    assert load_genesis(root / "genesis.toml").genesis.private is None
    assert not (root / "n1" / "threshold_share").exists()
    assert load_node(root / "n1" / "node.toml").threshold_share is None


def _rewrite(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new, 1))


def test_broken_private_table_is_named(tmp_path: Path) -> None:
    root = _private_cluster(tmp_path)
    genesis = root / "genesis.toml"
    original = genesis.read_text()
    _rewrite(genesis, "threshold = 13", "threshold = 12")
    with pytest.raises(ConfigError, match=r"private\.threshold: must be 13 for 24 shares"):
        load_genesis(genesis)
    genesis.write_text(original)
    public_key = load_genesis(genesis).genesis.private.public_key.hex()  # type: ignore[union-attr]
    _rewrite(genesis, public_key, "00" * 32)
    with pytest.raises(ConfigError, match=r"private\.public_key: expected 64 hex digits"):
        load_genesis(genesis)
    genesis.write_text(original)
    _rewrite(genesis, "n4 = [\n", "n4 = [\n    " + '"' + public_key + '",\n')
    with pytest.raises(ConfigError, match=r"verification_keys\.n4: expected 3 verification keys"):
        load_genesis(genesis)


def test_share_file_problems_are_named(tmp_path: Path) -> None:
    root = _private_cluster(tmp_path)
    other = _private_cluster(tmp_path / "other")
    share = root / "n1" / "threshold_share"
    os.chmod(share, 0o644)
    with pytest.raises(ConfigError, match="accessible by others"):
        load_node(root / "n1" / "node.toml")
    os.chmod(share, 0o600)
    share.unlink()
    with pytest.raises(ConfigError, match="threshold_share: file not found"):
        load_node(root / "n1" / "node.toml")
    # Another cluster's share file: the indices match, the verification keys do not.
    share.write_bytes((other / "n1" / "threshold_share").read_bytes())
    os.chmod(share, 0o600)
    with pytest.raises(ConfigError, match="does not match its verification key"):
        load_node(root / "n1" / "node.toml")
    share.unlink()
    share.write_bytes((root / "n2" / "threshold_share").read_bytes())
    os.chmod(share, 0o600)
    with pytest.raises(ConfigError, match="share indices are not the ones genesis gives"):
        load_node(root / "n1" / "node.toml")
    share.unlink()
    share.write_text('shares = [{ index = 1, secret = "zz" }]\n')
    os.chmod(share, 0o600)
    with pytest.raises(ConfigError, match=r"shares\[0\]\.secret: expected 64 hex digits"):
        load_node(root / "n1" / "node.toml")
    share.unlink()
    share.write_text("shares = [\n")
    os.chmod(share, 0o600)
    with pytest.raises(ConfigError, match="invalid TOML"):
        load_node(root / "n1" / "node.toml")
