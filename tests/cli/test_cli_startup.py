"""Every command must start fast: building the parser and printing any `--help` or the
version must not import the heavy libraries or the node itself (they are imported inside the
functions that run a command). Checked as a condition on ``sys.modules`` in a fresh
interpreter, never as a timing."""

from __future__ import annotations

import json
import subprocess
import sys

HEAVY = (
    "trio",
    "nacl",
    "rich",
    "structlog",
    "msgspec",
    "sqlite3",
    "numpy",
    "matplotlib",
    "sequencer_net.risk",
    "hypothesis",
    "pytest",
    "sequencer_net.runtime",
    "sequencer_net.replica",
    "sequencer_net.sim",
    "sequencer_net.store",
    "sequencer_net.client",
)

# Runs in a child: `--help` of the program and of every command and action, one after the
# other, noting after each what heavy modules it loaded.
PROBE = """
import argparse, contextlib, io, json, sys

heavy = {heavy!r}

def loaded():
    return sorted(m for m in heavy if m in sys.modules)

found = {{"import": loaded()}}
from sequencer_net import cli
found["import cli"] = loaded()

def paths(parser, prefix):
    yield prefix
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from paths(sub, [*prefix, name])

def run(argv):
    with contextlib.redirect_stdout(io.StringIO()):
        try:
            cli.main(argv)
        except SystemExit:
            pass
    found[" ".join(argv)] = loaded()

run(["--version"])
parser = cli._parser()
found["build the parser"] = loaded()
for path in paths(parser, []):
    run([*path, "--help"])
print(json.dumps(found))
"""


def test_help_and_version_of_every_command_load_no_heavy_module() -> None:
    done = subprocess.run(
        [sys.executable, "-c", PROBE.format(heavy=HEAVY)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    found = json.loads(done.stdout)
    assert "cluster up --help" in found and "evidence verify --help" in found, sorted(found)
    assert len(found) > 20, sorted(found)  # every command and action was asked for help
    loaded = {argv: modules for argv, modules in found.items() if modules}
    assert not loaded, f"imported at start-up (import them where the command runs): {loaded}"
