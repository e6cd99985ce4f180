"""The examples work where a new user first tries them: each of examples/*.yaml, applied as it is written (only
the namespace is the test's), becomes Ready on the local control plane and the AWS emulator with the operator
running. env-prod names a VPC and subnets: the emulator holds them (AwsEmulator.seed_network), and the network
lands in them."""

from __future__ import annotations

import contextlib
import copy
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubernetes.client.rest import ApiException

from aenv.api import GROUP, PLURAL, VERSION, EnvironmentSpec, effective
from aenv.cost.estimate import estimate
from aenv.local.emulator import AwsEmulator
from aenv.local.processes import wait_for

from .conftest import Operator
from .kube import Kube

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = ("env-dev.yaml", "env-staging.yaml", "env-prod.yaml")
READY_DEADLINE = 180.0
RELEASE_DEADLINE = 120.0  # a prod environment: final snapshots, then the network


def example(file: str, namespace: str) -> dict[str, Any]:
    body: dict[str, Any] = copy.deepcopy(yaml.safe_load((REPO / "examples" / file).read_text()))
    body["metadata"]["namespace"] = namespace
    return body


def release(kube: Kube, namespace: str, name: str) -> None:
    """Delete the environment and wait until aenv has deleted (or snapshotted) what it made and let it go."""
    with contextlib.suppress(ApiException):  # 404: gone meanwhile
        kube.delete_env(namespace, name)
    wait_for(lambda: kube.env_gone(namespace, name), RELEASE_DEADLINE, f"{namespace}/{name} to be gone")


@pytest.fixture(params=EXAMPLES)
def applied(request: pytest.FixtureRequest, kube: Kube, namespace: str) -> Iterator[dict[str, Any]]:
    """The example, created in the test's namespace exactly as `kubectl apply -f` would."""
    body = example(request.param, namespace)
    created: dict[str, Any] = kube.custom.create_namespaced_custom_object(
        GROUP, VERSION, namespace, PLURAL, body, field_validation="Strict")
    yield created
    release(kube, namespace, body["metadata"]["name"])


def test_each_example_becomes_ready_as_written(kube: Kube, applied: dict[str, Any], emulator: AwsEmulator,
                                               operator: Operator) -> None:
    namespace, name = applied["metadata"]["namespace"], applied["metadata"]["name"]
    env = kube.wait_condition(namespace, name, "Ready", timeout=READY_DEADLINE)
    assert env["status"]["phase"] == "Ready"
    for type_ in ("NetworkReady", "CacheReady", "QueuesReady", "WorkloadsReady"):
        assert kube.condition(env, type_)["status"] == "True", type_  # type: ignore[index]
    # The estimate of the spec as applied (tests/unit/test_cost.py checks it by hand), written to status.
    cost = env["status"]["cost"]
    assert cost["monthlyUSD"] == estimate(effective(EnvironmentSpec.model_validate(applied["spec"]))).monthly_usd > 0
    assert {"cache", "queues", "encryption"} <= {i["component"] for i in cost["breakdown"]} and not cost["unpriced"]

    # The network is where the example says: its VPC and subnets, or the account's default VPC.
    ec2, elasticache = emulator.client("ec2"), emulator.client("elasticache")
    aws = applied["spec"]["aws"]
    vpc = aws.get("vpcId") or ec2.describe_vpcs(
        Filters=[{"Name": "is-default", "Values": ["true"]}])["Vpcs"][0]["VpcId"]
    prefix = f"aenv-{namespace}-{name}"
    groups = ec2.describe_security_groups(Filters=[{"Name": "group-name", "Values": [f"{prefix}-*"]}])
    assert {g["GroupName"]: g["VpcId"] for g in groups["SecurityGroups"]} == {
        f"{prefix}-workloads": vpc, f"{prefix}-cache": vpc,
        **({f"{prefix}-database": vpc} if "database" in applied["spec"] else {})}
    [cache_subnets] = elasticache.describe_cache_subnet_groups(CacheSubnetGroupName=f"{prefix}-cache")[
        "CacheSubnetGroups"]
    assert cache_subnets["VpcId"] == vpc
    if aws.get("subnetIds"):
        assert sorted(s["SubnetIdentifier"] for s in cache_subnets["Subnets"]) == sorted(aws["subnetIds"])
