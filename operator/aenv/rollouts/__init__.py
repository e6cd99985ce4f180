"""Progressive delivery for workloads: the pure rollout engine and the state it keeps in status."""

from ..api.rollout_state import RolloutState
from .engine import (
    Action,
    Command,
    Decision,
    DeleteReplicaSet,
    Emit,
    MeasurementRequest,
    Observations,
    ReplicaSetObservation,
    RunMeasurement,
    ScaleReplicaSet,
    SetWeight,
    SwitchActive,
    SwitchPreview,
    due_measurements,
    parse_duration,
    step,
)

__all__ = [
    "Action",
    "Command",
    "Decision",
    "DeleteReplicaSet",
    "Emit",
    "MeasurementRequest",
    "Observations",
    "ReplicaSetObservation",
    "RolloutState",
    "RunMeasurement",
    "ScaleReplicaSet",
    "SetWeight",
    "SwitchActive",
    "SwitchPreview",
    "due_measurements",
    "parse_duration",
    "step",
]
