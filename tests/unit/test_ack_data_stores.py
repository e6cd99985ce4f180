"""Mode ack's cache and database, and what a Retain records for adoption: the CR specs built from the plan's desired
resources, readiness from a CR's status, the deletion annotations, the released tag and ACK's adoption annotations;
no cluster."""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

import pytest

from aenv.ack import ec2_security_group, kms_key, secretsmanager_secret, sns_topic, sqs_queue
from aenv.ack.elasticache_replication_group import ReplicationGroups
from aenv.ack.rds_db_instance import FINAL_SNAPSHOT, SKIP_FINAL_SNAPSHOT, DbInstances
from aenv.ack.resource import (
    ADOPTION_FIELDS,
    ADOPTION_POLICY,
    DELETION_POLICY,
    Retained,
    manifest,
    synced_since,
    tag_map,
    with_tag,
)
from aenv.api import EnvironmentSpec, effective
from aenv.aws.component import AwsTarget
from aenv.aws.errors import AwsError
from aenv.aws.stores import final_snapshot_name
from aenv.naming import TAG_RELEASED, EnvironmentRef
from aenv.plan.environment import desired_resources, requested
from aenv.plan.types import Desired

ENV = EnvironmentRef("analytics", "defi", "uid-1")
TARGET = AwsTarget("eu-west-1")
SPEC = effective(EnvironmentSpec.model_validate({
    "tier": "prod", "aws": {"region": "eu-west-1", "mode": "ack", "vpcId": "vpc-0000000a",
                            "subnetIds": ["subnet-0000000a", "subnet-0000000b"]},
    "cache": {"engine": "valkey", "nodeType": "cache.r7g.large", "replicas": 2},
    "database": {"engineVersion": "16", "instanceClass": "db.r6g.large", "storageGiB": 100},
}))
PLANNED = {d.key: d for d in desired_resources(ENV, SPEC, requested(SPEC))}
OUTPUTS: dict[str, dict[str, Any]] = {
    "kms/key": {"id": "key-1", "arn": "arn:aws:kms:eu-west-1:123456789012:key/key-1"},
    "network/sg/cache": {"id": "sg-cache"}, "network/sg/database": {"id": "sg-db"},
    "network/subnets/cache": {"name": PLANNED["network/subnets/cache"].name},
    "network/subnets/database": {"name": PLANNED["network/subnets/database"].name},
    "secret/cache-auth": {"value": "t" * 64, "version": "aenv-analytics-defi-cache-auth-v2", "arn": "arn:s1"},
    "secret/database": {"username": "aenv", "password": "p" * 40, "version": "aenv-analytics-defi-database-v1",
                        "arn": "arn:s2"},
}


def resolved(key: str) -> Desired:
    d = PLANNED[key].resolve(OUTPUTS)
    assert d is not None
    return d


def cr(client: Any, key: str, status: dict[str, Any], synced_at: str = "2026-12-01T10:00:00Z") -> dict[str, Any]:
    body = client.manifest(resolved(key))
    body["status"] = {"conditions": [{"type": "ACK.ResourceSynced", "status": "True",
                                      "lastTransitionTime": synced_at}], **status}
    return dict(body)


# The cache

def test_the_replication_group_refers_to_its_network_key_and_token_by_reference() -> None:
    spec = ReplicationGroups(TARGET).manifest(resolved("cache/replication-group"))["spec"]
    name = PLANNED["cache/replication-group"].name
    assert spec["replicationGroupID"] == name
    assert (spec["engine"], spec["cacheNodeType"], spec["numNodeGroups"], spec["replicasPerNodeGroup"]) == (
        "valkey", "cache.r7g.large", 1, 2)
    assert spec["automaticFailoverEnabled"] is spec["multiAZEnabled"] is True
    assert spec["transitEncryptionEnabled"] is spec["atRestEncryptionEnabled"] is True
    assert spec["securityGroupRefs"] == [{"from": {"name": PLANNED["network/sg/cache"].name}}]
    assert spec["cacheSubnetGroupRef"] == {"from": {"name": PLANNED["network/subnets/cache"].name}}
    assert spec["kmsKeyRef"] == {"from": {"name": "aenv-analytics-defi"}}
    # The token is the Kubernetes Secret of the current version, never the value itself.
    assert spec["authToken"] == {"name": "aenv-analytics-defi-cache-auth-v2", "key": "value",
                                 "namespace": "analytics"}
    assert "t" * 64 not in json.dumps(spec)


