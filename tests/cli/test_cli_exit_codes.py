"""Exit statuses of the `sequencer-net` command: 0 done, 1 not done, 2 usage error; never a
traceback for something a user can type."""

from __future__ import annotations

import sys
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


def test_operator_view_commands_refuse_what_they_cannot_do(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["status", "--consensus", "--node", "127.0.0.1:1"]) == 2
    assert "name the node" in capsys.readouterr().err
    assert main(["status", "--consensus", "--all", "--dir", str(tmp_path)]) == 2
    assert "shows one node" in capsys.readouterr().err
    assert main(["status", "--consensus", "--dir", str(tmp_path)]) == 2
    assert "not a cluster dir" in capsys.readouterr().err
    assert main(["watch", "--json", "--dir", str(tmp_path)]) == 2
    assert "use it with --once" in capsys.readouterr().err
    assert main(["watch", "--interval", "0", "--dir", str(tmp_path)]) == 2
    assert main(["watch", str(tmp_path)]) == 1  # no cluster there: nothing to watch
    assert "not a cluster dir" in capsys.readouterr().err
    assert main(["report", str(tmp_path / "nowhere")]) == 2
    assert "no such directory" in capsys.readouterr().err
    assert main(["report", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "no node logs" in err and "Traceback" not in err


def test_report_without_matplotlib_says_which_extra_to_install(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # as if not installed
    assert main(["report", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert "needs matplotlib: pip install -e '.[report]'" in err and "Traceback" not in err
