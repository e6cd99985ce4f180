"""Secrets never leak, one scenario as the test and benchmarks/reliability_cases/secrets.py both run it: environments
with every credential aenv generates (cache AUTH token, database master password and login, JWT key, API keys)
become Ready, both rotatable credentials are rotated as `aenv rotate` asks, and then every place a credential must
never be (the namespace's Events, statuses and annotations, the operator's log and its metric labels) is scanned
for every value aenv generated or rotated."""

from __future__ import annotations

import urllib.request
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from kubernetes import client

from aenv.api import GROUP, PLURAL, VERSION
from aenv.local.emulator import AwsEmulator
from aenv.local.processes import wait_for
from aenv.plan.secrets import ROTATABLE, ROTATE_ANNOTATION

from .kube import Kube
from .leaks import Collector

SPEC: dict[str, Any] = {
    "tier": "dev", "aws": {"region": "us-east-1", "mode": "boto3"},
    "cache": {"engine": "redis", "transitEncryption": True}, "database": {"engineVersion": "16"},
    "secrets": {"jwt": True, "apiKeys": ["partner", "internal"]},
    "queues": [{"name": "events"}],
    "workloads": [{"name": "api", "image": "registry.local/api:1", "replicas": 1,
                   "uses": ["cache", "database", "secrets", "events"]}],
}
DEADLINE = 120.0


@dataclass(frozen=True)
class Scan:
    credentials: int  # distinct credential values collected (rotated ones included)
    rotated: int  # secrets whose value was replaced by a rotation
    places: int  # texts looked through besides the log
    leaks: list[str]  # where a value was found, never the value


def secret_versions(emulator: AwsEmulator, namespace: str) -> dict[str, str]:
    """name -> AWSCURRENT version of the aenv secrets of a namespace's environments."""
    sm, out = emulator.client("secretsmanager"), {}
    for page in sm.get_paginator("list_secrets").paginate(Filters=[{"Key": "name", "Values": [f"aenv-{namespace}"]}]):
        for entry in page["SecretList"]:
            stages = entry.get("SecretVersionsToStages", {})
            out[entry["Name"]] = next((v for v, s in stages.items() if "AWSCURRENT" in s), "")
    return out


def rotate_all(kube: Kube, namespace: str, name: str) -> None:
    """What `aenv rotate NAME --cache` and `--database` write."""
    asked = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    patch = {"metadata": {"annotations": {ROTATE_ANNOTATION + what: asked for what in ROTATABLE}}}
    kube.custom.patch_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, name, patch)


def create_and_rotate(kube: Kube, emulator: AwsEmulator, namespace: str, names: list[str]) -> int:
    """Make the environments, wait for Ready, rotate, wait until each rotated secret has a new value and the
    connection Secret holds it; returns how many secrets were rotated."""
    for name in names:
        kube.create_env(namespace, name, SPEC)
    for name in names:
        kube.wait_condition(namespace, name, "Ready", timeout=DEADLINE)
    before = secret_versions(emulator, namespace)
    held = {n: kube.core.read_namespaced_secret(secret_name_of(kube, namespace, n), namespace).data for n in names}
    for name in names:
        rotate_all(kube, namespace, name)
    rotatable = [s for s in before if s.endswith(tuple(k.removeprefix("secret/") for k in ROTATABLE.values()))]
    assert len(rotatable) == len(ROTATABLE) * len(names), sorted(before)

    def rotated() -> bool:
        now = secret_versions(emulator, namespace)
        return all(now.get(s) not in ("", before[s]) for s in rotatable)

    wait_for(rotated, DEADLINE, f"a new value of {len(rotatable)} secrets")
    for name in names:  # the cache token is in the connection Secret: it changes there too
        wait_for(lambda n=name: kube.core.read_namespaced_secret(  # type: ignore[misc]
            secret_name_of(kube, namespace, n), namespace).data.get("CACHE_AUTH_TOKEN")
            != held[n].get("CACHE_AUTH_TOKEN"), DEADLINE, f"{namespace}/{name}'s connection Secret to change")
    return len(rotatable)


def secret_name_of(kube: Kube, namespace: str, name: str) -> str:
    return str(kube.get_env(namespace, name)["status"]["connectionSecret"])


def scan_now(kube: Kube, emulator: AwsEmulator, namespace: str, log: Path, metrics_port: int, rotated: int) -> Scan:
    """Collect the namespace's credentials and places as they are now, the operator's log and metrics, and scan."""
    found = Collector()
    found.harvest(emulator)
    found.logs.add(log)
    for secret in kube.core.list_namespaced_secret(namespace).items:
        found.kube_object("Secret", kube.api.sanitize_for_serialization(secret))
    lists = {"Event": kube.core.list_namespaced_event, "Service": kube.core.list_namespaced_service,
             "ServiceAccount": kube.core.list_namespaced_service_account,
             "ConfigMap": kube.core.list_namespaced_config_map,
             "ReplicaSet": kube.apps.list_namespaced_replica_set, "Pod": kube.core.list_namespaced_pod,
             "Job": client.BatchV1Api(kube.api).list_namespaced_job}
    for kind, list_of in lists.items():
        for item in list_of(namespace).items:
            found.kube_object(kind, kube.api.sanitize_for_serialization(item))
    for env in kube.custom.list_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL)["items"]:
        found.kube_object("AnalyticsEnvironment", env)
    with urllib.request.urlopen(f"http://127.0.0.1:{metrics_port}/metrics", timeout=10) as r:
        found.metrics(r.read().decode(), "the operator")
    return Scan(len(found.credentials), rotated, len(found.places), found.scan())
