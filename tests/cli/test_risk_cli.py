"""`sequencer-net risk` as a user runs it: every shipped scenario loads and runs, the JSON
carries every variant, and a bad scenario is one line naming the file and key, exit 2."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from helpers.paths import CONFIGS

from sequencer_net.cli import main

SCENARIOS = sorted(CONFIGS.glob("risk-*.toml"))


def test_the_shipped_scenarios_exist() -> None:
    names = {p.stem for p in SCENARIOS}
    assert {
        "risk-single",
        "risk-4",
        "risk-7-weighted",
        "risk-censor",
        "risk-shared-provider",
    } <= names


@pytest.mark.parametrize("path", SCENARIOS, ids=lambda p: p.stem)
def test_every_scenario_runs_and_reports_every_variant(
    path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["risk", str(path), "--trials", "2000", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["trials"] == 2000
    variants = out["variants"]
    assert {"single sequencer", "set", "set, no reputation"} <= set(variants)
    assert len(variants) == 4
    for numbers in variants.values():
        assert numbers["cvar_99"] >= numbers["var_99"] >= 0
        assert numbers["downtime_min_p99"] >= 0


def test_the_table_names_every_variant(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["risk", str(CONFIGS / "risk-4.toml"), "--trials", "1000"]) == 0
    out = capsys.readouterr().out
    assert "single sequencer" in out and "set, no reputation" in out and "CVaR 99" in out


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "bad.toml"
    path.write_text((CONFIGS / "risk-4.toml").read_text() + text)
    return path


@pytest.mark.parametrize(
    ("extra", "replace", "message"),
    [
        (
            "",
            ("mtbf_days = 180\nmttr_minutes = 134\nrepair", "mttr_minutes = 134\nrepair"),
            "single.mtbf_days: missing",
        ),
        ("", ("stakes = [10, 10, 10, 10]", "stakes = [10, -1]"), "set.stakes: expected a list"),
        (
            "",
            ("annual_volatility = 0.7", "annual_volatility = 'high'"),
            "exposure.annual_volatility: expected a number",
        ),
        (
            "\n[[groups]]\nmembers = ['n9']\nmtbf_days = 1\nmttr_minutes = 1\n",
            None,
            "groups[0].members: 'n9' is not a node",
        ),
        ("", ("[escape]", "[escape]\ndelay = 3"), "escape.delay: unknown key"),
        (
            "",
            ('repair = "lognormal"\nshape = 1.0\n\n# Each', 'repair = "weibull"\n\n# Each'),
            "single.repair: expected one of",
        ),
        (
            "\n[[exposure.positions]]\nnotional = 1\nleverage = 2\nside = 'up'\n",
            None,
            "exposure.positions[3].side",
        ),
        ("x = [", None, "not valid TOML"),
        (
            "",
            (
                "mtbf_days = 180\nmttr_minutes = 134\nrepair",
                "mtbf_days = 0.01\nmttr_minutes = 134\nrepair",
            ),
            "single.mtbf_days: 36,500 failures expected in the horizon",
        ),
    ],
)
def test_a_bad_scenario_names_file_and_key(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    extra: str,
    replace: tuple[str, str] | None,
    message: str,
) -> None:
    path = write(tmp_path, extra)
    if replace is not None:
        text = path.read_text()
        assert replace[0] in text
        path.write_text(text.replace(replace[0], replace[1], 1))
    assert main(["risk", str(path), "--trials", "10"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1, err
    assert f"{path}: " in err and message in err, err


def test_usage_errors_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["risk", str(tmp_path / "missing.toml")]) == 2
    assert "missing.toml: cannot read" in capsys.readouterr().err
    assert main(["risk", "a.toml", "b.toml"]) == 2
    assert main(["risk", "calibrate"]) == 2
    assert main(["risk", str(CONFIGS / "risk-4.toml"), "--trials", "0"]) == 2


def test_without_the_risk_extra_one_line_says_what_to_install(tmp_path: Path) -> None:
    probe = (
        "import sys; sys.modules['numpy'] = None\n"
        "from sequencer_net.cli import main\n"
        f"sys.exit(main(['risk', {str(CONFIGS / 'risk-4.toml')!r}]))"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 1
    assert done.stderr == "sequencer-net risk: error: needs numpy: pip install -e '.[risk]'\n"
