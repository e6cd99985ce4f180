"""`aenv migrate`'s reads and writes in the cluster: the environment, its connection Secret's DATABASE_URL, the
migrations ConfigMap, and a Job source's Job."""

from __future__ import annotations

import base64
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from kubernetes import client, config
from kubernetes.client.exceptions import ApiException

from ..api import GROUP, PLURAL, VERSION, EnvironmentSpec
from ..naming import EnvironmentRef
from ..plan.connection import secret_name
from . import job as jobs
from .source import Migration, parse


class Unavailable(Exception):
    """Something `aenv migrate` needs is not in the cluster (yet); the message says what."""


@dataclass(frozen=True)
class Target:
    env: EnvironmentRef
    spec: EnvironmentSpec


class Cluster:
    def __init__(self) -> None:
        api = config.new_client_from_config()  # type: ignore[no-untyped-call]
        self.core, self.batch, self.custom = client.CoreV1Api(api), client.BatchV1Api(api), client.CustomObjectsApi(api)

    def _read(self, what: str, read: Callable[[], Any]) -> Any:
        try:
            return read()
        except ApiException as e:
            if e.status == 404:
                raise Unavailable(f"{what} is not in the cluster") from None
            raise

    def target(self, namespace: str, name: str) -> Target:
        obj: Mapping[str, Any] = self._read(
            f"AnalyticsEnvironment {namespace}/{name}",
            lambda: self.custom.get_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, name))
        spec = EnvironmentSpec.model_validate(obj.get("spec", {}))
        if spec.database is None or spec.database.migrations is None:
            raise Unavailable(f"{namespace}/{name} has no spec.database.migrations")
        return Target(EnvironmentRef(namespace, name, obj["metadata"]["uid"]), spec)

    def database_url(self, env: EnvironmentRef) -> str:
        name = secret_name(env)
        secret = self._read(f"the connection Secret {env.namespace}/{name}",
                            lambda: self.core.read_namespaced_secret(name, env.namespace))
        value = (secret.data or {}).get("DATABASE_URL")
        if not value:
            raise Unavailable(f"the connection Secret {env.namespace}/{name} has no DATABASE_URL yet "
                              "(the database is not ready)")
        return base64.b64decode(value).decode()

    def config_map_source(self, env: EnvironmentRef, name: str) -> list[Migration]:
        cm = self._read(f"the ConfigMap {env.namespace}/{name}",
                        lambda: self.core.read_namespaced_config_map(name, env.namespace))
        return parse(cm.data or {}, f"ConfigMap {env.namespace}/{name}")

    def job_outcome(self, target: Target) -> tuple[str, jobs.Outcome | None]:
        """The Job of the current image and command, and its outcome (None: not run yet)."""
        assert target.spec.database and target.spec.database.migrations and target.spec.database.migrations.job
        name = jobs.job(target.env, target.spec, target.spec.database.migrations.job)["metadata"]["name"]
        try:
            found = self.batch.read_namespaced_job(name, target.env.namespace)
        except ApiException as e:
            if e.status == 404:
                return name, None
            raise
        return name, jobs.outcome(found.to_dict().get("status"))

    def run_job(self, target: Target, timeout: float) -> tuple[str, jobs.Outcome]:
        """Creates the Job (unless this image and command already have one) and waits for its outcome."""
        assert target.spec.database and target.spec.database.migrations and target.spec.database.migrations.job
        manifest = jobs.job(target.env, target.spec, target.spec.database.migrations.job)
        try:
            self.batch.create_namespaced_job(target.env.namespace, manifest)  # type: ignore[arg-type]
        except ApiException as e:
            if e.status != 409:
                raise
        deadline = time.monotonic() + timeout
        while True:
            name, outcome = self.job_outcome(target)
            if outcome is not None and (outcome.state != "running" or time.monotonic() >= deadline):
                return name, outcome
            time.sleep(1)
