"""Run the `sequencer-net` command in process and capture what it printed."""

from __future__ import annotations

from pathlib import Path

import pytest

from sequencer_net.cli import main


def run(capsys: pytest.CaptureFixture[str], *argv: str | Path) -> tuple[int, str, str]:
    """Exit code, stdout and stderr of `sequencer-net ARGV`."""
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err
