"""Real parts: a Kubernetes control plane (local kwok cluster, or AENV_TEST_KUBECONFIG), moto in server mode,
and the operator as its own process, exactly as a user runs it."""

from __future__ import annotations

import os
import sys
import urllib.request
import uuid
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubernetes import client, config
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from aenv import iam_policy
from aenv.api import crd
from aenv.aws.component import AwsTarget
from aenv.local import processes
from aenv.local.controlplane import LocalCluster
from aenv.local.devenv import OIDC_ISSUER
from aenv.local.emulator import CREDENTIALS, REGION, AwsEmulator, free_port

from .ack import ack_bin, ack_controllers, ack_namespace, ack_operator, in_process  # noqa: F401 - fixtures: ACK
from .kube import Kube
from .leaks import COLLECTOR, install_log_handler, running_emulator

REPO = Path(__file__).resolve().parents[2]
NAMESPACE_PREFIX = "aenv-test-"
RESYNC_SECONDS = 2
AWS_OPERATIONS: set[tuple[str, str]] = set()  # what the operators asked of AWS (read as each one stops)


@pytest.fixture(scope="session")
def kubeconfig(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """AENV_TEST_KUBECONFIG (kind, EKS, any cluster) when set; otherwise a local control plane for this run."""
    given = os.environ.get("AENV_TEST_KUBECONFIG")
    if given:
        yield Path(given)
        return
    cluster = LocalCluster(f"aenv-test-{os.getpid()}", tmp_path_factory.mktemp("kwok"))
    try:
        # Room for the pods of the whole suite: each kwok node takes 110, and a long run schedules many.
        yield cluster.up(nodes=4)
    finally:
        cluster.down()


@pytest.fixture(scope="session", autouse=True)
def aenv_log_records() -> None:
    """aenv's log records in this process (its clients called directly) are looked through for credentials too."""
    install_log_handler()


@pytest.fixture(scope="session")
def kube(kubeconfig: Path) -> Iterator[Kube]:
    api = config.new_client_from_config(config_file=str(kubeconfig))
    k = Kube(api)
    k.apply_crd(yaml.safe_load((REPO / "crds" / crd.CRD_FILE).read_text()))
    COLLECTOR.watch(api)  # what must not hold a credential, as the run goes (pytest_sessionfinish scans it)
    try:
        yield k
    finally:
        COLLECTOR.stop_watching()


@pytest.fixture(scope="session")
def emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AwsEmulator]:
    yield from running_emulator(tmp_path_factory.mktemp("moto"))


class Operator:
    """`aenv run` in its own process; stop() and start() simulate a crash and a restart."""

    def __init__(self, state: Path, kubeconfig: Path, emulator: AwsEmulator, prefix: str = NAMESPACE_PREFIX,
                 resync: float = RESYNC_SECONDS, args: Sequence[str] | None = None,
                 env: Mapping[str, str] | None = None) -> None:
        """An operator for the namespaces whose names start with `prefix`, resyncing every `resync` seconds;
        `args` replaces `-n <prefix>*` (exact namespaces, leader election), `env` adds to its environment."""
        self.pidfile, self.log, self.prefix = state / "operator.pid", state / "operator.log", prefix
        self.args = list(args) if args is not None else ["-n", f"{prefix}*"]
        self.metrics_port = free_port()  # its AWS requests are read from here when it stops (AWS_OPERATIONS)
        COLLECTOR.logs.add(self.log)
        self.env = {**os.environ, **emulator.environ(), "KUBECONFIG": str(kubeconfig),
                    "AENV_RESYNC_SECONDS": str(resync), "PYTHONPATH": str(REPO / "operator"),
                    "AENV_OIDC_ISSUER": OIDC_ISSUER, "AENV_ROLLOUT_SECONDS": "1", "AENV_ROLLOUT_SAFETY_SECONDS": "1",
                    # The data plane's servers are trusted through its CA, as `aenv dev up` sets it.
                    **({"AENV_DATA_PLANE_CA_FILE": str(emulator.ca_file)} if emulator.data_plane else {}),
                    **(env or {})}

    def start(self) -> None:
        processes.start([sys.executable, "-m", "aenv", "run", *self.args, "--metrics-port", str(self.metrics_port)],
                        self.pidfile, self.log, env=self.env)

    def stop(self) -> None:
        if self.running():
            text = metrics_text(self.metrics_port)
            AWS_OPERATIONS.update(aws_operations_of(text))
            COLLECTOR.metrics(text, f"the operator logging to {self.log}")
        processes.stop(self.pidfile)

    def __enter__(self) -> Operator:
        self.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()

    def kill(self) -> None:
        pid = processes.read_pid(self.pidfile)
        assert pid is not None, "the operator is not running"
        os.killpg(pid, 9)
        processes.stop(self.pidfile)

    def running(self) -> bool:
        return processes.read_pid(self.pidfile) is not None

    def log_text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""


