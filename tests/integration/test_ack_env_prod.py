"""The acceptance of mode boto3, repeated in mode ack: examples/env-prod.yaml with `mode: ack` becomes Ready through
the real ACK controllers, with an operator that holds no AWS credentials, and every component is checked by
describing moto with the same assertions as tests/integration/test_env_prod.py; a spec change reaches AWS, a change
made by hand in AWS is corrected by ACK within the resync configured for the controllers, and deleting it with
its deletionPolicy (Snapshot) leaves exactly what that policy promises."""

from __future__ import annotations

import time
from typing import Any

import pytest

from aenv.local.emulator import AwsEmulator
from aenv.local.processes import wait_for

from .ack import ACK_RESYNC_SECONDS
from .conftest import Operator
from .kube import Kube
from .test_env_prod import (
    FINALIZER,
    NAME,
    READY_DEADLINE,
    Aws,
    check_deleted_per_snapshot,
    check_prod,
    create_prod,
    prod_spec,
    reports_deleting,
)

pytestmark = pytest.mark.integration


@pytest.fixture
def aws(emulator: AwsEmulator) -> Aws:
    return Aws(emulator)


def ack_prod_spec(vpc: str, subnets: list[str]) -> dict[str, Any]:
    spec = prod_spec(vpc, subnets)
    spec["aws"]["mode"] = "ack"
    return spec


def test_prod_example_through_ack(kube: Kube, aws: Aws, ack_operator: Operator, ack_namespace: str) -> None:
    namespace = ack_namespace
    assert not any(k.startswith("AWS_") for k in ack_operator.env), "the operator holds no AWS settings in mode ack"
    env, vpc_subnets = create_prod(kube, aws, namespace, ack_prod_spec)
    check_prod(kube, aws, namespace, env, vpc_subnets)
    uid, p = env["metadata"]["uid"], f"aenv-{namespace}-{NAME}"
    [key] = aws.keys()

    # A spec change reaches AWS through the CRs.
    spec = env["spec"]
    spec["queues"][0]["visibilityTimeoutSeconds"] = 90
    spec["database"]["backupRetentionDays"] = 14
    kube.replace_spec(namespace, NAME, spec)
    wait_for(lambda: aws.queue(p, "events")["VisibilityTimeout"] == "90", READY_DEADLINE,
             "the new visibility timeout in SQS")
    wait_for(lambda: aws.db_instances(p)[f"{p}-database"]["BackupRetentionPeriod"] == 14, READY_DEADLINE,
             "the new backup retention in RDS")

    # A change made by hand in AWS: ACK puts it back at its next resync.
    url = aws.sqs.get_queue_url(QueueName=f"{p}-events")["QueueUrl"]
    aws.sqs.set_queue_attributes(QueueUrl=url, Attributes={"VisibilityTimeout": "5"})
    made = time.monotonic()
    wait_for(lambda: aws.queue(p, "events")["VisibilityTimeout"] == "90", ACK_RESYNC_SECONDS * 3,
             "ACK to correct the queue changed by hand")
    print(f"a change made by hand in AWS corrected by ACK in {time.monotonic() - made:.1f} s "
          f"(controllers' resync {ACK_RESYNC_SECONDS} s)")

    # Deleting with the example's policy, Snapshot.
    kube.delete_env(namespace, NAME)
    wait_for(lambda: reports_deleting(kube, namespace), READY_DEADLINE, "the status to say Deleting")
    wait_for(lambda: kube.env_gone(namespace, NAME), READY_DEADLINE * 2, "the environment to go once ACK confirms")
    assert FINALIZER in env["metadata"]["finalizers"]
    check_deleted_per_snapshot(aws, p, uid, key)
