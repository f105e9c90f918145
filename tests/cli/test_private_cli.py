"""`tx send --encrypt` refuses, with exit 2 and one line, what it cannot encrypt for: a chain
without a threshold key, no genesis at all, a missing genesis file, or --genesis alone."""

from __future__ import annotations

from pathlib import Path

import pytest
from helpers.cli import run

from sequencer_net.cluster.init import init_cluster
from sequencer_net.config import ClusterSpec


def test_encrypt_needs_a_genesis_with_a_threshold_key(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    plain = init_cluster(ClusterSpec("plain", 3), tmp_path / "plain")
    code, _, err = run(capsys, "tx", "send", "x", "--encrypt", "--dir", plain)
    assert code == 2 and "has no [private] table" in err and "Traceback" not in err
    code, _, err = run(
        capsys, "tx", "send", "x", "--encrypt", "--genesis", tmp_path / "none.toml", "--dir", plain
    )
    assert code == 2 and "file not found" in err
    code, _, err = run(capsys, "tx", "send", "x", "--genesis", plain / "genesis.toml")
    assert code == 2 and "--genesis goes with --encrypt" in err


def test_encrypt_with_a_dealt_key_reaches_the_node(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    root = init_cluster(ClusterSpec("priv", 3, private=True), tmp_path / "priv")
    # Nothing runs there: the payload was sealed, then the node could not be reached (exit 1).
    code, _, err = run(capsys, "tx", "send", "x", "--encrypt", "--dir", root)
    assert code == 1 and "cannot reach node" in err
