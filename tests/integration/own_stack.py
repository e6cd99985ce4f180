"""A control plane of its own, an emulator and an operator serving one fresh namespace: for scenarios that kill,
restart or load what the session's shared stack serves other tests with."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from kubernetes import client, config

from aenv.api import GROUP, PLURAL, crd
from aenv.local.controlplane import REPO, LocalCluster
from aenv.local.emulator import AwsEmulator

from .conftest import RESYNC_SECONDS, Operator
from .kube import Kube


@dataclass
class Stack:
    cluster: LocalCluster
    kube: Kube
    emulator: AwsEmulator
    operator: Operator
    namespace: str


@contextmanager
def own_stack(workdir: Path, prefix: str, nodes: int = 1, resync: float = RESYNC_SECONDS) -> Iterator[Stack]:
    """Everything under `workdir`; the namespace's name starts with `prefix`, which the operator serves."""
    cluster = LocalCluster(f"{prefix}{uuid.uuid4().hex[:6]}".rstrip("-"), workdir / "kwok")
    emulator = AwsEmulator(workdir / "moto")
    operator: Operator | None = None
    try:
        kubeconfig = cluster.up(nodes=nodes)
        emulator.start()
        cluster.apply_crd(REPO / "crds" / crd.CRD_FILE, f"{PLURAL}.{GROUP}")
        kube = Kube(config.new_client_from_config(config_file=str(kubeconfig)))
        namespace = f"{prefix}{uuid.uuid4().hex[:6]}"
        kube.core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=namespace)))
        (workdir / "operator").mkdir(parents=True, exist_ok=True)
        operator = Operator(workdir / "operator", kubeconfig, emulator, prefix=prefix, resync=resync)
        operator.start()
        yield Stack(cluster, kube, emulator, operator, namespace)
    finally:
        if operator is not None:
            operator.stop()
        emulator.stop()
        cluster.down()
