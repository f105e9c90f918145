"""Fixtures for the command-line tests."""

from __future__ import annotations

import pytest


@pytest.fixture
def wide_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    """Rich tables fit the terminal; wide enough that no cell wraps, so rows can be matched."""
    monkeypatch.setenv("COLUMNS", "220")
