"""`risk --report D`: the numbers handed to matplotlib are the model's, and what it writes
are real, non-blank PNGs and a page that shows them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from helpers.paths import CONFIGS
from helpers.risk import scenario
from matplotlib import image
from matplotlib.axes import Axes

from sequencer_net.cli import main
from sequencer_net.risk import plots
from sequencer_net.risk.model import run


def test_plot_data_is_the_models_numbers() -> None:
    s = scenario()
    results = run(s, 600, seed=4)
    data = plots.plot_data(s, results, seed=4)
    for r in results:
        x, p = data["outage_cdf"][r.name]
        assert x == sorted(x) and p == sorted(p) and p[-1] == 1.0
        assert len(x) <= plots.CDF_POINTS
        assert x[0] == pytest.approx(r.durations_s.min() / 60)
        assert x[-1] == pytest.approx(r.durations_s.max() / 60)
        lx, lp = data["loss_exceedance"][r.name]
        assert all(v > 0 for v in lx) and lp == sorted(lp, reverse=True)
    sens = data["sensitivity"]
    assert sens["trials"] == 600 and sens["factors"][2] == 1.0
    for lines in sens["lines"].values():
        for r in results:  # at factor 1 the sensitivity run is the base run (same seed)
            assert lines[r.name][2] == pytest.approx(r.losses.mean())
    for values in sens["lines"]["price volatility"].values():
        assert values == sorted(values)  # the same draws, scaled up, breach more
    assert sens["lines"]["price volatility"]["single sequencer"][-1] > 0


def test_report_draws_that_data_into_non_blank_pngs(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    drawn: list[tuple[str, list[float], list[float]]] = []
    inside = [False]  # Axes.step draws through Axes.plot: record only the outer call
    for method in ("step", "plot"):
        original = getattr(Axes, method)

        def record(self: Axes, x: Any, y: Any, *a: Any, _o: Any = original, **k: Any) -> Any:
            if inside[0]:
                return _o(self, x, y, *a, **k)
            drawn.append((k.get("label"), list(x), list(y)))
            inside[0] = True
            try:
                return _o(self, x, y, *a, **k)
            finally:
                inside[0] = False

        monkeypatch.setattr(Axes, method, record)
    out_dir = tmp_path / "report"
    assert (
        main(
            [
                "risk",
                str(CONFIGS / "risk-4.toml"),
                "--trials",
                "800",
                "--report",
                str(out_dir),
                "--json",
            ]
        )
        == 0
    )
    summary = json.loads(capsys.readouterr().out)
    assert summary["report"] == str(out_dir / "index.html")
    saved = json.loads((out_dir / "data.json").read_text())["plots"]
    expected = [
        (name, x, y)
        for key in ("outage_cdf", "censor_cdf", "loss_exceedance")
        for name, (x, y) in saved[key].items()
        if x and (key != "censor_cdf" or max(x) > 0)
    ]
    assert drawn[: len(expected)] == expected
    factors = saved["sensitivity"]["factors"]
    curves = [
        (v, factors, ys)
        for lines in saved["sensitivity"]["lines"].values()
        for v, ys in lines.items()
    ]
    assert drawn[len(expected) :] == curves
    page = (out_dir / "index.html").read_text()
    for name in ("outages.png", "censorship.png", "losses.png", "sensitivity.png"):
        assert f'src="{name}"' in page
        pixels = image.imread(out_dir / name)
        assert pixels.ndim == 3 and pixels.shape[0] > 200 and pixels.shape[1] > 300
        colours = np.unique(pixels.reshape(-1, pixels.shape[2]), axis=0)
        assert len(colours) > 20, name  # axes, text and lines, not a blank canvas
    assert "single sequencer" in page and "CVaR 99" in page
