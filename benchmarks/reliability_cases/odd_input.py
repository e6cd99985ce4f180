"""Bad and odd input: specs generated from the CRD schema (tests/integration/spec_strategies.py). Invalid ones are
sent to the API server (server-side dry run) and must be refused naming the field they break; valid odd ones must be
accepted, read by aenv's models and planned; a sample of those is created for real, with the operator running, and
each must get a status while the operator stays up (tests/integration/reliability_input.py)."""

from __future__ import annotations

from pathlib import Path

from harness import NAMESPACE, stack
from tests.integration.reliability_input import (
    created_have_status,
    examples,
    invalid_refused,
    valid_accepted,
    valid_environments,
)
from tests.integration.spec_strategies import invalid_specs

from aenv.local import processes
from reliability_cases import Row

# quick: the test's counts
INVALID = {True: 100, False: 1000}
VALID = {True: 60, False: 1000}
CREATED = {True: 8, False: 40}


class _Operator:
    def __init__(self, workdir: Path) -> None:
        self.pidfile, self.log = workdir / "operator.pid", workdir / "operator.log"

    def running(self) -> bool:
        return processes.read_pid(self.pidfile) is not None

    def log_text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""


def measure(quick: bool) -> list[Row]:
    invalid, valid = examples(invalid_specs(), INVALID[quick]), valid_environments(VALID[quick])
    sample = list(dict(valid_environments(CREATED[quick] * 3)).items())[-CREATED[quick]:]
    with stack() as s:
        refused = invalid_refused(s.custom, NAMESPACE, invalid)
        accepted = valid_accepted(s.custom, NAMESPACE, valid)
        created = created_have_status(s.custom, NAMESPACE, _Operator(s.workdir), sample)
    for tally in (refused, accepted, created):
        for failure in tally.failures[:5]:
            print(f"odd_input: {failure[:1000]}", flush=True)
    return [
        Row(f"invalid specs refused naming the field ({len(refused.kinds)} ways of breaking one)",
            f"{refused.tried}/{refused.tried}", f"{refused.held}/{refused.tried}", not refused.failures),
        Row("valid odd specs accepted, read by the models and planned",
            f"{accepted.tried}/{accepted.tried}", f"{accepted.held}/{accepted.tried}", not accepted.failures),
        Row("valid odd specs created: a status each, operator up, a plain one Ready after",
            f"{created.tried}/{created.tried}", f"{created.held}/{created.tried}", not created.failures),
    ]
