"""How aenv.local.ack runs the ACK controllers: which binaries and CRDs it finds in a build directory, the environment
(no AWS_CA_BUNDLE, no real credentials) and the flags each controller gets."""

from __future__ import annotations

from pathlib import Path

import pytest

from aenv.local import ack
from aenv.local.emulator import CREDENTIALS

CRD = """\
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {{name: {name}}}
"""


@pytest.fixture
def bin_dir(tmp_path: Path) -> Path:
    """A build directory as hack/build-ack-controllers.sh leaves it, with two controllers."""
    for name, crds in {"sqs-controller": ["queues.sqs.services.k8s.aws"],
                       "kms-controller": ["keys.kms.services.k8s.aws", "aliases.kms.services.k8s.aws"],
                       "common": ["fieldexports.services.k8s.aws"]}.items():
        (tmp_path / "crds" / name).mkdir(parents=True)
        for crd in crds:
            (tmp_path / "crds" / name / f"{crd}.yaml").write_text(CRD.format(name=crd))
        if name != "common":
            (tmp_path / name).write_text("#!/bin/sh\n")
            (tmp_path / name).chmod(0o755)
    (tmp_path / "README-controller").write_text("not executable")
    return tmp_path


def test_controllers_are_the_executables_named_controller(bin_dir: Path) -> None:
    assert ack.controllers(bin_dir) == ["kms-controller", "sqs-controller"]


def test_crds_of_the_named_controllers_come_after_the_common_ones(bin_dir: Path) -> None:
    assert ack.crd_names(ack.crd_files(bin_dir, ["sqs-controller"])) == [
        "fieldexports.services.k8s.aws", "queues.sqs.services.k8s.aws"]
    assert len(ack.crd_files(bin_dir)) == 4
    with pytest.raises(FileNotFoundError, match="rds-controller"):
        ack.crd_files(bin_dir, ["rds-controller"])


def test_the_environment_holds_no_aws_variable_but_the_emulator_credentials() -> None:
    env = ack.controller_environ(Path("/k/kubeconfig"), "eu-west-1", {
        "PATH": "/bin", "AWS_CA_BUNDLE": "/etc/ca.pem", "AWS_PROFILE": "prod", "AWS_SESSION_TOKEN": "t",
        "AWS_ENDPOINT_URL": "http://elsewhere"})
    assert env == {"PATH": "/bin", "KUBECONFIG": "/k/kubeconfig", "AWS_REGION": "eu-west-1", **CREDENTIALS}


def test_each_controller_listens_on_its_own_loopback_ports_and_calls_the_emulator(bin_dir: Path) -> None:
    controllers = ack.AckControllers(bin_dir, bin_dir / "state", Path("kubeconfig"), "http://127.0.0.1:5000",
                                     resync_seconds=30, names=["sqs-controller"])
    cmd = controllers.command("sqs-controller", 1001, 1002, 1003)

    def value(flag: str) -> str:
        return cmd[cmd.index(flag) + 1]

    assert cmd[0] == str(bin_dir / "sqs-controller")
    assert "--allow-unsafe-aws-endpoint-urls" in cmd
    assert value("--aws-endpoint-url") == value("--aws-identity-endpoint-url") == "http://127.0.0.1:5000"
    assert [value(f) for f in ("--metrics-addr", "--healthz-addr", "--webhook-server-addr")] == [
        "127.0.0.1:1001", "127.0.0.1:1002", "127.0.0.1:1003"]
    assert value("--reconcile-default-resync-seconds") == "30"


def test_an_unbuilt_controller_is_named(bin_dir: Path) -> None:
    with pytest.raises(FileNotFoundError, match="rds-controller"):
        ack.AckControllers(bin_dir, bin_dir / "state", Path("kubeconfig"), "http://x", names=["rds-controller"])