def test_the_description_names_the_token_version_from_the_second_on() -> None:
    """ACK never sees authToken differ (AWS does not describe the token): the description, which it does
    compare, is what makes it send a rotated token."""
    d = resolved("cache/replication-group")
    groups = ReplicationGroups(TARGET)

    def described(version: str) -> str:
        return str(groups.manifest(replace(d, params={**d.params, "auth_token_version": version}))["spec"]
                   ["description"])

    assert described("aenv-analytics-defi-cache-auth-v1") == "aenv cache of analytics/defi"  # mode boto3's
    assert described("aenv-analytics-defi-cache-auth-v2") == "aenv cache of analytics/defi; AUTH token v2"
    assert described("aenv-analytics-defi-cache-auth-v12") == "aenv cache of analytics/defi; AUTH token v12"


def test_multi_az_without_replicas_is_refused_before_anything_is_written() -> None:
    d = resolved("cache/replication-group")
    lonely = Desired(kind=d.kind, key=d.key, component=d.component, name=d.name,
                     params={**d.params, "replicas": 0}, tags=d.tags)
    with pytest.raises(AwsError, match=r"spec\.cache\.replicas"):
        ReplicationGroups(TARGET).manifest(lonely)


@pytest.mark.parametrize(("status", "ready", "state"), [
    ({"status": "creating"}, False, "synced, group creating"),
    ({"status": "create-failed"}, False, "synced, group create-failed"),  # ACK says synced: not usable
    ({"status": "available"}, False, "synced, but without a primary endpoint yet"),
    ({"status": "available", "ackResourceMetadata": {"arn": "arn:rg"},
      "nodeGroups": [{"primaryEndpoint": {"address": "p.cache", "port": 6379}}]}, True, "available"),
])
def test_a_replication_group_is_ready_when_available_with_an_endpoint(status: dict[str, Any], ready: bool,
                                                                      state: str) -> None:
    groups = ReplicationGroups(TARGET)
    seen = groups.observation(resolved("cache/replication-group"), cr(groups, "cache/replication-group", status))
    assert (seen.ready, seen.state) == (ready, state)
    if ready:
        assert seen.outputs == {"id": PLANNED["cache/replication-group"].name, "arn": "arn:rg",
                                "endpoint": "p.cache", "port": 6379, "reader_endpoint": "p.cache"}


# The database

def test_the_db_instance_takes_the_password_key_of_the_login_secret() -> None:
    spec = DbInstances(TARGET).manifest(resolved("database/instance"))["spec"]
    assert (spec["dbInstanceClass"], spec["engine"], spec["engineVersion"], spec["allocatedStorage"]) == (
        "db.r6g.large", "postgres", "16", 100)
    assert (spec["storageType"], spec["publiclyAccessible"], spec["storageEncrypted"]) == ("gp3", False, True)
    assert spec["deletionProtection"] is True and spec["multiAZ"] is True
    assert spec["masterUsername"] == "aenv"
    assert spec["masterUserPassword"] == {"name": "aenv-analytics-defi-database-v1", "key": "password",
                                          "namespace": "analytics"}
    assert spec["vpcSecurityGroupRefs"] == [{"from": {"name": PLANNED["network/sg/database"].name}}]
    assert spec["dbSubnetGroupRef"] == {"from": {"name": PLANNED["network/subnets/database"].name}}
    assert "p" * 40 not in json.dumps(spec)


def test_a_login_value_secret_also_holds_the_password_alone() -> None:
    login = PLANNED["secret/database"].resolve({"kms/key": OUTPUTS["kms/key"]})
    assert login is not None
    value = json.dumps({"username": "aenv", "password": "x" * 40})
    body = secretsmanager_secret.value_secret(login, ENV, 1, value, secretsmanager_secret._utcnow())
    assert set(body["data"]) == {"value", "password"}
    token = PLANNED["secret/cache-auth"].resolve({"kms/key": OUTPUTS["kms/key"]})
    assert token is not None
    assert set(secretsmanager_secret.value_secret(token, ENV, 1, "t" * 64, secretsmanager_secret._utcnow())[
        "data"]) == {"value"}


@pytest.mark.parametrize(("policy", "annotations"), [
    ("Delete", {DELETION_POLICY: "delete", SKIP_FINAL_SNAPSHOT: "true"}),
    ("Snapshot", {DELETION_POLICY: "delete", SKIP_FINAL_SNAPSHOT: "false",
                  FINAL_SNAPSHOT: final_snapshot_name(PLANNED["database/instance"].name, "uid-1")}),
    ("Retain", {DELETION_POLICY: "retain"}),
])
def test_the_database_is_deleted_with_a_final_snapshot_only_under_snapshot(policy: str,
                                                                           annotations: dict[str, str]) -> None:
    instances = DbInstances(TARGET)
    obj = cr(instances, "database/instance", {})
    assert instances.delete_annotations(obj, policy) == annotations  # type: ignore[arg-type]


