"""The real ACK (AWS Controllers for Kubernetes) controllers as local processes, pointed at the AWS emulator.

hack/build-ack-controllers.sh builds them from pinned sources (hack/ack-versions.env) into a directory holding one
binary per controller (`<service>-controller`) and their CRDs (`crds/<controller>/*.yaml`, the runtime's shared
ones in `crds/common/`). `install_crds` applies those CRDs to a cluster; `AckControllers` runs each controller with
the cluster's kubeconfig, the emulator's endpoint and dummy credentials, and its own ports on 127.0.0.1.
"""

from __future__ import annotations

import os
import subprocess
import urllib.request
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

import yaml

from . import processes
from .emulator import CREDENTIALS, REGION, free_port

REPO = Path(__file__).resolve().parents[3]
BUILD_SCRIPT = REPO / "hack" / "build-ack-controllers.sh"
CONTROLLER_SUFFIX = "-controller"
# ACK's own default is 10 hours; the local environment wants drift corrected within minutes.
DEFAULT_RESYNC_SECONDS = 60
START_TIMEOUT = 60.0
CRD_TIMEOUT = 120.0


def binaries() -> Path:
    """The directory of ACK controller binaries and CRDs: $AENV_ACK_BIN, or built (once per pin) by the build script,
    which reads its sources from $AENV_ACK_SOURCES or clones them."""
    given = os.environ.get("AENV_ACK_BIN")
    if given:
        return Path(given)
    result = subprocess.run(["bash", str(BUILD_SCRIPT)], capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(f"{BUILD_SCRIPT.name} failed (exit {result.returncode}):\n{result.stderr[-4000:]}")
    return Path(result.stdout.strip().splitlines()[-1])


def controllers(bin_dir: Path) -> list[str]:
    """The controllers in bin_dir, by name (`sqs-controller`, ...)."""
    return sorted(p.name for p in bin_dir.iterdir()
                  if p.name.endswith(CONTROLLER_SUFFIX) and p.is_file() and os.access(p, os.X_OK))


def crd_files(bin_dir: Path, names: Iterable[str] | None = None) -> list[Path]:
    """The CRD files of the named controllers (all of them by default), the runtime's shared CRDs first."""
    wanted = controllers(bin_dir) if names is None else list(names)
    dirs = [bin_dir / "crds" / "common", *(bin_dir / "crds" / n for n in wanted)]
    missing = [str(d) for d in dirs if not d.is_dir()]
    if missing:
        raise FileNotFoundError(f"no CRDs in {', '.join(missing)}: rebuild with {BUILD_SCRIPT.name}")
    return [f for d in dirs for f in sorted(d.glob("*.yaml"))]


def crd_names(files: Iterable[Path]) -> list[str]:
    """metadata.name of every CustomResourceDefinition in files."""
    return [doc["metadata"]["name"] for f in files for doc in yaml.safe_load_all(f.read_text())
            if isinstance(doc, dict) and doc.get("kind") == "CustomResourceDefinition"]


def install_crds(kubectl: Path, kubeconfig: Path, files: Sequence[Path], timeout: float = CRD_TIMEOUT) -> list[str]:
    """Server-side apply the CRDs in files and wait until the API server serves every one; returns their names."""
    names = crd_names(files)
    if not names:
        return names
    base = [str(kubectl), "--kubeconfig", str(kubeconfig)]
    args = [a for f in files for a in ("-f", str(f))]
    _run("applying the ACK CRDs",
         [*base, "apply", "--server-side", "--force-conflicts", "--field-manager=aenv-ack", *args])
    _run("waiting for the ACK CRDs to be established",
         [*base, "wait", "--for=condition=Established", f"--timeout={timeout:.0f}s",
          *(f"customresourcedefinition/{n}" for n in names)])
    return names


def _run(what: str, cmd: Sequence[str]) -> None:
    result = subprocess.run(list(cmd), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if result.returncode != 0:
        raise RuntimeError(f"{what} failed:\n{result.stdout[-4000:]}")


def controller_environ(kubeconfig: Path, region: str, base: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment of a controller process: base (os.environ by default) without any AWS_ variable, so
    neither AWS_CA_BUNDLE (with it every AWS call of the controllers fails) nor a real profile leaks in; then
    KUBECONFIG, the region and the emulator's dummy credentials."""
    inherited = os.environ if base is None else base
    env = {k: v for k, v in inherited.items() if not k.startswith("AWS_")}
    return {**env, "KUBECONFIG": str(kubeconfig), "AWS_REGION": region, **CREDENTIALS}


class AckControllers:
    """ACK controllers as processes with their pid, port and log files in state_dir."""

    def __init__(self, bin_dir: Path, state_dir: Path, kubeconfig: Path, endpoint: str, region: str = REGION,
                 resync_seconds: int = DEFAULT_RESYNC_SECONDS, names: Sequence[str] | None = None) -> None:
        """Controllers from bin_dir (the named ones, or all) for the cluster of kubeconfig, calling AWS at endpoint
        (also for STS) in region, resyncing each resource every resync_seconds."""
        self.bin_dir, self.state_dir, self.kubeconfig = bin_dir, state_dir, kubeconfig
        self.endpoint, self.region, self.resync_seconds = endpoint, region, resync_seconds
        self.names = list(names) if names is not None else controllers(bin_dir)
        unknown = sorted(set(self.names) - set(controllers(bin_dir)))
        if unknown:
            raise FileNotFoundError(f"no binary for {', '.join(unknown)} in {bin_dir}")

    def pidfile(self, name: str) -> Path:
        return self.state_dir / f"{name}.pid"

    def logfile(self, name: str) -> Path:
        return self.state_dir / f"{name}.log"

    def healthz_url(self, name: str) -> str:
        return f"http://127.0.0.1:{(self.state_dir / f'{name}.healthz-port').read_text().strip()}/readyz"

    def command(self, name: str, metrics_port: int, healthz_port: int, webhook_port: int) -> list[str]:
        return [str(self.bin_dir / name),
                "--aws-region", self.region,
                "--aws-endpoint-url", self.endpoint,
                "--aws-identity-endpoint-url", self.endpoint,
                "--allow-unsafe-aws-endpoint-urls",
                "--metrics-addr", f"127.0.0.1:{metrics_port}",
                "--healthz-addr", f"127.0.0.1:{healthz_port}",
                "--webhook-server-addr", f"127.0.0.1:{webhook_port}",
                "--reconcile-default-resync-seconds", str(self.resync_seconds),
                "--enable-leader-election=false"]

    def start(self, timeout: float = START_TIMEOUT, attempts: int = 3) -> None:
        """Start every controller not running yet and wait until each answers its readiness probe. A controller
        that exits at once (a port taken between choosing it and binding it) is started again on other ports."""
        self.state_dir.mkdir(parents=True, exist_ok=True)
        env = controller_environ(self.kubeconfig, self.region)
        for attempt in range(1, attempts + 1):
            for name in self.dead():
                metrics, healthz, webhook = free_port(), free_port(), free_port()
                (self.state_dir / f"{name}.healthz-port").write_text(str(healthz))
                processes.start(self.command(name, metrics, healthz, webhook), self.pidfile(name),
                                self.logfile(name), env=env)
            try:
                processes.wait_for(lambda: all(self._ready(n) for n in self.names) or bool(self.dead()), timeout,
                                   f"the ACK controllers {', '.join(self.names)} to be ready")
            except TimeoutError as e:
                raise TimeoutError(f"{e}\n{self.tails(n for n in self.names if not self._ready(n))}") from None
            dead = self.dead()
            if not dead:
                return
            if attempt == attempts:
                raise RuntimeError(f"ACK controllers exited: {', '.join(dead)}\n{self.tails(dead)}")

    def stop(self) -> None:
        for name in self.names:
            processes.stop(self.pidfile(name))

    def dead(self) -> list[str]:
        """The controllers that are not running."""
        return [n for n in self.names if processes.read_pid(self.pidfile(n)) is None]

    def _ready(self, name: str) -> bool:
        try:
            with urllib.request.urlopen(self.healthz_url(name), timeout=2) as r:
                return bool(r.status == 200)
        except OSError:
            return False

    def log_tail(self, name: str, chars: int = 3000) -> str:
        log = self.logfile(name)
        return log.read_text(errors="replace")[-chars:] if log.exists() else ""

    def tails(self, names: Iterable[str]) -> str:
        return "\n".join(f"--- {n} ({self.logfile(n)}):\n{self.log_tail(n)}" for n in names)
