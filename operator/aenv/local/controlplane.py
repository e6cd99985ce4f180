"""A real Kubernetes control plane run by kwokctl from binaries built from upstream sources.

etcd, kube-apiserver, kube-controller-manager, kube-scheduler and kwok-controller run as processes
bound to 127.0.0.1; kwok provides nodes on which pods are scheduled and become Ready.
"""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path
from typing import Any

import yaml

from . import processes

REPO = Path(__file__).resolve().parents[3]
BUILD_SCRIPT = REPO / "hack" / "build-control-plane.sh"

# One controller manager and one scheduler, so no leader election: on a loaded machine a renewal that misses its
# deadline makes either exit for good (kwokctl does not restart it), and the cluster stops making pods. The quota
# controller recounts every quota each 15 s instead of 5 minutes: a ResourceQuota counting environments, made
# before the controller discovered their CRD, otherwise refuses every create for minutes ("status unknown"). Services
# get a /16: the API server's default /24 runs out at about 250 (the benchmarks' 100 canaries have more).
_CONFIG = """\
apiVersion: config.kwok.x-k8s.io/v1alpha1
kind: KwokctlConfiguration
options:
  bindAddress: 127.0.0.1
componentsPatches:
- name: kube-controller-manager
  extraArgs:
  - {key: leader-elect, value: "false"}
  - {key: resource-quota-sync-period, value: 15s}
- name: kube-scheduler
  extraArgs:
  - {key: leader-elect, value: "false"}
- name: kube-apiserver
  extraArgs:
  - {key: service-cluster-ip-range, value: 10.96.0.0/16}
"""


def binaries() -> Path:
    """The directory of control-plane binaries: $AENV_CONTROL_PLANE_BIN, or built (once) by the build script."""
    given = os.environ.get("AENV_CONTROL_PLANE_BIN")
    if given:
        return Path(given)
    if not BUILD_SCRIPT.exists():
        raise RuntimeError("set AENV_CONTROL_PLANE_BIN to a directory holding the control-plane binaries")
    out = subprocess.run(["bash", str(BUILD_SCRIPT)], check=True, stdout=subprocess.PIPE, text=True).stdout
    return Path(out.strip().splitlines()[-1])


class LocalCluster:
    def __init__(self, name: str, workdir: Path, bin_dir: Path | None = None) -> None:
        self.name = name
        self.workdir = workdir
        self.bin = bin_dir or binaries()

    @property
    def kubeconfig(self) -> Path:
        return self.workdir / "clusters" / self.name / "kubeconfig.yaml"

    @property
    def kubectl_path(self) -> Path:
        return self.bin / "kubectl"

    def _env(self) -> dict[str, str]:
        return {**os.environ, "KWOK_WORKDIR": str(self.workdir), "KWOK_KUBECTL_BINARY": str(self.kubectl_path),
                "PATH": f"{self.bin}:{os.environ.get('PATH', '')}"}

    def kwokctl(self, *args: str) -> str:
        result = subprocess.run([str(self.bin / "kwokctl"), "--name", self.name, *args], env=self._env(),
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        if result.returncode != 0:
            raise RuntimeError(f"kwokctl {' '.join(args)} failed:\n{result.stdout[-4000:]}")
        return result.stdout

    def kubectl(self, *args: str, check: bool = True, input: str | None = None) -> str:
        result = subprocess.run([str(self.kubectl_path), "--kubeconfig", str(self.kubeconfig), *args],
                                input=input, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        if check and result.returncode != 0:
            raise RuntimeError(f"kubectl {' '.join(args)} failed:\n{result.stdout[-4000:]}")
        return result.stdout

    def apply_crd(self, path: Path, name: str) -> None:
        """Apply a CRD and wait until the API server serves it."""
        self.kubectl("apply", "--server-side", "-f", str(path))
        established = '{.status.conditions[?(@.type=="Established")].status}'
        processes.wait_for(lambda: self.kubectl("get", "crd", name, "-o", f"jsonpath={established}") == "True",
                           60, f"CRD {name} to be established")

    def ready(self) -> bool:
        if not self.kubeconfig.exists():
            return False
        result = subprocess.run([str(self.kubectl_path), "--kubeconfig", str(self.kubeconfig),
                                 "--request-timeout=3s", "get", "--raw", "/readyz"],
                                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        return result.returncode == 0 and result.stdout.strip() == "ok"

    def up(self, nodes: int = 2) -> Path:
        """Start the cluster (create it if needed) with `nodes` kwok nodes; returns its kubeconfig."""
        if not self.ready():
            self.workdir.mkdir(parents=True, exist_ok=True)
            if (self.workdir / "clusters" / self.name / "kwok.yaml").exists():
                self.kwokctl("start", "cluster", "--wait", "120s")
            else:
                config = self.workdir / "aenv-kwokctl.yaml"
                config.write_text(_CONFIG)
                b = self.bin
                self.kwokctl(
                    "create", "cluster", "--runtime", "binary", "--config", str(config),
                    "--kube-apiserver-binary", str(b / "kube-apiserver"),
                    "--kube-controller-manager-binary", str(b / "kube-controller-manager"),
                    "--kube-scheduler-binary", str(b / "kube-scheduler"),
                    "--kwok-controller-binary", str(b / "kwok"), "--etcd-binary", str(b / "etcd"),
                    "--kubeconfig", str(self.workdir / "kubeconfig"), "--wait", "120s",
                )
            processes.wait_for(self.ready, 60, f"the API server of cluster {self.name}")
        self.kwokctl("scale", "node", "--replicas", str(nodes))
        return self.kubeconfig

    @property
    def _dir(self) -> Path:
        return self.workdir / "clusters" / self.name

    def _component(self, name: str) -> dict[str, Any]:
        docs = yaml.safe_load_all((self._dir / "kwok.yaml").read_text())
        found: list[dict[str, Any]] = [c for doc in docs if doc for c in doc.get("components") or []
                                       if c["name"] == name]
        if not found:
            raise RuntimeError(f"cluster {self.name} has no component {name}")
        return found[0]

    def stop_component(self, name: str) -> None:
        """Stop one component (etcd, kube-apiserver, ...) with SIGTERM, as an upgrade or a node drain does; its data
        directory stays. kwokctl stops and starts only whole clusters."""
        processes.stop(self._dir / "pids" / f"{name}.pid")

    def start_component(self, name: str, c: dict[str, Any] | None = None) -> None:
        """Start a stopped component again exactly as kwokctl started it: same binary, flags, ports and data."""
        c = c or self._component(name)
        env = {**os.environ, **{e["name"]: e["value"] for e in c.get("envs") or []}}
        processes.start([c["binary"], *(c.get("args") or [])], self._dir / "pids" / f"{name}.pid",
                        self._dir / "logs" / f"{name}.log", env=env, cwd=Path(c.get("workDir") or self._dir))

    def restart_component(self, name: str, down_seconds: float = 0.0, timeout: float = 120) -> float:
        """Stop a component, leave it down for `down_seconds`, start it again and wait until the API server is
        ready; the seconds from the stop until then."""
        component = self._component(name)
        started = time.monotonic()
        self.stop_component(name)
        time.sleep(down_seconds)  # the outage itself, not a wait for readiness
        self.start_component(name, component)
        processes.wait_for(self.ready, timeout, f"the API server after restarting {name}", interval=0.1)
        return time.monotonic() - started

    def down(self) -> None:
        if (self.workdir / "clusters" / self.name).exists():
            self.kwokctl("delete", "cluster")
