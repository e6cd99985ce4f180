"""desired + observed -> the action to take. Pure."""

from __future__ import annotations

from ..naming import EnvironmentRef
from .types import Action, Desired, Observation


def decide(env: EnvironmentRef, desired: Desired, observed: Observation) -> Action:
    if not observed.exists:
        return Action("create")
    if observed.owner_environment != env.key:
        holder = observed.owner_environment or "nothing (it is not managed by aenv)"
        return Action("conflict", f"{desired.name} already exists and belongs to {holder}; "
                                  "delete or rename it, or give this environment another name")
    if observed.immutable:
        return Action("conflict", f"{desired.name}: {', '.join(observed.immutable)} cannot change in place; "
                                  "revert the change, or create a new environment and move to it")
    if observed.owner != env.uid:
        # Same namespace/name, an earlier incarnation: a resource retained when it was deleted.
        return Action("adopt", f"adopting {desired.name}, retained from an earlier {env.key}")
    if not observed.up_to_date:
        return Action("update", ", ".join(sorted(observed.diff)))
    if not observed.ready:
        return Action("wait", observed.state or "not ready yet")
    return Action("none")
