"""The context of one `step` call: its inputs, the one-shot actions it accumulates, and how state changes."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from ...api.rollout import BlueGreen, Canary, Rollout, Step
from ...api.rollout_state import ROLLOUT_MESSAGE_LIMIT, RolloutState
from .model import Action, Emit, Observations


@dataclass
class _Ctx:
    """The inputs of one call, plus what it accumulates: one-shot actions and unconsumed promote commands."""

    policy: Rollout
    obs: Observations
    now: datetime
    actions: list[Action] = field(default_factory=list)
    promotes: int = 0  # each promote command skips one step (or pause)
    promote_full: bool = False

    def emit(self, reason: str, message: str, warning: bool = False) -> None:
        self.actions.append(Emit(reason, _clip(message), warning))

    def take_promote(self) -> bool:
        if self.promotes <= 0:
            return False
        self.promotes -= 1
        return True

    def take_promote_full(self) -> bool:
        taken, self.promote_full = self.promote_full, False
        return taken

    @property
    def replicas(self) -> int:
        return max(self.obs.replicas, 0)

    @property
    def canary(self) -> Canary:
        assert self.policy.canary is not None, "validated by Rollout"
        return self.policy.canary

    @property
    def blue_green(self) -> BlueGreen:
        assert self.policy.blue_green is not None, "validated by Rollout"
        return self.policy.blue_green

    @property
    def routed(self) -> bool:
        """Canary with a traffic router (ALB or Gateway API); otherwise weight is a replica ratio."""
        if self.policy.strategy != "canary" or self.policy.canary is None:
            return False
        routing = self.policy.canary.traffic_routing
        return routing is not None and (routing.alb is not None or routing.gateway_api is not None)

    @property
    def applied(self) -> int | None:
        return self.obs.traffic_applied_weight

    @property
    def deadline(self) -> timedelta:
        settings = self.policy.canary if self.policy.strategy == "canary" else self.policy.blue_green
        return timedelta(seconds=settings.progress_deadline_seconds if settings is not None else 600)

    @property
    def steps(self) -> list[Step]:
        return self.canary.steps if self.policy.strategy == "canary" and self.policy.canary is not None else []


def _clip(message: str) -> str:
    return message if len(message) <= ROLLOUT_MESSAGE_LIMIT else message[: ROLLOUT_MESSAGE_LIMIT - 3] + "..."


def _set(s: RolloutState, **changes: Any) -> RolloutState:
    unknown = changes.keys() - RolloutState.model_fields.keys()
    if unknown:
        raise TypeError(f"RolloutState has no field {sorted(unknown)}")
    if "message" in changes:
        changes["message"] = _clip(changes["message"])
    return s.model_copy(update=changes)
