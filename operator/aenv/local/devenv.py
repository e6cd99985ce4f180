"""`aenv dev up` / `aenv dev down`: the whole local environment, for a new user on a machine without Docker."""

from __future__ import annotations

import os
import shlex
import shutil
import sys
import tomllib
from collections.abc import Mapping
from pathlib import Path

import yaml

from . import ack, processes
from .controlplane import REPO, LocalCluster
from .emulator import AwsEmulator

STATE = REPO / ".aenv"
# The IAM role's IRSA trust names the cluster's OIDC issuer; the local cluster has none, the emulator accepts this.
OIDC_ISSUER = "oidc.aenv.local/id/local"
CRD = REPO / "crds" / "analyticsenvironments.aenv.dev.yaml"
QUOTA_CRD = REPO / "crds" / "analyticsenvironmentquotas.aenv.dev.yaml"
# The chart's admission policy (quotas.enabled): environments are held to their namespace's quota, if it has one.
ADMISSION_POLICY = REPO / "charts" / "aenv" / "files" / "admission-policy.yaml"
ACK_STATE = STATE / "ack"


def _cluster() -> LocalCluster:
    return LocalCluster("aenv", STATE / "kwok")


def up(example: Path, timeout: int = 180) -> None:
    STATE.mkdir(exist_ok=True)
    cluster = _cluster()
    print(f"control plane: {cluster.bin}")
    shutil.copy(cluster.up(nodes=2), STATE / "kubeconfig")
    emulator = AwsEmulator(STATE, data_plane=os.environ.get("AENV_EMULATOR_DATA_PLANE", "1") != "0")
    print(f"AWS emulator: {emulator.start()}" + (f", data plane {emulator.data_plane_dir}" if emulator.data_plane
                                                 else ""))
    env = environ(STATE, emulator)
    write_env(STATE, env, cluster.kubectl_path)
    shutil.rmtree(env["KUBECACHEDIR"], ignore_errors=True)  # the CRDs applied below may have changed

    cluster.apply_crd(CRD, "analyticsenvironments.aenv.dev")
    cluster.apply_crd(QUOTA_CRD, "analyticsenvironmentquotas.aenv.dev")
    cluster.kubectl("apply", "--server-side", "-f", str(ADMISSION_POLICY))
    if os.environ.get("AENV_DEV_ACK", "1") != "0":
        _start_ack(cluster, emulator)

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
    print(f"source {STATE / 'env'} to use aenv, kubectl and the AWS CLI against this environment")


def _start_ack(cluster: LocalCluster, emulator: AwsEmulator) -> None:
    """The ACK controllers, their CRDs installed, for environments in mode ack (AENV_DEV_ACK=0 leaves them out)."""
    bin_dir = ack.binaries()
    ack.install_crds(cluster.kubectl_path, STATE / "kubeconfig", ack.crd_files(bin_dir))
    controllers = ack.AckControllers(bin_dir, ACK_STATE, STATE / "kubeconfig", emulator.url)
    controllers.stop()  # fresh ones, from the binaries as they are now
    controllers.start()
    print(f"ACK controllers: {', '.join(controllers.names)} (logs in {ACK_STATE})")


def environ(state: Path, emulator: AwsEmulator) -> dict[str, str]:
    """What `.aenv/env` exports: the cluster's kubeconfig and kubectl's discovery cache, the emulator's endpoint and
    credentials, the OIDC issuer, and the data plane's CA (the operator's data-plane checks trust it).

    The cache is the checkout's own: kubectl keys its shared cache by host and port, and a local cluster started
    again on a port used before would be described by another cluster's stale discovery (its CRDs' categories and
    short names) for hours."""
    ca = {"AENV_DATA_PLANE_CA_FILE": str(emulator.ca_file)} if emulator.data_plane else {}
    return {"KUBECONFIG": str(state / "kubeconfig"), "KUBECACHEDIR": str(state / "kube-cache"), **emulator.environ(),
            "AENV_OIDC_ISSUER": OIDC_ISSUER, **ca}


def write_env(state: Path, env: Mapping[str, str], kubectl: Path) -> Path:
    """Write `<state>/env`, a file to `source`: it exports env and puts `<state>/bin` first on PATH.

    `<state>/bin` holds only what the user asks for by name: the commands `pip install .` would install
    (pyproject's [project.scripts]: aenv, kubectl-aenv), running this checkout with this Python, and the control
    plane's own kubectl. Returns the env file.
    """
    bin_dir = state / "bin"
    bin_dir.mkdir(parents=True, exist_ok=True)
    for name, target in scripts().items():  # each replaced at once: a shell may be running the old one
        module, _, function = target.partition(":")
        code = f"import sys; from {module} import {function}; sys.exit({function}())"
        new = bin_dir / f".{name}.new"
        new.write_text(
            "#!/bin/sh\n"
            f"# `{name}` from {REPO}, written by `aenv dev up`.\n"
            f'export PYTHONPATH={shlex.quote(str(REPO / "operator"))}${{PYTHONPATH:+:$PYTHONPATH}}\n'
            f'exec {shlex.quote(sys.executable)} -c {shlex.quote(code)} "$@"\n')
        new.chmod(0o755)
        new.replace(bin_dir / name)
    new = bin_dir / ".kubectl.new"
    new.unlink(missing_ok=True)
    new.symlink_to(kubectl)
    new.replace(bin_dir / "kubectl")
    exports = [f"export {k}={shlex.quote(v)}\n" for k, v in env.items()]
    path = state / "env"
    path.write_text("".join(exports) + f'export PATH={shlex.quote(str(bin_dir))}:"$PATH"\n')
    return path


def scripts() -> dict[str, str]:
    """The project's commands, name -> "module:function", as pyproject.toml declares them for `pip install .`."""
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    return dict(project["scripts"])


def _inherited() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "KUBECONFIG"))}


def down() -> None:
    processes.stop(STATE / "operator.pid")
    for pidfile in sorted(ACK_STATE.glob("*.pid")):
        processes.stop(pidfile)
    AwsEmulator(STATE).stop()
    _cluster().down()
    print("local environment stopped")
