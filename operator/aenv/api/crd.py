"""The CustomResourceDefinition, generated from the pydantic models (the single source of the schema)."""

from __future__ import annotations

from typing import Any

import yaml
from pydantic import BaseModel

from .spec import ENVIRONMENT_NAME_MAX, EnvironmentSpec
from .status import EnvironmentStatus

GROUP = "aenv.dev"
VERSION = "v1alpha1"
KIND = "AnalyticsEnvironment"
PLURAL = "analyticsenvironments"
SINGULAR = "analyticsenvironment"
SHORT_NAMES = ["aenv"]
API_VERSION = f"{GROUP}/{VERSION}"
CRD_FILE = f"{PLURAL}.{GROUP}.yaml"

# JSON Schema keywords a structural CRD schema does not take (or that aenv applies itself, like defaults:
# the tier decides them, and defaults written by the API server would fight GitOps diffs).
_DROP = {"title", "default", "examples", "additionalProperties", "$defs"}
# Lists keyed by name: the API server then rejects duplicate names and merges them by key.
_MAP_LISTS = {"queues", "topics", "workloads", "metrics"}


def _structural(node: Any, defs: dict[str, Any], name: str | None = None) -> Any:
    if isinstance(node, list):
        return [_structural(n, defs) for n in node]
    if not isinstance(node, dict):
        return node
    if "$ref" in node:
        target = defs[node["$ref"].rsplit("/", 1)[-1]]
        merged = {**target, **{k: v for k, v in node.items() if k != "$ref"}}
        return _structural(merged, defs, name)
    if "anyOf" in node:  # Optional[X] is anyOf [X, null]: the field is simply optional
        options = [o for o in node["anyOf"] if o.get("type") != "null"]
        if len(options) != 1:
            raise ValueError(f"union types have no structural schema: {node}")
        rest = {k: v for k, v in node.items() if k != "anyOf"}
        return _structural({**options[0], **rest}, defs, name)
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key in _DROP:
            continue
        if key == "const":
            out["enum"] = [value]
        elif key == "properties":
            out[key] = {k: _structural(v, defs, k) for k, v in value.items()}
        else:
            out[key] = _structural(value, defs)
    if node.get("type") == "object" and isinstance(node.get("additionalProperties"), dict):
        out["additionalProperties"] = _structural(node["additionalProperties"], defs)
    if "enum" in out and "type" not in out:
        out["type"] = "string"
    if out.get("type") == "array" and name in _MAP_LISTS:
        out["x-kubernetes-list-type"] = "map"
        out["x-kubernetes-list-map-keys"] = ["name"]
    return out


def schema_of(model: type[BaseModel]) -> dict[str, Any]:
    raw = model.model_json_schema(by_alias=True, mode="validation")
    result: dict[str, Any] = _structural(raw, raw.get("$defs", {}))
    return result


def definition(kind: str, plural: str, short_names: list[str], categories: list[str],
               version: dict[str, Any]) -> dict[str, Any]:
    """A namespaced CustomResourceDefinition of group aenv.dev with one served and stored version."""
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"{plural}.{GROUP}"},
        "spec": {
            "group": GROUP,
            "scope": "Namespaced",
            "names": {"kind": kind, "plural": plural, "singular": kind.lower(), "shortNames": short_names,
                      "listKind": f"{kind}List", **({"categories": categories} if categories else {})},
            "versions": [{"name": VERSION, "served": True, "storage": True, **version}],
        },
    }


def crd() -> dict[str, Any]:
    status = schema_of(EnvironmentStatus)
    return definition(KIND, PLURAL, SHORT_NAMES, ["all"], {
        "subresources": {"status": {}},
        "additionalPrinterColumns": [
            {"name": "Tier", "type": "string", "jsonPath": ".spec.tier"},
            {"name": "Phase", "type": "string", "jsonPath": ".status.phase"},
            {"name": "Ready", "type": "string", "jsonPath": '.status.conditions[?(@.type=="Ready")].status'},
            # A string: a date column shows a time to come as <invalid>.
            {"name": "Expires", "type": "string", "jsonPath": ".status.expiresAt"},
            {"name": "USD/Month", "type": "number", "jsonPath": ".status.cost.monthlyUSD"},
            {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"},
        ],
        "schema": {"openAPIV3Schema": {
            "type": "object",
            "description": "A whole real-time analytics environment on AWS and EKS.",
            "x-kubernetes-validations": [{
                "rule": f"self.metadata.name.size() <= {ENVIRONMENT_NAME_MAX}",
                "message": f"metadata.name: at most {ENVIRONMENT_NAME_MAX} characters, so that "
                           "`<namespace>/<name>` fits an AWS tag value (256)",
            }],
            "required": ["spec"],
            "properties": {
                "apiVersion": {"type": "string"},
                "kind": {"type": "string"},
                "metadata": {"type": "object"},
                "spec": schema_of(EnvironmentSpec),
                "status": status,
            },
        }},
    })


def render() -> str:
    header = "# Generated by `aenv crd` from operator/aenv/api: do not edit by hand.\n"
    return header + yaml.safe_dump(crd(), sort_keys=False, width=120)
