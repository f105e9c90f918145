"""Risk scenario factory: a small valid scenario, any section overridable by keyword."""

from __future__ import annotations

from typing import Any

from sequencer_net.risk.scenario import Scenario, parse_scenario


def scenario_data(**changes: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "scenario": {"name": "t", "horizon_days": 30},
        "single": {"mtbf_days": 1.0, "mttr_minutes": 360},
        "set": {"stakes": [10, 10, 10, 10], "mtbf_days": 1.0, "mttr_minutes": 360},
        "protocol": {"recovery_s": 0.0},
        "escape": {"forced_inclusion_delay_hours": 24},
        "exposure": {
            "annual_volatility": 0.8,
            "oracle_grace_s": 0,
            "positions": [{"notional": 1000.0, "leverage": 50, "liquidation_threshold": 0.02}],
        },
    }
    for key, value in changes.items():
        data[key] = {**data.get(key, {}), **value}
    return data


def scenario(**changes: Any) -> Scenario:
    return parse_scenario(scenario_data(**changes), "test.toml")
