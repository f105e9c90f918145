"""The demos' one-line errors: a cause a user can act on is found inside trio's exception
groups; anything else (a bug) is not hidden behind a message."""

from __future__ import annotations

import trio

from sequencer_net.commands.errors import script_problem
from sequencer_net.config import ConfigError


def test_a_user_facing_cause_inside_a_group_is_one_line() -> None:
    group = ExceptionGroup("nursery", [ConfigError("spec.toml: no [cluster] table")])
    assert script_problem(group, 30) == "spec.toml: no [cluster] table"
    assert script_problem(trio.TooSlowError(), 30) == (
        "the cluster did not start committing within 30 s"
    )


def test_a_bug_is_not_turned_into_a_message() -> None:
    assert script_problem(ExceptionGroup("nursery", [KeyError("x")]), 30) is None
