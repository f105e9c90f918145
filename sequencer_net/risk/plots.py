"""`risk --report D`: PNG plots and an index.html. The numbers each plot shows are computed
first (``plot_data``), apart from the drawing, so a test can check what reaches matplotlib."""

from __future__ import annotations

import html
import json
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from ..commands.errors import UsageError
from .model import VariantResult, run
from .scenario import Failures, Scenario

FACTORS = (0.25, 0.5, 1.0, 2.0, 4.0)
SENSITIVITY_TRIALS = 10_000
CDF_POINTS = 400
STYLES = ("-", "--", ":", "-.")


def _scale_failures(f: Failures, mtbf: float = 1.0, mttr: float = 1.0) -> Failures:
    return replace(f, mtbf_s=f.mtbf_s * mtbf, mttr_s=f.mttr_s * mttr)


def _scale_all(s: Scenario, mtbf: float = 1.0, mttr: float = 1.0) -> Scenario:
    sequencers = s.sequencers
    groups = tuple(
        replace(g, failures=_scale_failures(g.failures, mtbf, mttr)) for g in sequencers.groups
    )
    return replace(
        s,
        single=_scale_failures(s.single, mtbf, mttr),
        shared_provider=_scale_failures(s.shared_provider, mtbf, mttr),
        sequencers=replace(
            sequencers, failures=_scale_failures(sequencers.failures, mtbf, mttr), groups=groups
        ),
    )


# Each parameter of the sensitivity plot, as a way to scale it in a scenario.
PARAMETERS: dict[str, Callable[[Scenario, float], Scenario]] = {
    "time between failures": lambda s, k: _scale_all(s, mtbf=k),
    "repair time": lambda s, k: _scale_all(s, mttr=k),
    "price volatility": lambda s, k: replace(
        s, exposure=replace(s.exposure, annual_volatility=s.exposure.annual_volatility * k)
    ),
    "oracle grace period": lambda s, k: replace(
        s, exposure=replace(s.exposure, oracle_grace_s=s.exposure.oracle_grace_s * k)
    ),
    "L1 escape delay": lambda s, k: replace(s, escape_delay_s=s.escape_delay_s * k),
    "recovery after quorum returns": lambda s, k: s.with_protocol(
        recovery_s=s.protocol.recovery_s * k
    ),
}


def cdf(values: np.ndarray) -> tuple[list[float], list[float]]:
    """An empirical CDF thinned to at most CDF_POINTS points: ``(x, P(X <= x))``."""
    if len(values) == 0:
        return [], []
    ordered = np.sort(values)
    picks = np.unique(np.linspace(0, len(ordered) - 1, CDF_POINTS).round().astype(int))
    return ordered[picks].tolist(), ((picks + 1) / len(ordered)).tolist()


def exceedance(values: np.ndarray) -> tuple[list[float], list[float]]:
    """``(x, P(X >= x))`` at the distinct positive values (at most CDF_POINTS of them): the
    tail a loss plot shows. Losses take few distinct values (a breach costs a fixed amount),
    and most trials lose nothing, so thinning by rank would leave almost no points."""
    ordered = np.sort(values)
    levels = np.unique(ordered[ordered > 0])
    if len(levels) > CDF_POINTS:
        levels = levels[np.linspace(0, len(levels) - 1, CDF_POINTS).round().astype(int)]
    at_least = 1 - np.searchsorted(ordered, levels, side="left") / len(ordered)
    return levels.tolist(), at_least.tolist()


def plot_data(
    scenario: Scenario, results: list[VariantResult], seed: int
) -> dict[str, dict[str, Any]]:
    """The series of every plot: outage durations (minutes), censored-transaction delays
    (seconds), annual losses, and expected loss against each parameter's scale factor."""
    trials = min(SENSITIVITY_TRIALS, len(results[0].losses))
    sensitivity: dict[str, dict[str, list[float]]] = {}
    for name, scale in PARAMETERS.items():
        runs = [run(scale(scenario, k), trials, seed) for k in FACTORS]
        sensitivity[name] = {
            r.name: [float(rs[i].losses.mean()) for rs in runs] for i, r in enumerate(results)
        }
    return {
        "outage_cdf": {r.name: cdf(r.durations_s / 60) for r in results},
        "censor_cdf": {r.name: cdf(r.censor_delay_s) for r in results},
        "loss_exceedance": {r.name: exceedance(r.losses) for r in results},
        "sensitivity": {"factors": list(FACTORS), "trials": trials, "lines": sensitivity},
    }


