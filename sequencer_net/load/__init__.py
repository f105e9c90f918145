"""Open-loop load generator: `sequencer-net load`, `cluster up --load` and `scripts/bench.py`.

Transactions are made before the clock starts. Several connections per node (and, with
``clients > 1``, several processes) each send one bulk request per interval on a fixed
schedule, so requests overlap and a slow answer delays nothing after it. "Busy" answers are
retried after a short pause. One follower matches acknowledgements with commits for latency.
The report gives the rate really offered beside the committed one, and the generator's CPU.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .plan import LoadPlan
    from .report import LoadReport
    from .run import run_load, run_plan

__all__ = ["LoadPlan", "LoadReport", "run_load", "run_plan"]

# Imported on first use, so the CLI's parser can read `load.plan`'s defaults without loading
# the client, trio and msgspec (tests/cli/test_cli_startup.py).
_HOME = {"LoadPlan": "plan", "LoadReport": "report", "run_load": "run", "run_plan": "run"}


def __getattr__(name: str) -> Any:
    if name not in _HOME:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f".{_HOME[name]}", __name__), name)
