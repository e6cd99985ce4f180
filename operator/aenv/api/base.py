"""The base model every part of the AnalyticsEnvironment API shares."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict
from pydantic.alias_generators import to_camel


class ApiModel(BaseModel):
    """camelCase on the wire, snake_case in Python; unknown fields are an error."""

    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
        extra="forbid",
        frozen=True,
    )

    def wire(self) -> dict[str, Any]:
        """The object as it appears in Kubernetes: camelCase, without unset optional fields."""
        return self.model_dump(by_alias=True, exclude_none=True, mode="json")


def cel(rule: str, message: str, field_path: str | None = None) -> dict[str, str]:
    """One x-kubernetes-validations entry: a CEL rule the API server checks at admission."""
    entry = {"rule": rule, "message": message}
    if field_path:
        entry["fieldPath"] = field_path
    return entry


def validations(*rules: dict[str, str]) -> dict[str, Any]:
    return {"x-kubernetes-validations": list(rules)}


def exactly_one(*fields: str) -> str:
    """A CEL rule that holds when exactly one of the given optional fields is set."""
    return " + ".join(f"(has(self.{f}) ? 1 : 0)" for f in fields) + " == 1"


def immutable(field: str, default: str, what: str) -> dict[str, str]:
    """A transition rule: `field` (with its default when left out) may not change once set."""
    def value(obj: str) -> str:
        return f"(has({obj}.{field}) ? {obj}.{field} : {default})"

    return cel(f"{value('self')} == {value('oldSelf')}", f"{field} is immutable: {what}", f".{field}")
