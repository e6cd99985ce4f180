"""The crash window: the operator dies after AWS made a resource and before aenv wrote it to status. Restarted, it
must find that resource, not make a second one.

The fault proxy forwards the create to moto (so AWS has made the resource) and holds the response; the operator is
killed (SIGKILL) while it waits for it, then started again.
"""

from __future__ import annotations

from typing import Any

import boto3
import pytest

from aenv.local.emulator import AwsEmulator
from aenv.local.processes import wait_for
from aenv.naming import TAG_ENVIRONMENT, TAG_UID

from .conftest import Operator
from .faults import Hold, fault_proxy
from .kube import DEADLINE, Kube

NAME = "defi"
QUEUE_KEYS = ["queue/events/dead-letter", "queue/events", "queue/trades/dead-letter", "queue/trades"]


def spec(endpoint: str) -> dict[str, Any]:
    return {"tier": "dev", "aws": {"region": "us-east-1", "endpoint": endpoint},
            "queues": [{"name": "events", "deadLetter": {"maxReceiveCount": 3}}, {"name": "trades"}]}


def queues(sqs: Any, prefix: str) -> list[str]:
    return sorted(u.rsplit("/", 1)[-1] for u in sqs.list_queues(QueueNamePrefix=prefix).get("QueueUrls", []))


def keys(kms: Any, namespace: str) -> list[dict[str, Any]]:
    """The environment's KMS keys in moto that are not pending deletion, with their tags."""
    out = []
    for page in kms.get_paginator("list_keys").paginate():
        for k in page["Keys"]:
            meta = kms.describe_key(KeyId=k["KeyId"])["KeyMetadata"]
            if meta["KeyState"] != "PendingDeletion":
                tags = {t["TagKey"]: t["TagValue"] for t in kms.list_resource_tags(KeyId=k["KeyId"])["Tags"]}
                if tags.get(TAG_ENVIRONMENT) == f"{namespace}/{NAME}":
                    out.append({**meta, "Tags": tags})
    return out


def status_keys(kube: Kube, namespace: str) -> list[str]:
    return [r["key"] for r in kube.get_env(namespace, NAME).get("status", {}).get("resources", [])]


@pytest.mark.parametrize("operation", ["CreateQueue", "CreateKey"])
def test_killed_between_create_and_status_write_finds_its_resource(kube: Kube, namespace: str, emulator: AwsEmulator,
                                                                   sqs: Any, operator: Operator,
                                                                   operation: str) -> None:
    """CreateQueue is idempotent by name on AWS; CreateKey is not (every call makes a new key): aenv must find the
    key it made by its uid and component tags, since the alias it finds keys by was never made."""
    kms = boto3.client("kms", region_name="us-east-1", endpoint_url=emulator.url,
                       aws_access_key_id="testing", aws_secret_access_key="testing")
    p = f"aenv-{namespace}-{NAME}"
    # The environment's calls only: the operator's own drift channel makes its queue through the same endpoint.
    counted = {op: Hold(op, times=0, match=namespace) for op in ("CreateKey", "CreateQueue")}  # never held
    hold = Hold(operation, match=namespace)
    with fault_proxy(emulator.url, holds=[*counted.values(), hold]) as proxy:
        try:
            kube.create_env(namespace, NAME, spec(proxy.url))
            wait_for(hold.holding.is_set, DEADLINE, f"a {operation} to reach moto and its response to be held")
            operator.kill()
            assert hold.forwarded == 1 and hold.matched == 1
            hold.release()

            # The window is real: AWS has the resource, the environment's status does not.
            if operation == "CreateQueue":
                assert queues(sqs, p) == [f"{p}-events-dlq"]
            else:
                [made] = keys(kms, namespace)
                assert made["Tags"][TAG_UID] == kube.get_env(namespace, NAME)["metadata"]["uid"]
                assert not [a for a in kms.list_aliases()["Aliases"] if a["AliasName"].startswith(f"alias/{p}")]
            assert status_keys(kube, namespace) == []

            operator.start()
            env = kube.wait_condition(namespace, NAME, "Ready", timeout=120)
            uid = env["metadata"]["uid"]

            # Exactly one of each in AWS, and in status.
            assert queues(sqs, p) == sorted([f"{p}-events", f"{p}-events-dlq", f"{p}-trades", f"{p}-trades-dlq"])
            made_keys = keys(kms, namespace)
            assert len(made_keys) == 1, f"one KMS key, got {[k['KeyId'] for k in made_keys]}"
            assert made_keys[0]["Tags"][TAG_UID] == uid
            aliases = {a["AliasName"]: a.get("TargetKeyId") for a in kms.list_aliases()["Aliases"]
                       if a["AliasName"].startswith("alias/aenv-")}
            assert aliases == {f"alias/{p}": made_keys[0]["KeyId"]}
            recorded = status_keys(kube, namespace)
            assert sorted(recorded) == sorted(["kms/key", *QUEUE_KEYS]), "status.resources lists each once"
            # The restarted operator found what the killed one made instead of asking AWS to make it again.
            assert counted["CreateKey"].matched == 1
            assert counted["CreateQueue"].matched == len(QUEUE_KEYS)
        finally:
            hold.release()
            if not operator.running():
                operator.start()
            kube.delete_all_environments(namespace, timeout=90)  # through the proxy: its endpoint
