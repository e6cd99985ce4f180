"""`aenv rotate --cache` in mode ack, through the real ACK elasticache controller and the emulator's data plane (a
real Redis behind the replication group): the connection Secret's new token is accepted by the cache, and the
old one stays accepted (ACK sends the token without a strategy: ElastiCache's ROTATE, no SET to revoke it)."""

from __future__ import annotations

import base64
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from aenv import commands
from aenv.local.ack import AckControllers
from aenv.local.emulator import AwsEmulator
from aenv.local.processes import wait_for

from .ack import ACK_RESYNC_SECONDS, AckKind, get
from .conftest import Operator, fresh_namespace
from .kube import Kube
from .leaks import running_emulator
from .test_data_plane import STORES

pytestmark = pytest.mark.integration
READY_DEADLINE = 420.0  # mode ack: the ACK controllers resolve references and sync in turn
NAME = "rot"
REPLICATION_GROUP = AckKind("elasticache", "ReplicationGroup", plural="replicationgroups")
CACHE = STORES["cache"]


@pytest.fixture(scope="module")
def data_plane_emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AwsEmulator]:
    """An emulator of its own with the data plane on (the session's has it off)."""
    yield from running_emulator(tmp_path_factory.mktemp("moto-ack-dataplane"), data_plane=True)


@pytest.fixture(scope="module")
def controllers_on_data_plane(ack_controllers: AckControllers, emulator: AwsEmulator,
                              data_plane_emulator: AwsEmulator) -> Iterator[AckControllers]:
    """The session's ACK controllers, calling the data-plane emulator for this module and the session's after it
    (one set of controllers: two would both act on every CR)."""
    def point_at(url: str) -> None:
        ack_controllers.stop()
        ack_controllers.endpoint = url
        ack_controllers.start()

    point_at(data_plane_emulator.url)
    yield ack_controllers  # pytest runs what follows whether the tests passed or not
    point_at(emulator.url)


@pytest.fixture(scope="module")
def data_plane_ack_operator(tmp_path_factory: pytest.TempPathFactory, kubeconfig: Path, kube: Kube,
                            data_plane_emulator: AwsEmulator,
                            controllers_on_data_plane: AckControllers) -> Iterator[Operator]:
    """An operator without any AWS variable that checks the data plane (the connection Secret's credentials)."""
    op = Operator(tmp_path_factory.mktemp("ack-dataplane-operator"), kubeconfig, data_plane_emulator,
                  prefix="aenv-ack-dataplane-", env={"AENV_DATA_PLANE_CHECK_SECONDS": "2"})
    op.env = {k: v for k, v in op.env.items() if not k.startswith("AWS_")}
    with op:
        yield op


@pytest.fixture
def namespace(kube: Kube, data_plane_emulator: AwsEmulator, data_plane_ack_operator: Operator) -> Iterator[str]:
    data_plane_emulator.reset()
    yield from fresh_namespace(kube, data_plane_ack_operator)


def private_network(emulator: AwsEmulator) -> tuple[str, list[str]]:
    ec2 = emulator.client("ec2")
    vpc = ec2.create_vpc(CidrBlock="10.41.0.0/16")["Vpc"]["VpcId"]
    subnets = [ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.41.{i}.0/24", AvailabilityZone=f"us-east-1{az}")
               ["Subnet"]["SubnetId"] for i, az in enumerate("ab")]
    return vpc, subnets


def connection_data(kube: Kube, ns: str) -> dict[str, str]:
    secret = kube.core.read_namespaced_secret(f"{NAME}-connection", ns)
    return {k: base64.b64decode(v).decode() for k, v in (secret.data or {}).items()}


def accepted(url: str, emulator: AwsEmulator) -> bool:
    """Whether the cache takes the URL's token (AUTH, then PING); an error other than a refused token raises."""
    return CACHE.connects(url, emulator.ca_file)


def group(kube: Kube, ns: str) -> dict[str, Any]:
    """The environment's one ReplicationGroup CR."""
    [name] = [g["metadata"]["name"] for g in kube.custom.list_namespaced_custom_object(
        REPLICATION_GROUP.group, REPLICATION_GROUP.version, ns, REPLICATION_GROUP.plural)["items"]]
    return get(kube, REPLICATION_GROUP, ns, name)


def test_a_rotated_cache_token_reaches_elasticache_through_ack(
        kube: Kube, data_plane_emulator: AwsEmulator, namespace: str, monkeypatch: pytest.MonkeyPatch) -> None:
    ns, emulator = namespace, data_plane_emulator
    vpc, subnets = private_network(emulator)
    kube.create_env(ns, NAME, {"tier": "dev", "aws": {"region": "us-east-1", "mode": "ack", "vpcId": vpc,
                                                        "subnetIds": subnets},
                               **CACHE.section, "deletionPolicy": "Delete"})
    kube.wait_condition(ns, NAME, "Ready", timeout=READY_DEADLINE)
    old_url = connection_data(kube, ns)["CACHE_URL"]
    assert old_url.startswith("rediss://") and accepted(old_url, emulator)
    old_secret = group(kube, ns)["spec"]["authToken"]["name"]

    monkeypatch.setattr(commands, "_api", lambda: kube.custom)
    commands.rotate(ns, NAME, "cache")
    wait_for(lambda: connection_data(kube, ns)["CACHE_URL"] != old_url, 120, "a new token in the connection Secret")
    assert group(kube, ns)["spec"]["authToken"]["name"] != old_secret
    new_url, switched = connection_data(kube, ns)["CACHE_URL"], time.monotonic()
    wait_for(lambda: accepted(new_url, emulator), ACK_RESYNC_SECONDS * 3,
             "the cache to accept the connection Secret's new token (ACK's ModifyReplicationGroup)")
    print(f"the cache accepted the new token {time.monotonic() - switched:.1f} s after the connection Secret "
          "had it (an upper bound: polled)")
    # ACK sends the token without AuthTokenUpdateStrategy, which ElastiCache takes as ROTATE: the old token stays
    # valid beside the new one (until the next rotation), so pods started before keep their connections.
    assert accepted(old_url, emulator)
    kube.wait_condition(ns, NAME, "CacheReady", timeout=60)
    kube.wait_condition(ns, NAME, "Ready", timeout=60)

    # A second rotation: ElastiCache keeps two tokens, so the first one goes.
    newest_before = new_url
    commands.rotate(ns, NAME, "cache")
    wait_for(lambda: connection_data(kube, ns)["CACHE_URL"] != newest_before, 120, "a third token")
    third_url = connection_data(kube, ns)["CACHE_URL"]
    wait_for(lambda: accepted(third_url, emulator), ACK_RESYNC_SECONDS * 3, "the cache to accept the third token")
    assert accepted(newest_before, emulator) and not accepted(old_url, emulator)

    kube.delete_env(ns, NAME)
    wait_for(lambda: kube.env_gone(ns, NAME), READY_DEADLINE, "the environment to be deleted through ACK")
