"""The deterministic simulator: whole clusters with adversaries, in virtual time, from a seed."""

from .checker import Report
from .runner import SimResult, Simulation, simulate
from .scenario import Scenario

__all__ = ["Report", "Scenario", "SimResult", "Simulation", "simulate"]