def test_deletion_waits_for_ack_to_sync_deletion_protection_off() -> None:
    instances = DbInstances(TARGET)
    obj = cr(instances, "database/instance", {}, synced_at="2026-12-01T10:00:00Z")
    obj["spec"]["deletionProtection"] = False
    obj["metadata"]["annotations"]["aenv.dev/unprotected-at"] = "2026-12-01T10:00:05Z"
    assert not instances.before_delete(obj, "Delete")  # synced before aenv turned it off: not yet in AWS
    obj["status"]["conditions"][0]["lastTransitionTime"] = "2026-12-01T10:00:06Z"
    assert instances.before_delete(obj, "Delete")


def test_synced_since_reads_the_synced_condition() -> None:
    obj = {"status": {"conditions": [{"type": "ACK.ResourceSynced", "status": "False",
                                      "lastTransitionTime": "2026-12-01T10:00:09Z"}]}}
    assert not synced_since(obj, "2026-12-01T10:00:00Z")
    obj["status"]["conditions"][0]["status"] = "True"
    assert synced_since(obj, "2026-12-01T10:00:09Z") and not synced_since(obj, "2026-12-01T10:00:10Z")


# Retain: released, recorded, adopted

@pytest.mark.parametrize("tags", [
    {"aenv.dev/uid": "u"},
    [{"key": "aenv.dev/uid", "value": "u"}],
    [{"tagKey": "aenv.dev/uid", "tagValue": "u"}],
])
def test_the_released_tag_is_added_in_the_form_the_kind_uses(tags: Any) -> None:
    released = with_tag(tags, TAG_RELEASED, "true")
    assert tag_map(released) == {"aenv.dev/uid": "u", TAG_RELEASED: "true"}
    assert type(released) is type(tags)
    assert with_tag(released, TAG_RELEASED, "true") == released  # once


def test_a_retained_cr_records_what_ack_adopts_it_by() -> None:
    def fields(client: Any, status: dict[str, Any]) -> dict[str, str]:
        return client.record({"spec": {"name": "n"}, "status": status})["fields"]  # type: ignore[no-any-return]

    assert fields(kms_key.KmsKeys(TARGET), {"keyID": "k-1"}) == {"keyID": "k-1"}
    assert fields(sqs_queue.SqsQueues(TARGET), {"queueURL": "https://q"}) == {"queueURL": "https://q"}
    assert fields(sns_topic.SnsTopics(TARGET), {"ackResourceMetadata": {"arn": "arn:t"}}) == {"arn": "arn:t"}
    assert fields(ec2_security_group.SecurityGroups(TARGET), {"id": "sg-1"}) == {"id": "sg-1"}
    assert fields(DbInstances(TARGET), {}) == {}  # adopted by its spec's name
    secret = secretsmanager_secret.SecretsManagerSecrets(TARGET).record(
        {"spec": {"name": "s", "secretString": {"name": "s-v3"}}, "status": {"id": "arn:s"}})
    assert secret["fields"] == {"name": "s", "id": "arn:s"} and secret["version"] == 3  # and the value it holds


def test_a_retained_cr_records_the_spec_ack_filled_in_but_not_tags_or_references() -> None:
    key = {"spec": {"description": "d", "origin": "AWS_KMS", "policy": "{}", "tags": [{"tagKey": "k"}],
                    "kmsKeyRef": {"from": {"name": "k"}}}, "status": {"keyID": "k-1"}}
    assert kms_key.KmsKeys(TARGET).record(key)["spec"] == {"description": "d", "origin": "AWS_KMS", "policy": "{}"}


def test_only_a_recorded_cr_is_written_with_adoption_annotations() -> None:
    queues = sqs_queue.SqsQueues(TARGET)
    body = manifest(sqs_queue.QUEUE, "q", ENV, "eu-west-1", {"queueName": "q"})
    assert ADOPTION_POLICY not in body["metadata"]["annotations"]
    adopted = queues.adopting(body, record={"fields": {"queueURL": "https://q"}})["metadata"]["annotations"]
    assert adopted[ADOPTION_POLICY] == "adopt-or-create"
    assert json.loads(adopted[ADOPTION_FIELDS]) == {"queueURL": "https://q"}
    by_spec = DbInstances(TARGET).adopting(manifest(sqs_queue.QUEUE, "d", ENV, "eu-west-1", {}),
                                           record={"fields": {}})["metadata"]["annotations"]
    assert by_spec[ADOPTION_POLICY] == "adopt-or-create" and ADOPTION_FIELDS not in by_spec


def test_the_record_is_one_configmap_per_environment_name_with_an_entry_per_cr() -> None:
    record = Retained("analytics", "defi")
    assert record.name == "aenv-retained-defi"
    assert record.entry(sqs_queue.QUEUE, "aenv-analytics-defi-events") == "sqs.queue.aenv-analytics-defi-events"
    assert len(record.entry(sqs_queue.QUEUE, "x" * 253)) <= 253
