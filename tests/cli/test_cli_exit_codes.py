"""Exit statuses of the `sequencer-net` command: 0 done, 1 not done, 2 usage error; never a
traceback for something a user can type."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from sequencer_net.cli import main


def test_negative_height_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["batch", "show", "--node", "127.0.0.1:1", "--", "-1"]) == 2
    assert "height: must be an integer from 1 to" in capsys.readouterr().err


def test_oversized_load_is_refused_up_front(capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["load", "--node", "127.0.0.1:1", "--rate", "1", "--duration", "1"]
    assert main([*argv, "--size", "100000"]) == 2
    assert "--size must be 1..65536" in capsys.readouterr().err


def test_load_knobs_out_of_range_are_usage_errors(capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["load", "--node", "127.0.0.1:1", "--rate", "1", "--duration", "1"]
    assert main([*argv, "--clients", "0"]) == 2
    assert "--clients: must be an integer from 1 to 16" in capsys.readouterr().err
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
    assert main(["watch", str(tmp_path)]) == 2  # a dir the user named that holds no cluster
    assert "not a cluster dir" in capsys.readouterr().err
    assert main(["report", str(tmp_path / "nowhere")]) == 2
    assert "no such directory" in capsys.readouterr().err
    assert main(["report", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "not a cluster dir" in err and "Traceback" not in err


def test_report_without_matplotlib_says_which_extra_to_install(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # as if not installed
    (tmp_path / "genesis.toml").touch()
    assert main(["report", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert "needs matplotlib: pip install -e '.[report]'" in err and "Traceback" not in err


BAD_ADDRESSES = [":::", ":", "127.0.0.1:99999", "127.0.0.1:0", "host:-1", "[::1", "::1:80"]
BAD_ADDRESSES += ["[nope]:80", "a b:1", "127.0.0.1:²", "-x:80", ""]
NODE_COMMANDS = [
    ["status"],
    ["status", "--consensus"],
    ["tx", "send", "x"],
    ["tx", "status", "00" * 32],
    ["batch", "show", "1"],
    ["load", "--rate", "1", "--duration", "1"],
    ["evidence", "list"],
    ["evidence", "show", "00"],
    ["censorship", "report"],
]


@pytest.mark.parametrize("address", BAD_ADDRESSES)
@pytest.mark.parametrize("command", NODE_COMMANDS, ids=" ".join)
def test_a_bad_node_address_is_a_usage_error(
    command: list[str], address: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main([*command, "--node", address]) == 2
    err = capsys.readouterr().err
    assert "argument --node" in err and "Traceback" not in err


OUT_OF_RANGE_INTS = ["18446744073709551616", "9223372036854775808", "-1", "-99999999999999999999"]
NOT_FINITE = ["1e400", "inf", "-inf", "nan", "-1"]
NUMBER_OPTIONS = [
    (["batch", "show", "--node", "127.0.0.1:1", "--"], "", [*OUT_OF_RANGE_INTS, "0"]),
    (["load", "--node", "127.0.0.1:1", "--duration", "1"], "--rate", OUT_OF_RANGE_INTS),
    (["load", "--node", "127.0.0.1:1", "--rate", "1"], "--duration", [*NOT_FINITE, "0"]),
    (["load", "--node", "127.0.0.1:1", "--rate", "1", "--duration", "1"], "--size", ["-1"]),
    (["tx", "send", "x", "--node", "127.0.0.1:1"], "--timeout", NOT_FINITE),
    (["tx", "send", "x", "--node", "127.0.0.1:1"], "--fanout", OUT_OF_RANGE_INTS),
    (["watch", "--dir", "."], "--interval", NOT_FINITE),
    (["watch", "--dir", "."], "--duration", NOT_FINITE),
    (["cluster", "init"], "--nodes", OUT_OF_RANGE_INTS),
    (["cluster", "up", "--nodes", "4"], "--load", OUT_OF_RANGE_INTS),
    (["cluster", "up", "--nodes", "4"], "--duration", NOT_FINITE),
    (["cluster", "up", "--nodes", "4"], "--startup-timeout", NOT_FINITE),
    (["sim"], "--nodes", OUT_OF_RANGE_INTS),
    (["sim"], "--seeds", OUT_OF_RANGE_INTS),
    (["sim"], "--seed", OUT_OF_RANGE_INTS),
    (["sim"], "--heights", OUT_OF_RANGE_INTS),
    (["sim"], "--gst-ms", ["18446744073709551616", "-2"]),
    (["sim"], "--workers", OUT_OF_RANGE_INTS),
    (["sim"], "--drop", [*NOT_FINITE, "2"]),
    (["sim"], "--stake", ["99999999999999999999999,1,1,1"]),
    (["risk"], "--seed", OUT_OF_RANGE_INTS),
]


@pytest.mark.parametrize(
    ("command", "option", "values"),
    NUMBER_OPTIONS,
    ids=[" ".join([*c, o]) for c, o, _ in NUMBER_OPTIONS],
)
def test_numbers_out_of_range_are_usage_errors(
    command: list[str], option: str, values: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    for value in values:
        argv = [*command, option, value] if option else [*command, value]
        assert main(argv) == 2, argv
        err = capsys.readouterr().err
        assert "error: " in err and "Traceback" not in err, (argv, err)


def test_stakes_past_what_64_bits_hold_are_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = [
        "cluster",
        "init",
        "--nodes",
        "2",
        "--stake",
        f"{2**60},1",
        "--dir",
        str(tmp_path / "c"),
    ]
    assert main(argv) == 2
    assert "2**60 at most" in capsys.readouterr().err
    assert not (tmp_path / "c" / "genesis.toml").exists()


@pytest.mark.parametrize(
    "command",
    [
        ["watch", "--once"],
        ["report"],
        ["cluster", "status"],
        ["cluster", "down"],
        ["cluster", "kill", "n1", "--dir"],
        ["censorship", "report", "--dir"],
        ["evidence", "list", "--dir"],
        ["risk", "calibrate"],
    ],
    ids=" ".join,
)
def test_a_missing_dir_given_by_the_user_is_a_usage_error(
    command: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for given in (tmp_path / "missing", tmp_path / "a-file", tmp_path):
        (tmp_path / "a-file").touch()
        if given == tmp_path and command[0] in ("censorship", "evidence"):
            continue  # they also read a lone node's dir, which need not hold a genesis
        assert main([*command, str(given)]) == 2, given
        err = capsys.readouterr().err
        assert str(given) in err and "Traceback" not in err


def test_report_out_must_be_a_directory(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = tmp_path / "c"
    assert main(["cluster", "init", "--nodes", "1", "--dir", str(root)]) == 0
    capsys.readouterr()
    (tmp_path / "file").write_text("x")
    assert main(["report", str(root), "--out", str(tmp_path / "file")]) == 2
    err = capsys.readouterr().err
    assert "exists and is not a directory" in err and "Errno" not in err
    assert (tmp_path / "file").read_text() == "x"
    assert main(["report", str(root), "--out", str(tmp_path / "file" / "sub")]) == 2
    assert "cannot create it" in capsys.readouterr().err


def test_files_nested_too_deeply_are_refused_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """tomllib and json parse nesting by recursion: a deep file gave a RecursionError trace."""
    deep_toml, deep_json = tmp_path / "deep.toml", tmp_path / "deep.jsonl"
    deep_toml.write_text("a = " + "[" * 100_000 + "]" * 100_000 + "\n")
    deep_json.write_text("[" * 100_000 + "]" * 100_000 + "\n")
    root = tmp_path / "c"
    assert main(["cluster", "init", "--nodes", "1", "--dir", str(root)]) == 0
    genesis = str(root / "genesis.toml")
    for argv in (
        ["cluster", "init", str(deep_toml), "--dir", str(tmp_path / "d")],
        ["node", "--config", str(deep_toml)],
        ["risk", str(deep_toml)],
        ["evidence", "verify", genesis, "--genesis", str(deep_toml)],
    ):
        capsys.readouterr()
        assert main(argv) == 2, argv
        err = capsys.readouterr().err
        assert "nested too deeply" in err and "Traceback" not in err, argv
    assert main(["evidence", "verify", str(deep_json), "--genesis", genesis]) == 1
    assert "nested too deeply" in capsys.readouterr().out


def test_a_proof_file_nested_too_deeply_is_a_failed_proof_not_a_traceback(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    deep = tmp_path / "deep.json"
    deep.write_text("[" * 100_000 + "]" * 100_000 + "\n")
    root = tmp_path / "c"
    assert main(["cluster", "init", "--nodes", "1", "--dir", str(root)]) == 0
    capsys.readouterr()
    genesis = str(root / "genesis.toml")
    assert main(["namespace", "verify", str(deep), "--genesis", genesis]) == 1
    err = capsys.readouterr().err
    assert "nested too deeply" in err and "Traceback" not in err
