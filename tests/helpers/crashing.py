"""Test helper: run a child that reports progress line by line, then kill -9 it mid-stride."""

from __future__ import annotations

import os
import signal
import subprocess
import sys


def kill_after_reports(script: str, *args: str, reports: int = 5) -> list[int]:
    """Run ``script`` with ``args``, read ``reports`` integer lines, SIGKILL it and reap it.

    Asserts the child really died by the signal (it did not finish first)."""
    child = subprocess.Popen(
        [sys.executable, "-c", script, *args], stdout=subprocess.PIPE, text=True
    )
    try:
        assert child.stdout is not None
        reported = [int(child.stdout.readline()) for _ in range(reports)]
        os.kill(child.pid, signal.SIGKILL)
    finally:
        child.kill()
        child.wait()
        assert child.stdout is not None
        child.stdout.close()
    assert child.returncode == -signal.SIGKILL, "the child finished before it was killed"
    return reported
