"""The AnalyticsEnvironment API: pydantic models, tier presets and the CRD generated from them."""

from .crd import API_VERSION, GROUP, KIND, PLURAL, VERSION
from .spec import DeletionPolicy, EnvironmentSpec, Tier
from .status import Condition, EnvironmentStatus
from .tiers import effective

__all__ = [
    "API_VERSION",
    "GROUP",
    "KIND",
    "PLURAL",
    "VERSION",
    "Condition",
    "DeletionPolicy",
    "EnvironmentSpec",
    "EnvironmentStatus",
    "Tier",
    "effective",
]
