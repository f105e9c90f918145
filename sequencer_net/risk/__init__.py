"""`sequencer-net risk`: a Monte Carlo of sequencer downtime, censorship delay and the position
losses they cause, tied to this protocol's quorum rule and calibrated from its own runs.

numpy and matplotlib are the `risk` extra; nothing here is imported before a risk command
runs (tests/cli/test_cli_startup.py)."""
