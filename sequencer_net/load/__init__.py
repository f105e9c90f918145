"""Open-loop load generator: `sequencer-net load`, `cluster up --load` and `scripts/bench.py`.

Transactions are made before the clock starts. Several connections per node (and, with
``clients > 1``, several processes) each send one bulk request per interval on a fixed
schedule, so requests overlap and a slow answer delays nothing after it. "Busy" answers are
retried after a short pause. One follower matches acknowledgements with commits for latency.
The report gives the rate really offered beside the committed one, and the generator's CPU.
"""

from .plan import LoadPlan
from .report import LoadReport
from .run import run_load, run_plan

__all__ = ["LoadPlan", "LoadReport", "run_load", "run_plan"]
