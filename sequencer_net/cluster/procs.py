"""OS process primitives for node processes: start, inspect, signal, wait (Linux /proc).

A node is identified by its pid *and* its start time (clock ticks since boot, from
/proc/PID/stat), so a pid the kernel has reused for an unrelated process is never signalled.
Each node leads its own session and process group, so signals go to the whole group and a
Ctrl-C in the launcher's terminal does not reach the nodes behind its back.
"""

from __future__ import annotations

import os
import shlex
import signal
import subprocess
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path

from .errors import ClusterError

POLL_S = 0.05

# Processes this launcher started, kept so they can be reaped (a dead child stays a zombie
# until its parent waits for it) and so Popen does not warn about children still running.
_children: dict[int, subprocess.Popen[bytes]] = {}


class ProcState(StrEnum):
    ALIVE = "alive"
    PAUSED = "paused"
    DEAD = "dead"  # recorded as started, gone without `cluster down`: crashed or killed
    STOPPED = "stopped"  # not recorded as running: never started, or stopped by `cluster down`


@dataclass(frozen=True)
class Proc:
    """One started node process."""

    pid: int
    start_ticks: int
    started_at: str


def _stat(pid: int) -> tuple[str, int] | None:
    """State letter and start time from /proc/PID/stat; None when there is no such process."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name in parentheses may itself contain spaces and parentheses.
    after_name = text[text.rindex(")") + 2 :].split()
    return after_name[0], int(after_name[19])


def state(proc: Proc) -> ProcState:
    info = _stat(proc.pid)
    if info is not None and info[1] != proc.start_ticks:
        return ProcState.DEAD  # the pid now belongs to another process
    if info is None or info[0] in ("Z", "X"):
        child = _children.pop(proc.pid, None)
        if child is not None:
            child.wait()  # our own child stays a zombie until reaped; it is dead, so no wait
        return ProcState.DEAD
    return ProcState.PAUSED if info[0] in ("T", "t") else ProcState.ALIVE


def spawn(argv: Sequence[str], output: Path) -> Proc:
    """Start ``argv`` in its own session, stdout and stderr appended to ``output``."""
    started_at = datetime.now(UTC).isoformat(timespec="seconds")
    with output.open("ab") as out:
        out.write(f"--- {started_at} {shlex.join(argv)}\n".encode())
        out.flush()
        try:
            child = subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                env={**os.environ, "PYTHONUNBUFFERED": "1"},  # node.out shows logs as they come
            )
        except OSError as exc:
            raise ClusterError(f"cannot start {shlex.join(argv)}: {exc}") from None
    _children[child.pid] = child
    info = _stat(child.pid)  # present even if it already exited: unreaped, it is a zombie
    assert info is not None, "a child not yet reaped has a /proc entry"
    return Proc(child.pid, info[1], started_at)


def send(proc: Proc, signum: signal.Signals) -> bool:
    """Signal the process group of ``proc``; False when it is already dead."""
    if state(proc) is ProcState.DEAD:
        return False
    try:
        os.killpg(proc.pid, signum)
    except ProcessLookupError:
        return False
    return True


def wait_dead(procs: Iterable[Proc], timeout: float) -> list[Proc]:
    """Wait until every process is dead or ``timeout`` seconds pass; return the survivors."""
    deadline = time.monotonic() + timeout
    alive = list(procs)
    while True:
        alive = [p for p in alive if state(p) is not ProcState.DEAD]
        if not alive or time.monotonic() >= deadline:
            return alive
        time.sleep(POLL_S)


def stop(procs: Iterable[Proc], timeout: float) -> list[Proc]:
    """SIGTERM, wait up to ``timeout`` s, then SIGKILL what is left; return those killed.

    SIGCONT follows SIGTERM because a paused process cannot act on SIGTERM until resumed."""
    pending = [p for p in procs if send(p, signal.SIGTERM)]
    for proc in pending:
        send(proc, signal.SIGCONT)
    stubborn = wait_dead(pending, timeout)
    for proc in stubborn:
        send(proc, signal.SIGKILL)
    wait_dead(stubborn, timeout)
    return stubborn


def kill(proc: Proc, timeout: float) -> bool:
    """SIGKILL and wait until it is gone; False when it was already dead."""
    if not send(proc, signal.SIGKILL):
        return False
    if wait_dead([proc], timeout):
        raise ClusterError(f"pid {proc.pid} survived SIGKILL for {timeout} s")
    return True
