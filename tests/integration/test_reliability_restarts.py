"""kube-apiserver and then etcd restarted during reconciles: the operator resumes within 10 s of the API coming
back, the paused canary keeps its step (and goes on from it when promoted), and nothing is made or said twice."""

from __future__ import annotations

from pathlib import Path

import pytest

from .reliability_restarts import restartable_stack, run

pytestmark = pytest.mark.integration

RESUME_SECONDS = 10.0


def test_control_plane_restarts_lose_nothing_and_repeat_nothing(tmp_path: Path) -> None:
    with restartable_stack(tmp_path) as stack:
        result = run(stack, environments=4)
        log = stack.operator.log_text()
    assert [r.component for r in result.restarts] == ["kube-apiserver", "etcd"]
    slow = [r for r in result.restarts if max(r.resume_seconds, r.converge_seconds) > RESUME_SECONDS]
    assert not slow, f"the operator resumed later than {RESUME_SECONDS} s after the API came back: {slow}"
    assert result.converged == result.environments == 4, result
    assert result.rollout_kept, (result.rollout_before, result.rollout_after, sorted(set(result.rollout_seen)))
    assert result.replica_sets_kept
    assert result.completed_from_step
    assert result.duplicates == {}, result.duplicates
    assert result.repeated_events == {}, result.repeated_events
    assert "Traceback" not in log, log[log.find("Traceback") - 2000:][:6000]
