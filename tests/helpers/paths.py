"""Where the repository's example configs live, independent of a test file's depth."""

from __future__ import annotations

from pathlib import Path

CONFIGS = Path(__file__).resolve().parents[2] / "configs"
