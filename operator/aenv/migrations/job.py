"""A Job source: the workload's image runs the user's migration command as a Job. aenv writes the Job and reads
its outcome; applying, ordering and recording migrations is the command's business. Pure."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from ..api.spec import EnvironmentSpec, MigrationJob
from ..naming import EnvironmentRef
from ..plan.workloads import LABEL_WORKLOAD, MANAGED, owner, pod_template

LABEL_MIGRATION = "aenv.dev/migration"


def job_name(env: EnvironmentRef, template: Mapping[str, Any]) -> str:
    """One Job per image and command: the same revision's migrations are run once, a new revision's again."""
    digest = hashlib.sha256(json.dumps(template, sort_keys=True).encode()).hexdigest()[:10]
    return env.object_name(suffix=f"-migrate-{digest}", max_length=63)  # a label value names the Job's pods


def job(env: EnvironmentRef, spec: EnvironmentSpec, source: MigrationJob) -> dict[str, Any]:
    """The Job: the workload's pod (image, env, service account, the connection Secret as DATABASE_URL and the
    rest) running `source.command` once, without retries: a failed migration needs a person."""
    workload = next(w for w in spec.workloads if w.name == source.workload)
    template = pod_template(env, spec, workload)
    container = {k: v for k, v in template["spec"]["containers"][0].items() if k not in ("ports", "readinessProbe")}
    template["spec"] = {**template["spec"], "containers": [{**container, "command": list(source.command)}],
                        "restartPolicy": "Never"}
    name = job_name(env, template)
    labels = {**MANAGED, **template["metadata"]["labels"], LABEL_MIGRATION: name}
    template["metadata"] = {"labels": {k: v for k, v in labels.items() if k != LABEL_WORKLOAD}}
    return {"apiVersion": "batch/v1", "kind": "Job",
            "metadata": {"name": name, "namespace": env.namespace, "labels": labels,
                         "ownerReferences": [owner(env)]},
            "spec": {"backoffLimit": 0, "template": template}}


@dataclass(frozen=True)
class Outcome:
    state: Literal["running", "succeeded", "failed"]
    message: str = ""


def outcome(status: Mapping[str, Any] | None) -> Outcome:
    """A Job's status -> whether its command succeeded, failed (with the Job's reason) or is still running."""
    for c in (status or {}).get("conditions") or []:
        if c.get("status") != "True":
            continue
        if c.get("type") == "Complete":
            return Outcome("succeeded")
        if c.get("type") == "Failed":
            reason = c.get("reason") or "Failed"
            return Outcome("failed", f"{reason}: {c['message']}" if c.get("message") else reason)
    return Outcome("running")