def write_report(
    directory: Path,
    scenario: Scenario,
    results: list[VariantResult],
    summary: dict[str, Any],
    seed: int,
) -> Path:
    """Write the PNGs, data.json and index.html into ``directory``; returns index.html."""
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(f"--report {directory}: cannot create: {exc.strerror}") from None
    data = plot_data(scenario, results, seed)
    pictures = draw(directory, data)
    (directory / "data.json").write_text(json.dumps({"summary": summary, "plots": data}))
    index = directory / "index.html"
    index.write_text(_page(summary, pictures))
    return index


def draw(directory: Path, data: dict[str, dict[str, Any]]) -> dict[str, str]:
    """One PNG per plot; returns {file name: caption}."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    pictures = {}

    def lines(
        name: str,
        series: dict[str, Any],
        xlabel: str,
        ylabel: str,
        caption: str,
        log_y: bool = False,
    ) -> None:
        fig, ax = plt.subplots(figsize=(7, 4.5))
        for i, (label, (x, y)) in enumerate(series.items()):
            if x:  # dashes keep variants with the same numbers (e.g. reputation) visible
                ax.step(x, y, where="post", label=label, linestyle=STYLES[i % len(STYLES)])
        ax.set_xscale("log")
        if log_y:
            ax.set_yscale("log")
        ax.set_xlabel(xlabel)
        ax.set_ylabel(ylabel)
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=8)
        ax.set_title(caption, fontsize=10)
        fig.tight_layout()
        fig.savefig(directory / name, dpi=100)
        plt.close(fig)
        pictures[name] = caption

    lines(
        "outages.png",
        data["outage_cdf"],
        "outage duration (minutes)",
        "P(duration <= x)",
        "Outage duration CDF",
    )
    censor = {k: v for k, v in data["censor_cdf"].items() if v[0] and max(v[0]) > 0}
    lines(
        "censorship.png",
        censor,
        "extra inclusion delay (seconds)",
        "P(delay <= x)",
        "Censored transaction's inclusion delay CDF",
    )
    lines(
        "losses.png",
        data["loss_exceedance"],
        "annual loss of the book",
        "P(loss >= x)",
        "Annual loss exceedance (tail of the loss distribution)",
        log_y=True,
    )
    sens = data["sensitivity"]
    fig, axes = plt.subplots(2, 3, figsize=(12, 7), sharex=True)
    for ax, (param, by_variant) in zip(axes.flat, sens["lines"].items(), strict=True):
        for i, (label, values) in enumerate(by_variant.items()):
            ax.plot(sens["factors"], values, marker="o", label=label, linestyle=STYLES[i % 4])
        ax.set_xscale("log", base=2)
        ax.set_yscale("symlog", linthresh=1.0)
        ax.set_ylim(bottom=0)
        ax.set_title(param, fontsize=9)
        ax.grid(True, alpha=0.3)
    axes.flat[0].legend(fontsize=7)
    fig.supxlabel("scale factor on the parameter")
    fig.supylabel("expected annual loss")
    fig.tight_layout()
    fig.savefig(directory / "sensitivity.png", dpi=100)
    plt.close(fig)
    pictures["sensitivity.png"] = (
        f"Expected loss against each parameter ({sens['trials']:,} trials per point)"
    )
    return pictures


def _page(summary: dict[str, Any], pictures: dict[str, str]) -> str:
    from .report import COLUMNS

    e = html.escape
    head = "".join(f"<th>{e(h).replace(chr(10), '<br>')}</th>" for _, h, _ in COLUMNS)
    rows = "".join(
        f"<tr><td>{e(name)}</td>"
        + "".join(f"<td>{e(fmt.format(numbers[k]))}</td>" for k, _, fmt in COLUMNS)
        + "</tr>"
        for name, numbers in summary["variants"].items()
    )
    figures = "".join(
        f'<figure><img src="{e(name)}" alt="{e(caption)}"><figcaption>{e(caption)}'
        "</figcaption></figure>"
        for name, caption in pictures.items()
    )
    title = e(f"Sequencer risk: {summary['scenario']}")
    return f"""<!doctype html>
<html><head><meta charset="utf-8"><title>{title}</title>
<style>body{{font-family:sans-serif;margin:2em}}table{{border-collapse:collapse}}
td,th{{border:1px solid #ccc;padding:4px 8px;text-align:right}}td:first-child{{text-align:left}}
img{{max-width:100%}}</style></head><body>
<h1>{title}</h1>
<p>{summary["trials"]:,} trials of {summary["horizon_days"]:g} days, seed {summary["seed"]}.
Model and sources: docs/risk-model.md. Raw numbers: <a href="data.json">data.json</a>.</p>
<table><tr><th>variant</th>{head}</tr>{rows}</table>
{figures}
</body></html>
"""