@pytest.fixture(scope="session")
def operator(tmp_path_factory: pytest.TempPathFactory, kubeconfig: Path, kube: Kube,
             emulator: AwsEmulator) -> Iterator[Operator]:
    with Operator(tmp_path_factory.mktemp("operator"), kubeconfig, emulator) as op:
        yield op


@pytest.fixture
def namespace(kube: Kube, emulator: AwsEmulator, operator: Operator) -> Iterator[str]:
    """A fresh namespace and a fresh AWS account; environments left in it are deleted and awaited."""
    emulator.reset()
    yield from fresh_namespace(kube, operator)


def fresh_namespace(kube: Kube, operator: Operator) -> Iterator[str]:
    """A new namespace that `operator` serves; environments left in it are deleted and awaited."""
    if not operator.running():
        operator.start()
    name = f"{operator.prefix}{uuid.uuid4().hex[:8]}"
    kube.core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=name)))
    try:
        yield name
    finally:
        COLLECTOR.harvest_emulators()  # the environments' credentials, before their deletion removes them
        if not operator.running():
            operator.start()
        kube.delete_all_environments(name)
        kube.core.delete_namespace(name)


@pytest.fixture
def sqs(emulator: AwsEmulator) -> Any:
    return emulator.client("sqs")


@pytest.fixture
def target(emulator: AwsEmulator, monkeypatch: pytest.MonkeyPatch) -> AwsTarget:
    """A fresh AWS account for a component client; aenv's clients take credentials from the environment."""
    for name, value in CREDENTIALS.items():
        monkeypatch.setenv(name, value)
    emulator.reset()
    return AwsTarget(region=REGION, endpoint=emulator.url)


def metrics_text(port: int) -> str:
    """An operator's /metrics (its aenv_aws_requests metric names the AWS requests it made)."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as r:
            return str(r.read().decode())
    except OSError:  # not serving (yet): nothing to read
        return ""


def aws_operations_of(text: str) -> set[tuple[str, str]]:
    return {(s.labels["service"], s.labels["operation"]) for family in text_string_to_metric_families(text)
            if family.name == "aenv_aws_requests" for s in family.samples
            if s.name == "aenv_aws_requests_total" and s.value > 0}


def pytest_sessionfinish(session: pytest.Session) -> None:
    """The run fails when an operator made an AWS request whose action `aenv iam-policy` does not grant, or when a
    credential aenv generated shows in a log, an Event, a status, an annotation or a metric label."""
    # The component tests call aenv's AWS clients in this process: the same metric, in this process's registry.
    own = generate_latest().decode()
    COLLECTOR.metrics(own, "the test process")
    check_leaks(session)
    AWS_OPERATIONS.update(aws_operations_of(own))
    if not AWS_OPERATIONS:
        return
    needed = {iam_policy.action_of(service, operation) for service, operation in AWS_OPERATIONS}
    missing = sorted(needed - iam_policy.actions())
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None:
        reporter.write_line(f"aenv iam-policy: the operators made {len(AWS_OPERATIONS)} kinds of AWS request "
                            f"({len(needed)} IAM actions); not granted: {', '.join(missing) or 'none'}")
        if session.config.option.verbose > 0:
            reporter.write_line(f"the IAM actions: {' '.join(sorted(needed))}")
    if missing:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def check_leaks(session: pytest.Session) -> None:
    if not COLLECTOR.credentials:
        return
    found = COLLECTOR.scan()
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None:
        reporter.write_line(f"secrets: {len(COLLECTOR.credentials)} credential values aenv generated, looked for in "
                            f"{len(COLLECTOR.places)} texts and {len(COLLECTOR.logs)} operator logs: "
                            f"{len(found)} leaks")
        for line in found[:50]:
            reporter.write_line(f"  leaked: {line}")
        for line in COLLECTOR.unread:
            reporter.write_line(f"  secrets not read from the emulator: {line}")
    if found:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> None:
    """On failure, show the end of the operator's log: the first thing anyone asks for."""
    if call.excinfo is not None and "operator" in getattr(item, "funcargs", {}):
        tail = item.funcargs["operator"].log_text()[-6000:]
        item.add_report_section(call.when, "operator log (tail)", tail)
