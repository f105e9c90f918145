"""What outages cost a book of positions. Nobody, liquidators included, can act while the
chain is halted, so what matters is the price at recovery: a position whose adverse move over
the outage reaches its liquidation threshold is liquidated, losing the move up to the
threshold plus the penalty, unless its owner tops it up during the oracle grace period (as
Aave does after Chainlink's sequencer-uptime feed reports recovery). An outage longer than
the L1 forced-inclusion delay counts only up to that delay: from then on owners can act
through L1."""

from __future__ import annotations

import numpy as np

from .scenario import Exposure

YEAR_S = 365.25 * 86400


def outage_losses(
    exposure: Exposure, windows_s: np.ndarray, rng: np.random.Generator
) -> np.ndarray:
    """The book's loss for each outage window (one price path per outage)."""
    sigma = exposure.annual_volatility * np.sqrt(windows_s / YEAR_S)
    move = np.expm1(rng.standard_normal(len(windows_s)) * sigma)  # simple return at recovery
    saved = 1 - np.exp(-exposure.oracle_grace_s / exposure.user_reaction_s)
    loss = np.zeros(len(windows_s))
    for p in exposure.positions:
        adverse = -move if p.side == "long" else move
        breached = adverse >= p.liquidation_threshold
        loss += breached * p.notional * (p.liquidation_threshold + exposure.liquidation_penalty)
    return loss * (1 - saved)


def risk_measures(losses: np.ndarray) -> dict[str, float]:
    """Expected loss, and value at risk / conditional value at risk (the mean of the worst
    tail) at 95% and 99%, of per-trial losses."""
    ordered = np.sort(losses)
    out = {"expected_loss": float(ordered.mean())}
    for level in (95, 99):
        tail = max(1, round(len(ordered) * (1 - level / 100)))
        out[f"var_{level}"] = float(np.quantile(ordered, level / 100))
        out[f"cvar_{level}"] = float(ordered[-tail:].mean())
    return out
