"""The real ACK controllers for the integration tests: fixtures that build (or reuse) them, install their CRDs and run
them against the session's control plane and AWS emulator, and helpers that read ACK resources with deadlines.

tests/integration/conftest.py imports the fixtures `ack_bin`, `ack_controllers`, `ack_operator` (module-scoped: an
operator without AWS variables), `ack_namespace` and `in_process`.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from kubernetes.client.rest import ApiException
from kubernetes.config import kube_config

from aenv.ack import resource
from aenv.kube import apply
from aenv.kube import client as kube_client
from aenv.local import ack, controlplane
from aenv.local.emulator import AwsEmulator
from aenv.local.processes import wait_for

from .kube import DEADLINE, Kube

if TYPE_CHECKING:
    from .conftest import Operator

# Drift made by hand in the emulator is corrected within this (ACK's default is 10 hours).
ACK_RESYNC_SECONDS = 30
SYNCED = "ACK.ResourceSynced"
TERMINAL = "ACK.Terminal"


@dataclass(frozen=True)
class AckKind(resource.AckKind):
    """aenv's AckKind with the plural the tests address the custom objects API by."""

    plural: str = ""


QUEUE = AckKind("sqs", "Queue", plural="queues")
KEY = AckKind("kms", "Key", plural="keys")


@pytest.fixture(scope="session")
def ack_bin() -> Path:
    """The built controllers ($AENV_ACK_BIN, or hack/build-ack-controllers.sh from $AENV_ACK_SOURCES or a clone)."""
    try:
        return ack.binaries()
    except RuntimeError as e:
        sources = os.environ.get("AENV_ACK_SOURCES")
        where = f"AENV_ACK_SOURCES={sources}" if sources else "AENV_ACK_SOURCES is not set, so it cloned from GitHub"
        pytest.fail(f"cannot build the ACK controllers ({where}):\n{e}", pytrace=False)


@pytest.fixture(scope="session")
def ack_controllers(tmp_path_factory: pytest.TempPathFactory, kubeconfig: Path, kube: Kube, emulator: AwsEmulator,
                    ack_bin: Path) -> Iterator[ack.AckControllers]:
    """Every ACK controller running against this session's cluster and emulator, its CRDs installed."""
    ack.install_crds(controlplane.binaries() / "kubectl", kubeconfig, ack.crd_files(ack_bin))
    controllers = ack.AckControllers(ack_bin, tmp_path_factory.mktemp("ack"), kubeconfig, emulator.url,
                                     resync_seconds=ACK_RESYNC_SECONDS)
    controllers.start()
    try:
        yield controllers
    finally:
        controllers.stop()

@pytest.fixture(scope="module")
def ack_operator(tmp_path_factory: pytest.TempPathFactory, kubeconfig: Path, kube: Kube,
                 emulator: AwsEmulator, ack_controllers: ack.AckControllers) -> Iterator[Operator]:
    """An operator without any AWS variable (no credentials, no endpoint, no region): only ACK calls AWS."""
    from .conftest import Operator  # conftest imports these fixtures

    op = Operator(tmp_path_factory.mktemp("ack-operator"), kubeconfig, emulator, prefix="aenv-ack-mode-")
    op.env = {k: v for k, v in op.env.items() if not k.startswith("AWS_")}
    with op:
        yield op


@pytest.fixture
def in_process(kubeconfig: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """aenv's own Kubernetes client in this process, on the session's cluster (ACK clients used directly)."""
    monkeypatch.setattr(kube_config, "KUBE_CONFIG_DEFAULT_LOCATION", str(kubeconfig))  # read when loading
    kube_client.api.cache_clear()
    apply.dynamic.cache_clear()
    yield
    kube_client.api.cache_clear()
    apply.dynamic.cache_clear()


@pytest.fixture
def ack_namespace(kube: Kube, emulator: AwsEmulator, ack_operator: Operator) -> Iterator[str]:
    from .conftest import fresh_namespace

    emulator.reset()
    yield from fresh_namespace(kube, ack_operator)


def condition(obj: dict[str, Any], type_: str) -> dict[str, Any] | None:
    for c in obj.get("status", {}).get("conditions") or []:
        if c.get("type") == type_:
            return dict(c)
    return None


def get(kube: Kube, kind: AckKind, namespace: str, name: str) -> dict[str, Any]:
    obj: dict[str, Any] = kube.custom.get_namespaced_custom_object(kind.group, kind.version, namespace, kind.plural,
                                                                    name)
    return obj


def create(kube: Kube, kind: AckKind, namespace: str, name: str, spec: dict[str, Any]) -> dict[str, Any]:
    body = {"apiVersion": f"{kind.group}/{kind.version}", "kind": kind.kind, "metadata": {"name": name}, "spec": spec}
    obj: dict[str, Any] = kube.custom.create_namespaced_custom_object(
        kind.group, kind.version, namespace, kind.plural, body, field_validation="Strict")
    return obj


def wait_synced(kube: Kube, kind: AckKind, namespace: str, name: str, timeout: float = DEADLINE) -> dict[str, Any]:
    """Wait until ACK reports the resource synced (ACK.ResourceSynced=True); fail at once on ACK.Terminal."""
    seen: dict[str, Any] = {}

    def check() -> bool:
        obj = seen["obj"] = get(kube, kind, namespace, name)
        return (c := condition(obj, SYNCED)) is not None and c.get("status") == "True"

    try:
        wait_for(lambda: check() or condition(seen["obj"], TERMINAL) is not None, timeout,
                 f"{kind.group} {namespace}/{name} to be synced")
    except TimeoutError as e:
        raise AssertionError(f"{e}; last seen status: {seen.get('obj', {}).get('status')}") from None
    terminal = condition(seen["obj"], TERMINAL)
    assert terminal is None, f"{kind.group} {namespace}/{name} is terminal: {terminal}"
    return dict(seen["obj"])


def delete_and_wait(kube: Kube, kind: AckKind, namespace: str, name: str, timeout: float = DEADLINE) -> None:
    """Delete the resource and wait until ACK has removed its finalizer (so it is gone)."""
    try:
        kube.custom.delete_namespaced_custom_object(kind.group, kind.version, namespace, kind.plural, name)
    except ApiException as e:
        if e.status != 404:
            raise

    def gone() -> bool:
        try:
            get(kube, kind, namespace, name)
        except ApiException as e:
            return e.status == 404
        return False

    wait_for(gone, timeout, f"{kind.group} {namespace}/{name} to be deleted")
