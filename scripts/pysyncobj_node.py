"""One pysyncobj (Raft) process for `scripts/bench.py --compare pysyncobj`: a replicated
append-only log, loaded from inside the process as pysyncobj's own benchmarks do.

    python scripts/pysyncobj_node.py SELF_ADDR PARTNER_ADDR...

Talks to the bench over stdin/stdout, one JSON object a line: it prints {"ready": true} once
the cluster has a leader; each {"rate": R, "seconds": S, "size": B} line then offers R
appends/s of B-byte payloads for S seconds and prints what committed (the callback fired on
this process) with every commit latency in ms; {"quit": true} ends it.
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time

from pysyncobj import FAIL_REASON, SyncObj, SyncObjConf, replicated

DRAIN_S = 5.0
TICK_S = 0.005


class Log(SyncObj):
    """The replicated state: how many payloads were appended and their total size (the
    payloads themselves are not kept, so memory stays flat over a long run)."""

    def __init__(self, self_address: str, partners: list[str]) -> None:
        super().__init__(self_address, partners, SyncObjConf(dynamicMembershipChange=False))
        self.appended = 0
        self.appended_bytes = 0

    @replicated
    def append(self, payload: bytes) -> int:
        self.appended += 1
        self.appended_bytes += len(payload)
        return self.appended


def offer(log: Log, rate: int, seconds: float, size: int) -> dict[str, object]:
    """Offer ``rate`` appends/s on a fixed schedule; wait for their callbacks."""
    lock = threading.Lock()
    latencies: list[float] = []
    failed = [0]
    last = [0.0]

    def done_at(sent: float):
        def callback(_result: object, error: int) -> None:
            now = time.monotonic()
            with lock:
                if error == FAIL_REASON.SUCCESS:
                    latencies.append(round((now - sent) * 1000, 2))
                    last[0] = max(last[0], now)
                else:
                    failed[0] += 1

        return callback

    tag = os.urandom(8)
    payloads = [
        tag + n.to_bytes(8, "big") + bytes(max(0, size - 16)) for n in range(int(rate * seconds))
    ]
    cpu = os.times()
    start = time.monotonic()
    sent = 0
    while sent < len(payloads):
        now = time.monotonic()
        owed = min(len(payloads), int(rate * (now - start)))
        while sent < owed:
            log.append(payloads[sent], callback=done_at(now))
            sent += 1
        time.sleep(TICK_S)
    deadline = time.monotonic() + DRAIN_S
    while time.monotonic() < deadline:
        with lock:
            if len(latencies) + failed[0] >= sent:
                break
        time.sleep(0.01)
    after = os.times()
    with lock:
        return {
            "sent": sent,
            "committed": len(latencies),
            "failed": failed[0],
            "seconds": seconds,
            "committed_window_s": max(0.0, last[0] - start),
            "latencies_ms": sorted(latencies),
            "cpu_s": round(after.user + after.system - cpu.user - cpu.system, 2),
        }


def main() -> None:
    self_address, *partners = sys.argv[1:]
    log = Log(self_address, partners)
    while log._getLeader() is None or not log.isReady():
        time.sleep(0.05)
    print(json.dumps({"ready": True}), flush=True)
    for line in sys.stdin:
        request = json.loads(line)
        if request.get("quit"):
            break
        result = offer(log, int(request["rate"]), float(request["seconds"]), int(request["size"]))
        print(json.dumps(result), flush=True)
    log.destroy()


if __name__ == "__main__":
    main()
