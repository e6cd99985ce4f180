"""Component results -> conditions and phase (kstatus-compatible), and the transitions worth an Event. Pure."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from ..api.status import Condition, ConditionStatus, Phase

# metav1.Condition's limit: a longer message (one AWS error per resource of a big environment) is cut, not refused.
MESSAGE_MAX = 32768
ComponentState = Literal["ready", "progressing", "failed", "not-implemented", "deleting"]


@dataclass(frozen=True)
class ComponentResult:
    component: str
    state: ComponentState
    reason: str
    message: str
    has_condition: bool = True  # False for results that only feed Ready (an invalid spec)


def capped(message: str) -> str:
    return message if len(message) <= MESSAGE_MAX else message[: MESSAGE_MAX - 3] + "..."


def condition_type(component: str) -> str:
    return f"{component[0].upper()}{component[1:]}Ready"


# Conditions written outside passes (the backups' work, aenv.backups), or from what another part of the operator
# found (the notification sender's verdicts): a pass carries them over as they are.
KEPT = ("LastBackupSucceeded", "RestoreDrillSucceeded", "RestoreSucceeded", "NotificationsDelivered", "DriftDetection")

_STATUS: dict[ComponentState, ConditionStatus] = {
    "ready": "True", "progressing": "False", "failed": "False", "not-implemented": "Unknown", "deleting": "False",
}


def _ready(results: Sequence[ComponentResult], deleting: bool) -> tuple[ConditionStatus, str, str]:
    counted = [r for r in results if r.state != "not-implemented"]
    skipped = [r.component for r in results if r.state == "not-implemented"]
    note = f"; not implemented yet, so not counted: {', '.join(skipped)}" if skipped else ""
    if failed := [r for r in counted if r.state == "failed"]:
        if len(failed) == 1 and not failed[0].has_condition:
            return "False", failed[0].reason, failed[0].message
        return "False", "ComponentFailed", f"failing: {', '.join(r.component for r in failed)}{note}"
    if deleting:
        return "False", "Deleting", "the environment is being deleted"
    if waiting := [r.component for r in counted if r.state == "progressing"]:
        return "False", "Provisioning", f"in progress: {', '.join(waiting)}{note}"
    ready = ", ".join(r.component for r in counted) or "no implemented component was requested"
    return "True", "AllComponentsReady", f"ready: {ready}{note}"


def phase(results: Sequence[ComponentResult], deleting: bool = False) -> Phase:
    states = {r.state for r in results}
    if deleting:
        return "Deleting"
    if "failed" in states:
        return "Failed"
    if "progressing" in states:
        return "Provisioning"
    return "Ready"


def conditions(results: Sequence[ComponentResult], previous: Sequence[Condition], generation: int,
               now: str, deleting: bool = False) -> list[Condition]:
    """Ready, kstatus' Reconciling and Stalled, then one condition per requested component."""
    before = {c.type: c for c in previous}

    def make(type_: str, status: ConditionStatus, reason: str, message: str) -> Condition:
        old = before.get(type_)
        since = old.last_transition_time if old is not None and old.status == status else now
        return Condition(type=type_, status=status, reason=reason, message=capped(message),
                         last_transition_time=since, observed_generation=generation)

    status, reason, message = _ready(results, deleting)
    progressing = [r.component for r in results if r.state in ("progressing", "deleting")]
    failed = [r for r in results if r.state == "failed"]
    out = [
        make("Ready", status, reason, message),
        make("Reconciling", "True" if progressing else "False",
             "Progressing" if progressing else "Idle",
             f"working on: {', '.join(progressing)}" if progressing else ""),
        make("Stalled", "True" if failed else "False",
             failed[0].reason if failed else "NoErrors",
             "; ".join(f"{r.component}: {r.message}" for r in failed)),
    ]
    out += [make(condition_type(r.component), _STATUS[r.state], r.reason, r.message)
            for r in results if r.has_condition]
    return out + [c for c in previous if c.type in KEPT]


def with_condition(previous: Sequence[Condition], type_: str, ok: bool, reason: str, message: str, now: str,
                   generation: int | None) -> list[Condition]:
    """`previous` with one condition set (its transition time kept while its status stays)."""
    return set_condition(previous, type_, "True" if ok else "False", reason, message, now, generation)


def set_condition(previous: Sequence[Condition], type_: str, status: ConditionStatus, reason: str, message: str,
                  now: str, generation: int | None) -> list[Condition]:
    """`previous` with one condition set to any status, Unknown too."""
    old = next((c for c in previous if c.type == type_), None)
    since = old.last_transition_time if old is not None and old.status == status else now
    made = Condition(type=type_, status=status, reason=reason, message=capped(message), last_transition_time=since,
                     observed_generation=generation)
    return [c for c in previous if c.type != type_] + [made]


def components_of(previous: Sequence[Condition]) -> list[str]:
    """The components that have a condition (the inverse of condition_type)."""
    return [c.type[0].lower() + c.type[1:-len("Ready")] for c in previous
            if c.type.endswith("Ready") and c.type != "Ready"]


def results_from(previous: Sequence[Condition], components: Sequence[str]) -> list[ComponentResult]:
    """The component results a pass recorded in its conditions (for a pass that does not observe them again)."""
    by_type = {c.type: c for c in previous}
    out = []
    for component in components:
        c = by_type.get(condition_type(component))
        if c is None:
            out.append(ComponentResult(component, "progressing", "Provisioning", "not observed yet"))
        elif c.status == "True":
            out.append(ComponentResult(component, "ready", c.reason, c.message))
        elif c.status == "Unknown":
            out.append(ComponentResult(component, "not-implemented", c.reason, c.message))
        else:
            state: ComponentState = "progressing" if c.reason == "Provisioning" else "failed"
            out.append(ComponentResult(component, state, c.reason, c.message))
    return out


@dataclass(frozen=True)
class Transition:
    """A condition whose status or reason changed: one Kubernetes Event."""

    warning: bool
    reason: str
    message: str


def transitions(previous: Sequence[Condition], current: Sequence[Condition]) -> list[Transition]:
    before = {c.type: c for c in previous}
    out = []
    for c in current:
        old = before.get(c.type)
        if old is not None and (old.status, old.reason) == (c.status, c.reason):
            continue
        if old is None and (c.status == "Unknown" or (c.type in ("Reconciling", "Stalled") and c.status == "False")):
            continue  # nothing happened: a component not built yet, or kstatus' all-clear
        warning = c.status == "False" and c.reason not in ("Provisioning", "Progressing", "Deleting", "Idle")
        warning = warning or (c.type == "Stalled" and c.status == "True")
        out.append(Transition(warning, c.reason, f"{c.type}={c.status}: {c.message}".rstrip(": ")))
    return out
