"""The cases `benchmarks/reliability.py` runs. Each module has `measure(quick: bool) -> list[Row]`: it starts what
it needs, runs its scenario (with the test suite's counts when quick) and returns one row per figure."""

from __future__ import annotations

from dataclasses import dataclass

CASES = ["crashes", "faults", "deletion", "odd_input", "restarts", "secrets", "privilege"]


@dataclass(frozen=True)
class Row:
    figure: str  # what is measured, e.g. "duplicate AWS resources after 20 crash trials"
    goal: str  # e.g. "0"
    measured: str  # e.g. "0"
    held: bool
