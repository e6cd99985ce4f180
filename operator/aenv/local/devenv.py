"""`aenv dev up` / `aenv dev down`: the whole local environment, for a new user on a machine without Docker."""

from __future__ import annotations

import os
import shlex
import shutil
import sys
from pathlib import Path

import yaml

from . import processes
from .controlplane import REPO, LocalCluster
from .emulator import AwsEmulator

STATE = REPO / ".aenv"
# The IAM role's IRSA trust names the cluster's OIDC issuer; the local cluster has none, the emulator accepts this.
OIDC_ISSUER = "oidc.aenv.local/id/local"
CRD = REPO / "crds" / "analyticsenvironments.aenv.dev.yaml"


def _cluster() -> LocalCluster:
    return LocalCluster("aenv", STATE / "kwok")


def up(example: Path, timeout: int = 180) -> None:
    STATE.mkdir(exist_ok=True)
    cluster = _cluster()
    print(f"control plane: {cluster.bin}")
    shutil.copy(cluster.up(nodes=2), STATE / "kubeconfig")
    emulator = AwsEmulator(STATE)
    print(f"AWS emulator: {emulator.start()}")
    env = {"KUBECONFIG": str(STATE / "kubeconfig"), **emulator.environ(), "AENV_OIDC_ISSUER": OIDC_ISSUER}
    (STATE / "env").write_text("".join(f"export {k}={shlex.quote(v)}\n" for k, v in env.items()))

    cluster.apply_crd(CRD, "analyticsenvironments.aenv.dev")

    pidfile = STATE / "operator.pid"
    processes.stop(pidfile)  # a fresh operator runs the code as it is now
    processes.start([sys.executable, "-m", "aenv", "run"], pidfile, STATE / "operator.log",
                    env={**_inherited(), **env})
    print(f"operator: pid {processes.read_pid(pidfile)}, log {STATE / 'operator.log'}")

    doc = yaml.safe_load(example.read_text())
    ns, name = doc["metadata"].get("namespace", "default"), doc["metadata"]["name"]
    cluster.kubectl("apply", "-f", "-", input=yaml.safe_dump(
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}}))
    cluster.kubectl("apply", "-f", str(example))
    print(f"waiting up to {timeout}s for {ns}/{name} to become Ready ...")
    cluster.kubectl("wait", "-n", ns, "--for=condition=Ready", f"aenv/{name}", f"--timeout={timeout}s")
    print(cluster.kubectl("get", "aenv", "-A"))
    print(f"source {STATE / 'env'} to use kubectl and the AWS CLI against this environment")


def _inherited() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "KUBECONFIG"))}


def down() -> None:
    processes.stop(STATE / "operator.pid")
    AwsEmulator(STATE).stop()
    _cluster().down()
    print("local environment stopped")
