"""Small helpers over the Kubernetes client for the integration tests, each waiting with a deadline."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

from kubernetes import client
from kubernetes.client.rest import ApiException

from aenv.api import GROUP, PLURAL, VERSION
from aenv.local.processes import wait_for

DEADLINE = 60.0


def unserved_namespace(kube: Kube, prefix: str) -> Iterator[str]:
    """A fresh namespace whose name no test operator serves (`prefix` must not match one), deleted afterwards."""
    name = f"{prefix}{uuid.uuid4().hex[:8]}"
    kube.core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=name)))
    try:
        yield name
    finally:
        kube.core.delete_namespace(name)


class Kube:
    def __init__(self, api: client.ApiClient) -> None:
        self.api = api
        self.core = client.CoreV1Api(api)
        self.apps = client.AppsV1Api(api)
        self.custom = client.CustomObjectsApi(api)
        self.ext = client.ApiextensionsV1Api(api)

    def apply_crd(self, body: dict[str, Any]) -> None:
        name = body["metadata"]["name"]
        try:
            current = self.ext.read_custom_resource_definition(name)
            body["metadata"]["resourceVersion"] = current.metadata.resource_version
            self.ext.replace_custom_resource_definition(name, body)
        except ApiException as e:
            if e.status != 404:
                raise
            self.ext.create_custom_resource_definition(body)

        def established() -> bool:
            conds = self.ext.read_custom_resource_definition(name).status.conditions or []
            return any(c.type == "Established" and c.status == "True" for c in conds)

        wait_for(established, DEADLINE, f"CRD {name} to be established")

    # AnalyticsEnvironments
    def create_env(self, namespace: str, name: str, spec: dict[str, Any], dry_run: bool = False) -> dict[str, Any]:
        body = {"apiVersion": f"{GROUP}/{VERSION}", "kind": "AnalyticsEnvironment",
                "metadata": {"name": name, "namespace": namespace}, "spec": spec}
        result: dict[str, Any] = self.custom.create_namespaced_custom_object(
            GROUP, VERSION, namespace, PLURAL, body, field_validation="Strict",
            dry_run="All" if dry_run else None)
        return result

    def get_env(self, namespace: str, name: str) -> dict[str, Any]:
        result: dict[str, Any] = self.custom.get_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, name)
        return result

    def patch_spec(self, namespace: str, name: str, spec: dict[str, Any]) -> dict[str, Any]:
        result: dict[str, Any] = self.custom.patch_namespaced_custom_object(
            GROUP, VERSION, namespace, PLURAL, name, {"spec": spec}, field_validation="Strict")
        return result

    def replace_spec(self, namespace: str, name: str, spec: dict[str, Any]) -> dict[str, Any]:
        body = self.get_env(namespace, name)
        body["spec"] = spec
        result: dict[str, Any] = self.custom.replace_namespaced_custom_object(
            GROUP, VERSION, namespace, PLURAL, name, body, field_validation="Strict")
        return result

    def delete_env(self, namespace: str, name: str) -> None:
        self.custom.delete_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, name)

    def env_gone(self, namespace: str, name: str) -> bool:
        try:
            self.get_env(namespace, name)
        except ApiException as e:
            return e.status == 404
        return False

    def delete_all_environments(self, namespace: str, timeout: float = DEADLINE) -> None:
        items = self.custom.list_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL)["items"]
        for item in items:
            self.delete_env(namespace, item["metadata"]["name"])
        for item in items:
            wait_for(lambda n=item["metadata"]["name"]: self.env_gone(namespace, n), timeout,
                     f"{namespace}/{item['metadata']['name']} to be deleted")

    @staticmethod
    def condition(env: dict[str, Any], type_: str) -> dict[str, Any] | None:
        for c in env.get("status", {}).get("conditions", []):
            if c["type"] == type_:
                return dict(c)
        return None

    def wait_condition(self, namespace: str, name: str, type_: str, status: str = "True",
                       reason: str | None = None, generation: int | None = None,
                       timeout: float = DEADLINE) -> dict[str, Any]:
        """Wait until a condition has this status (and reason), observed at this generation or later."""
        seen: dict[str, Any] = {}

        def check() -> bool:
            env = self.get_env(namespace, name)
            seen["env"] = env
            c = self.condition(env, type_)
            if c is None or c["status"] != status or (reason and c["reason"] != reason):
                return False
            want = generation if generation is not None else env["metadata"]["generation"]
            return bool(env["status"].get("observedGeneration", 0) >= want)

        try:
            wait_for(check, timeout, f"{namespace}/{name} {type_}={status}")
        except TimeoutError as e:
            raise AssertionError(f"{e}; last status: {seen.get('env', {}).get('status')}") from None
        return seen["env"]

    def events(self, namespace: str, name: str) -> list[client.CoreV1Event]:
        items = self.core.list_namespaced_event(namespace, field_selector=f"involvedObject.name={name}").items
        return list(items)

    def wait_event(self, namespace: str, name: str, reason: str, timeout: float = DEADLINE) -> client.CoreV1Event:
        found: list[client.CoreV1Event] = []

        def check() -> bool:
            found[:] = [e for e in self.events(namespace, name) if e.reason == reason]
            return bool(found)

        wait_for(check, timeout, f"an Event {reason} on {namespace}/{name}")
        return found[0]


def rejected(call: Any) -> str:
    """The API server's message for a call that must fail admission."""
    try:
        call()
    except ApiException as e:
        assert e.status in (400, 422), f"expected a validation error, got HTTP {e.status}: {e.body}"
        return str(e.body)
    raise AssertionError("the API server accepted an invalid resource")


