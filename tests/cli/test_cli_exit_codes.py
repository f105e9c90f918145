"""Exit statuses of the `sequencer-net` command: 0 done, 1 not done, 2 usage error; never a
traceback for something a user can type."""

from __future__ import annotations

from pathlib import Path

import pytest

from sequencer_net.cli import main


def test_negative_height_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["batch", "show", "--node", "127.0.0.1:1", "--", "-1"]) == 2
    assert "height must be 1 or more" in capsys.readouterr().err


def test_oversized_load_is_refused_up_front(capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["load", "--node", "127.0.0.1:1", "--rate", "1", "--duration", "1"]
    assert main([*argv, "--size", "100000"]) == 2
    assert "--size must be 1..65536" in capsys.readouterr().err


def test_load_knobs_out_of_range_are_usage_errors(capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["load", "--node", "127.0.0.1:1", "--rate", "1", "--duration", "1"]
    assert main([*argv, "--clients", "0"]) == 2
    assert "clients must be 1..16" in capsys.readouterr().err
    assert main([*argv, "--submitters", "0"]) == 2
    assert main([*argv, "--interval", "5"]) == 2


def test_payload_from_a_file_over_the_limit_is_a_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    big = tmp_path / "big"
    big.write_bytes(bytes(70_000))
    assert main(["tx", "send", "--node", "127.0.0.1:1", "--file", str(big)]) == 2
    assert "payload exceeds 65536 bytes" in capsys.readouterr().err
    assert main(["tx", "send", "--node", "127.0.0.1:1", "x", "--file", str(big)]) == 2


def test_an_unreachable_node_is_a_failure_not_a_traceback(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["tx", "send", "--node", "127.0.0.1:1", "hello"]) == 1
    err = capsys.readouterr().err
    assert "error:" in err and "Traceback" not in err
