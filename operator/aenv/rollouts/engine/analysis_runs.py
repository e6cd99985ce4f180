"""Analysis runs: measurements -> verdicts, runs started and stopped, which metric is due when."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from ...api.rollout import Analysis, Metric, Rollout
from ...api.rollout_state import AnalysisRunState, MetricState, RolloutState, RunKind, RunPhase
from .arithmetic import parse_duration
from .context import _clip, _Ctx, _set
from .model import MeasurementRequest, RunMeasurement


def _analysis_of(run: AnalysisRunState, policy: Rollout) -> Analysis | None:
    if run.kind == "step":
        steps = policy.canary.steps if policy.canary is not None else []
        return steps[run.step].analysis if run.step is not None and run.step < len(steps) else None
    if run.kind == "background":
        return policy.canary.analysis if policy.canary is not None else None
    if policy.blue_green is None:
        return None
    if run.kind == "prePromotion":
        return policy.blue_green.pre_promotion_analysis
    return policy.blue_green.post_promotion_analysis


def _ingest(s: RolloutState, ctx: _Ctx) -> RolloutState:
    """Fold new measurements into the running analysis runs; a run that reaches a verdict is stopped."""
    if not ctx.obs.measurements:
        return s
    runs = []
    for run in s.runs:
        analysis = _analysis_of(run, ctx.policy)
        mine = [m for m in ctx.obs.measurements if m.run == run.name]
        if run.running and analysis is not None and mine:
            run = _measure_run(run, analysis, sorted(mine, key=lambda m: m.at), ctx)
        runs.append(run)
    return _set(s, runs=runs)


def _measure_run(run: AnalysisRunState, analysis: Analysis, new: list[RunMeasurement],
                 ctx: _Ctx) -> AnalysisRunState:
    by_name = {m.name: m for m in analysis.metrics}
    metrics = []
    for state in run.metrics:
        metric = by_name.get(state.name)
        if metric is not None and state.phase == "Running":
            state = _measure_metric(state, metric, [m for m in new if m.metric == state.name])
        metrics.append(state)
    phase, message = _run_verdict(metrics, by_name)
    run = run.model_copy(update={"metrics": metrics, "phase": phase, "message": _clip(message)})
    if not run.running:
        ctx.emit(f"AnalysisRun{phase}", f"analysis run {run.name}: {message}", warning=phase != "Successful")
    return run


def _measure_metric(state: MetricState, metric: Metric, new: list[RunMeasurement]) -> MetricState:
    """Count measurements newer than the last one counted, until the metric reaches a verdict."""
    for m in new:
        if state.phase != "Running":
            break
        if state.last_measured_at is not None and m.at <= state.last_measured_at:
            continue
        counts = state.model_dump()
        counts["count"] += 1
        counts[m.verdict] += 1
        counts["consecutive_errors"] = counts["consecutive_errors"] + 1 if m.verdict == "error" else 0
        counts["last_measured_at"] = m.at
        state = MetricState(**counts)
        state = state.model_copy(update={"phase": _metric_phase(state, metric)[0]})
    return state


def _metric_phase(m: MetricState, metric: Metric) -> tuple[RunPhase, str]:
    """Argo's assessment: limits first (failed > failureLimit, inconclusive > inconclusiveLimit, consecutive
    errors > consecutiveErrorLimit), then Successful once `count` measurements are taken."""
    if m.failed > metric.failure_limit:
        return "Failed", f"{m.name}: {m.failed} failed measurement(s), failureLimit {metric.failure_limit}"
    if m.inconclusive > metric.inconclusive_limit:
        return "Inconclusive", (f"{m.name}: {m.inconclusive} inconclusive measurement(s), "
                                f"inconclusiveLimit {metric.inconclusive_limit}")
    if m.consecutive_errors > metric.consecutive_error_limit:
        return "Error", (f"{m.name}: {m.consecutive_errors} consecutive errors, "
                         f"consecutiveErrorLimit {metric.consecutive_error_limit}")
    if m.count >= metric.count:
        return "Successful", f"{m.name}: {m.successful}/{m.count} successful"
    return "Running", f"{m.name}: {m.count}/{metric.count} measured"


def _run_verdict(metrics: list[MetricState], by_name: Mapping[str, Metric]) -> tuple[RunPhase, str]:
    """Failed or Error as soon as one metric is; otherwise Running until all are done; then Inconclusive if
    one is, else Successful."""
    assessed = [_metric_phase(m, by_name[m.name]) for m in metrics if m.name in by_name]
    order: tuple[RunPhase, ...] = ("Error", "Failed", "Running", "Inconclusive")
    for wanted in order:
        hits = [message for phase, message in assessed if phase == wanted]
        if hits:
            return wanted, "; ".join(hits)
    return "Successful", "; ".join(message for _, message in assessed) or "no metrics"


def _start_run(s: RolloutState, kind: RunKind, analysis: Analysis, ctx: _Ctx,
               step_index: int | None = None) -> RolloutState:
    seq = s.run_seq + 1
    label = {"step": f"step{step_index}", "background": "background", "prePromotion": "pre",
             "postPromotion": "post"}[kind]
    name = f"{(s.desired_revision or 'none')[:24]}-{seq}-{label}"
    run = AnalysisRunState(name=name, kind=kind, step=step_index, started_at=ctx.now,
                           metrics=[MetricState(name=m.name) for m in analysis.metrics])
    return _set(s, run_seq=seq, runs=[*s.runs, run])


def _stop_runs(s: RolloutState, why: str, kinds: tuple[RunKind, ...] | None = None) -> RolloutState:
    """Terminate running runs (of `kinds`, default all): they stay in `runs`, no longer measured."""
    runs = []
    for run in s.runs:
        if run.running and (kinds is None or run.kind in kinds):
            run = run.model_copy(update={"phase": "Terminated", "message": _clip(why)})
        runs.append(run)
    return _set(s, runs=runs)


def _drop_runs(s: RolloutState, why: str, kinds: tuple[RunKind, ...] | None = None) -> RolloutState:
    s = _stop_runs(s, why, kinds)
    return _set(s, runs=[r for r in s.runs if kinds is not None and r.kind not in kinds])


@dataclass(frozen=True)
class _Due:
    run: str
    metric: Metric
    at: datetime


def _due_times(s: RolloutState, policy: Rollout) -> list[_Due]:
    out = []
    for run in s.runs:
        analysis = _analysis_of(run, policy) if run.running else None
        by_name = {m.name: m for m in analysis.metrics} if analysis is not None else {}
        for m in run.metrics:
            metric = by_name.get(m.name)
            if metric is None or m.phase != "Running":
                continue
            last = m.last_measured_at
            out.append(_Due(run.name, metric, run.started_at if last is None else last + parse_duration(
                metric.interval)))
    return out


def due_measurements(state: RolloutState, policy: Rollout, now: datetime) -> list[MeasurementRequest]:
    """The metrics of running analysis runs to measure now: first right away, then every `interval`."""
    return [MeasurementRequest(d.run, d.metric) for d in _due_times(state, policy) if d.at <= now]
