"""Shared test setup: make the in-tree ``sequencer_net`` importable without an install."""

import sys
from pathlib import Path

ROOT = str(Path(__file__).resolve().parent.parent)
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)
