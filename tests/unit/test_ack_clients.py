"""Mode ack's pure parts: CR names, manifests built from the plan's desired resources, readiness and terminal
classification from a CR's status, the CR-side drift check; no cluster."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime
from typing import Any

import pytest

from aenv import ack
from aenv.ack import (
    ec2_security_group,
    elasticache_subnet_group,
    iam_role,
    kms_key,
    rds_subnet_group,
    secretsmanager_secret,
    sns_subscription,
    sns_topic,
    sqs_queue,
    sqs_queue_policy,
)
from aenv.ack.resource import (
    AckError,
    environment_of,
    environment_of_object,
    manifest,
    object_name,
    readiness,
    spec_diff,
)
from aenv.api import EnvironmentSpec, effective
from aenv.aws import CLIENTS as BOTO3
from aenv.aws.component import AwsTarget
from aenv.aws.errors import AwsError
from aenv.aws.secretsmanager_secret import generate
from aenv.naming import EnvironmentRef
from aenv.plan.environment import desired_resources, requested
from aenv.plan.types import Desired
from aenv.reconcile import MODES, implemented

ENV = EnvironmentRef("analytics", "defi", "uid-1")
TARGET = AwsTarget("eu-west-1")
SPEC = effective(EnvironmentSpec.model_validate({
    "tier": "dev", "aws": {"region": "eu-west-1", "mode": "ack"},
    "queues": [{"name": "events", "deadLetter": {"maxReceiveCount": 3}},
               {"name": "trades", "fifo": True, "deadLetter": {"enabled": False}}],
    "topics": [{"name": "alerts", "subscribers": ["events"]}],
}))
PLANNED = {d.key: d for d in desired_resources(ENV, SPEC, requested(SPEC))}
OUTPUTS = {
    "kms/key": {"id": "key-1", "arn": "arn:aws:kms:eu-west-1:123456789012:key/key-1"},
    "queue/events/dead-letter": {"url": "https://q/dlq", "arn": "arn:aws:sqs:eu-west-1:123456789012:dlq"},
    "queue/events": {"url": "https://q/events", "arn": "arn:aws:sqs:eu-west-1:123456789012:events"},
    "topic/alerts": {"arn": "arn:aws:sns:eu-west-1:123456789012:alerts"},
}


def resolved(key: str) -> Desired:
    d = PLANNED[key].resolve(OUTPUTS)
    assert d is not None
    return d


def synced(status: dict[str, Any], *extra: dict[str, str]) -> dict[str, Any]:
    conditions = [{"type": "ACK.ResourceSynced", "status": "True"}, *extra]
    return {"metadata": {"name": "x"}, "status": {"conditions": conditions, **status}}


# Names


def test_a_valid_name_stays_and_others_get_a_stable_hash() -> None:
    assert object_name("aenv-analytics-defi-events") == "aenv-analytics-defi-events"
    assert object_name("aenv-analytics-defi-trades.fifo") == "aenv-analytics-defi-trades.fifo"
    under = object_name("aenv-analytics-defi-raw_events")
    assert under.startswith("aenv-analytics-defi-raw-events-")
    assert under == object_name("aenv-analytics-defi-raw_events")
    assert object_name("aenv-analytics-defi-raw-events") != under  # never meets the name it was cleaned into
    long = object_name("a" * 300)
    assert len(long) == 253 and long != object_name("a" * 301)
    sub = object_name("aenv-analytics-defi-alerts -> aenv-analytics-defi-events")
    assert " " not in sub and ">" not in sub and len(sub) <= 253


def test_the_environment_comes_from_the_tags_and_back_from_the_annotations() -> None:
    assert environment_of(ENV.tags("queues")) == ENV
    assert environment_of({}) is None
    obj = manifest(sqs_queue.QUEUE, "q", ENV, "eu-west-1", {})
    assert environment_of_object(obj) == ENV


# Manifests


def test_every_cr_is_labelled_owned_by_the_environment_and_placed_in_its_region() -> None:
    obj = sqs_queue.SqsQueues(TARGET).manifest(resolved("queue/events"))
    meta = obj["metadata"]
    assert (obj["apiVersion"], obj["kind"]) == ("sqs.services.k8s.aws/v1alpha1", "Queue")
    assert meta["namespace"] == "analytics" and meta["name"] == PLANNED["queue/events"].name
    assert meta["labels"] == {"app.kubernetes.io/managed-by": "aenv"}
    assert meta["annotations"] == {"aenv.dev/environment": "analytics/defi", "aenv.dev/uid": "uid-1",
                                   "services.k8s.aws/region": "eu-west-1"}
    assert meta["ownerReferences"] == [{"apiVersion": "aenv.dev/v1alpha1", "kind": "AnalyticsEnvironment",
                                        "name": "defi", "uid": "uid-1", "controller": True}]


def test_queue_spec_has_boto3s_name_attributes_tags_the_key_ref_and_the_redrive() -> None:
    spec = sqs_queue.SqsQueues(TARGET).manifest(resolved("queue/events"))["spec"]
    assert spec["queueName"] == PLANNED["queue/events"].name
    assert spec["tags"] == ENV.tags("queues")
    assert spec["kmsMasterKeyRef"] == {"from": {"name": "aenv-analytics-defi"}}
    assert "kmsMasterKeyID" not in spec
    assert json.loads(spec["redrivePolicy"]) == {"deadLetterTargetArn": OUTPUTS["queue/events/dead-letter"]["arn"],
                                                 "maxReceiveCount": 3}
    assert (spec["visibilityTimeout"], spec["messageRetentionPeriod"]) == ("30", "345600")
    fifo = sqs_queue.SqsQueues(TARGET).manifest(resolved("queue/trades"))["spec"]
    assert fifo["fifoQueue"] == "true" and fifo["queueName"].endswith(".fifo")


def test_key_and_alias_crs_are_named_after_the_alias() -> None:
    keys = kms_key.KmsKeys(TARGET)
    desired = resolved("kms/key")
    key = keys.manifest(desired)
    assert key["metadata"]["name"] == "aenv-analytics-defi" and desired.name == "alias/aenv-analytics-defi"
    assert key["spec"]["enableKeyRotation"] is True and key["spec"]["keySpec"] == "SYMMETRIC_DEFAULT"
    assert {t["tagKey"]: t["tagValue"] for t in key["spec"]["tags"]} == ENV.tags("encryption")
    alias = keys.aliases.manifest(desired)
    assert (alias["kind"], alias["metadata"]["name"]) == ("Alias", "aenv-analytics-defi")
    assert alias["spec"] == {"name": "alias/aenv-analytics-defi",
                             "targetKeyRef": {"from": {"name": "aenv-analytics-defi"}}}


def test_topic_and_subscription_use_ack_references() -> None:
    topic = sns_topic.SnsTopics(TARGET).manifest(resolved("topic/alerts"))["spec"]
    assert topic["name"] == PLANNED["topic/alerts"].name
    assert topic["kmsMasterKeyRef"] == {"from": {"name": "aenv-analytics-defi"}}
    assert {t["key"]: t["value"] for t in topic["tags"]} == ENV.tags("topics")
    subscription = resolved("topic/alerts/subscription/events")
    spec = sns_subscription.SnsSubscriptions(TARGET).spec(subscription, ENV)
    assert spec == {"protocol": "sqs", "endpoint": OUTPUTS["queue/events"]["arn"],
                    "topicRef": {"from": {"name": PLANNED["topic/alerts"].name}}, "rawMessageDelivery": "true"}


def test_the_queue_policy_writes_only_the_policy_of_the_queues_cr() -> None:
    desired = resolved("queue/events/policy")
    patch = sqs_queue_policy.policy_patch("analytics", object_name(desired.name),
                                          sqs_queue_policy.policy_document(desired))
    assert patch["kind"] == "Queue" and set(patch["spec"]) == {"policy"}
    statement = json.loads(patch["spec"]["policy"])["Statement"][0]
    assert statement["Resource"] == OUTPUTS["queue/events"]["arn"]
    assert statement["Condition"]["ArnEquals"]["aws:SourceArn"] == [OUTPUTS["topic/alerts"]["arn"]]


# Readiness


def test_synced_alone_is_not_ready_the_kinds_own_status_must_be_usable() -> None:
    unusable = readiness(synced({}), "sqs-controller", "synced, but without a queue URL yet")
    assert not unusable.ready and unusable.state == "synced, but without a queue URL yet"
    assert readiness(synced({}), "sqs-controller", None).ready


def test_terminal_recoverable_unsynced_and_deleting() -> None:
    terminal = readiness(synced({}, {"type": "ACK.Terminal", "status": "True", "message": "InvalidAttributeValue"}),
                         "sqs-controller", None)
    assert not terminal.ready and terminal.terminal == "InvalidAttributeValue"
    recoverable = readiness(synced({}, {"type": "ACK.Recoverable", "status": "True", "message": "throttled"}),
                            "sqs-controller", None)
    assert not recoverable.ready and recoverable.terminal is None and "throttled" in recoverable.state
    fresh = readiness({"metadata": {}, "status": {}}, "sqs-controller", None)
    assert not fresh.ready and "sqs-controller" in fresh.state
    refs = readiness({"status": {"conditions": [{"type": "ACK.ReferencesResolved", "status": "False",
                                                 "message": "Key not synced"}]}}, "sqs-controller", None)
    assert not refs.ready and "Key not synced" in refs.state
    deleting = readiness({"metadata": {"deletionTimestamp": "2026-01-01T00:00:00Z"}, "status": {}}, "x", None)
    assert deleting.state == "deleting"


def test_kind_verdicts_on_their_status() -> None:
    queues, keys = sqs_queue.SqsQueues(TARGET), kms_key.KmsKeys(TARGET)
    arn = {"ackResourceMetadata": {"arn": "arn:x"}}
    assert queues.unusable(synced(arn)) is not None
    assert queues.unusable(synced({**arn, "queueURL": "https://q"})) is None
    assert queues.outputs(synced({**arn, "queueURL": "https://q"})) == {"url": "https://q", "arn": "arn:x"}
    assert keys.unusable(synced({**arn, "keyID": "k", "keyState": "Creating"})) == "synced, key state Creating"
    assert keys.unusable(synced({**arn, "keyID": "k", "keyState": "Enabled"})) is None
    assert keys.outputs(synced({**arn, "keyID": "k"})) == {"id": "k", "arn": "arn:x"}
    subscriptions = sns_subscription.SnsSubscriptions(TARGET)
    assert subscriptions.unusable(synced({**arn, "pendingConfirmation": "true"})) == "pending confirmation"


def test_a_terminal_cr_that_holds_the_desired_spec_is_an_aws_error_with_acks_message() -> None:
    queues = sqs_queue.SqsQueues(TARGET)
    desired = resolved("queue/events")
    obj = queues.manifest(desired)
    obj["status"] = {"conditions": [{"type": "ACK.Terminal", "status": "True", "message": "bad attribute"}]}
    with pytest.raises(AckError) as raised:
        queues.observation(desired, obj)
    assert raised.value.code == "ACK.Terminal" and "bad attribute" in str(raised.value)
    assert "change the spec" in str(raised.value)
    obj["spec"]["visibilityTimeout"] = "99"  # a spec change not applied yet: update, not an error
    assert not queues.observation(desired, obj).up_to_date


def test_observation_reports_owner_outputs_and_cr_drift() -> None:
    queues = sqs_queue.SqsQueues(TARGET)
    desired = resolved("queue/events")
    obj = queues.manifest(desired)
    obj["spec"]["tags"] = {**obj["spec"]["tags"], "services.k8s.aws/namespace": "analytics"}  # ACK's own tags
    obj["spec"]["delaySeconds"] = "0"  # late-initialized by ACK
    obj["status"] = synced({"queueURL": "https://q", "ackResourceMetadata": {"arn": "arn:q"}})["status"]
    seen = queues.observation(desired, obj)
    assert seen.ready and seen.up_to_date and seen.outputs == {"url": "https://q", "arn": "arn:q"}
    assert (seen.owner, seen.owner_environment) == ("uid-1", "analytics/defi")
    obj["spec"]["visibilityTimeout"] = "5"
    assert queues.observation(desired, obj).diff == {"visibilityTimeout": ("5", "30")}
    foreign = {"metadata": {"name": "x"}, "spec": {}}
    assert queues.observation(desired, foreign).owner_environment is None


def test_json_documents_compare_as_aws_reads_them() -> None:
    want = {"redrivePolicy": '{"deadLetterTargetArn":"arn:d","maxReceiveCount":3}'}
    assert spec_diff({"redrivePolicy": '{"maxReceiveCount": "3", "deadLetterTargetArn": "arn:d"}'}, want) == {}
    assert spec_diff({"redrivePolicy": '{"maxReceiveCount": 4, "deadLetterTargetArn": "arn:d"}'}, want)


# The registry


def test_the_ack_registry_builds_every_kind_mode_boto3_builds() -> None:
    """But the backups' bucket: no ACK s3-controller is among the controllers aenv runs, so backups need mode
    boto3 (BackupsReady Unknown NotImplemented in mode ack)."""
    assert MODES["ack"] is ack.CLIENTS
    assert set(ack.CLIENTS.factories) == set(BOTO3.factories) - {"s3.bucket"}
    full = effective(EnvironmentSpec.model_validate({
        "tier": "dev", "aws": {"region": "eu-west-1", "mode": "ack"}, "queues": [{"name": "events"}],
        "topics": [{"name": "alerts", "subscribers": ["events"]}], "cache": {}, "database": {},
        "gateway": {"workload": "api"}, "monitoring": {}, "secrets": {"apiKeys": ["partner"]},
        "workloads": [{"name": "api", "image": "example/api:1", "port": 8080}],
    }))
    desired = desired_resources(ENV, full, requested(full))
    assert {c for c in requested(full) if implemented(c, desired, ack.CLIENTS)} == set(requested(full)) - {"backups"}


# The network


NETWORK_SPEC = effective(EnvironmentSpec.model_validate({
    "tier": "dev",
    "aws": {"region": "eu-west-1", "mode": "ack", "vpcId": "vpc-0000000a",
            "subnetIds": ["subnet-0000000b", "subnet-0000000a"]},
    "cache": {}, "database": {},
}))
NETWORK = {d.key: d for d in desired_resources(ENV, NETWORK_SPEC, requested(NETWORK_SPEC)) if d.component == "network"}


def network(key: str) -> Desired:
    d = NETWORK[key].resolve({"network/sg/workloads": {"id": "sg-w", "arn": "arn:sg-w"}})
    assert d is not None
    return d


def test_security_groups_admit_the_workloads_group_by_reference_and_keep_egress_only_for_the_workloads() -> None:
    groups = ec2_security_group.SecurityGroups(TARGET)
    workloads = groups.manifest(network("network/sg/workloads"))["spec"]
    assert workloads["ingressRules"] == [] and workloads["vpcID"] == "vpc-0000000a"
    assert workloads["egressRules"] == [{"ipProtocol": "-1", "ipRanges": [{"cidrIP": "0.0.0.0/0"}]}]
    database = groups.manifest(network("network/sg/database"))["spec"]
    assert "egressRules" not in database  # ACK revokes AWS's default egress rule when it creates the group
    assert database["ingressRules"] == [{"ipProtocol": "tcp", "fromPort": 5432, "toPort": 5432, "userIDGroupPairs": [
        {"groupRef": {"from": {"name": ec2_security_group.workloads_group(ENV)}}}]}]
    assert ec2_security_group.workloads_group(ENV) == groups.name_of(network("network/sg/workloads"))
    assert {t["key"]: t["value"] for t in database["tags"]} == ENV.tags("network")
    arn = {"ackResourceMetadata": {"arn": "arn:sg"}}
    assert groups.unusable(synced(arn)) is not None and groups.unusable(synced({**arn, "id": "sg-1"})) is None
    assert groups.outputs(synced({**arn, "id": "sg-1"})) == {"id": "sg-1", "arn": "arn:sg"}


def test_subnet_groups_name_the_spec_subnets_and_rds_waits_for_complete() -> None:
    cache = elasticache_subnet_group.CacheSubnetGroups(TARGET).manifest(network("network/subnets/cache"))
    assert (cache["kind"], cache["spec"]["subnetIDs"]) == ("CacheSubnetGroup", ["subnet-0000000a", "subnet-0000000b"])
    assert cache["spec"]["cacheSubnetGroupName"] == NETWORK["network/subnets/cache"].name
    rds = rds_subnet_group.DbSubnetGroups(TARGET)
    db = rds.manifest(network("network/subnets/database"))
    assert (db["kind"], db["spec"]["name"], db["spec"]["subnetIDs"]) == (
        "DBSubnetGroup", NETWORK["network/subnets/database"].name, ["subnet-0000000a", "subnet-0000000b"])
    arn = {"ackResourceMetadata": {"arn": "arn:g"}}
    assert rds.unusable(synced({**arn, "subnetGroupStatus": "Creating"})) == "synced, subnet group Creating"
    assert rds.unusable(synced({**arn, "subnetGroupStatus": "Complete"})) is None
    assert rds.outputs(db) == {"name": NETWORK["network/subnets/database"].name}


def test_without_vpc_and_subnets_the_network_says_what_to_set() -> None:
    spec = effective(EnvironmentSpec.model_validate({"tier": "dev", "aws": {"region": "eu-west-1", "mode": "ack"},
                                                     "database": {}}))
    [group] = [d for d in desired_resources(ENV, spec, requested(spec)) if d.key == "network/subnets/database"]
    with pytest.raises(AckError) as raised:
        rds_subnet_group.DbSubnetGroups(TARGET).manifest(group)
    assert raised.value.code == "PlacementRequired" and "spec.aws.subnetIds" in str(raised.value)


# Secrets and the workloads' role


APP_SPEC = effective(EnvironmentSpec.model_validate({
    "tier": "dev", "aws": {"region": "eu-west-1", "mode": "ack"}, "queues": [{"name": "events"}],
    "secrets": {"apiKeys": ["partner"]}, "database": {},
    "workloads": [{"name": "api", "image": "example/api:1", "uses": ["events", "secrets"]}],
}))
APP = {d.key: d for d in desired_resources(ENV, APP_SPEC, requested(APP_SPEC))}
APP_OUTPUTS = {**OUTPUTS, "secret/api-key/partner": {"arn": "arn:aws:secretsmanager:eu-west-1:123456789012:secret:k"},
               "secret/jwt": {"arn": "arn:aws:secretsmanager:eu-west-1:123456789012:secret:j"}}


def app(key: str) -> Desired:
    d = APP[key].resolve(APP_OUTPUTS)
    assert d is not None
    return d


def test_a_secret_points_at_the_kubernetes_secret_of_its_current_value() -> None:
    client = secretsmanager_secret.SecretsManagerSecrets(TARGET)
    desired = app("secret/api-key/partner")
    spec = client.manifest(desired)["spec"]
    assert spec["name"] == desired.name and spec["kmsKeyRef"] == {"from": {"name": "aenv-analytics-defi"}}
    assert spec["secretString"] == {"name": f"{desired.name}-v1", "key": "value", "namespace": "analytics"}
    assert {t["key"]: t["value"] for t in spec["tags"]} == ENV.tags("secrets")
    cr = {**client.manifest(desired), "spec": {**spec, "secretString": {**spec["secretString"],
                                                                         "name": f"{desired.name}-v3"}}}
    assert secretsmanager_secret.pointed_version(cr) == 3
    rotated = client.wanted(desired, cr)
    assert rotated["secretString"]["name"] == f"{desired.name}-v3"  # no drift: it rotated
    # ACK sends a new value only along with a difference it can see in AWS: the description names the version.
    assert spec["description"] == desired.params["description"]
    assert rotated["description"] == f"{desired.params['description']}; value v3"
    assert secretsmanager_secret.pointed_version(None) == 0


def test_the_value_secret_is_owned_labelled_and_holds_a_generated_value() -> None:
    desired = app("secret/database")
    now = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    body = secretsmanager_secret.value_secret(desired, ENV, 2, generate(desired), now)
    meta = body["metadata"]
    assert meta["name"] == secretsmanager_secret.value_secret_name(desired, 2) == f"{desired.name}-v2"
    assert meta["labels"] == {"app.kubernetes.io/managed-by": "aenv"}
    assert meta["ownerReferences"][0]["uid"] == "uid-1"
    assert meta["annotations"] == {"aenv.dev/secret-version": "2", "aenv.dev/rotated-at": "2026-01-02T03:04:05Z"}
    login = json.loads(base64.b64decode(body["data"]["value"]))
    assert login["username"] == "aenv" and len(login["password"]) == 40
    assert "password" not in repr(secretsmanager_secret._value(body))


def test_the_role_trusts_the_workloads_service_account_and_grants_only_what_they_use() -> None:
    roles = iam_role.IamRoles(TARGET, oidc_issuer="https://oidc.example/id/1", account_id="")
    desired = app("iam/role")
    spec = roles.manifest(desired)["spec"]
    assert (spec["name"], spec["path"]) == (desired.name, "/aenv/")
    [trust] = json.loads(spec["assumeRolePolicyDocument"])["Statement"]
    assert trust["Principal"] == {"Federated": "arn:aws:iam::123456789012:oidc-provider/oidc.example/id/1"}
    assert trust["Condition"]["StringEquals"]["oidc.example/id/1:sub"] == (
        "system:serviceaccount:analytics:aenv-defi-workloads")
    statements = {s["Sid"]: s for s in json.loads(spec["inlinePolicies"]["aenv-workloads"])["Statement"]}
    assert statements["Queue"]["Resource"] == sorted([OUTPUTS["queue/events"]["arn"],
                                                      OUTPUTS["queue/events/dead-letter"]["arn"]])
    assert statements["Secret"]["Resource"] == sorted(APP_OUTPUTS[k]["arn"]
                                                      for k in ("secret/api-key/partner", "secret/jwt"))
    assert "secret/database" not in desired.params  # the workload does not use the database
    assert {t["key"]: t["value"] for t in spec["tags"]} == ENV.tags("iam")


def test_the_role_needs_the_issuer_and_an_account() -> None:
    desired = app("iam/role")
    with pytest.raises(AwsError) as raised:
        iam_role.IamRoles(TARGET, oidc_issuer="", account_id="").manifest(desired)
    assert raised.value.code == "OidcIssuerMissing"
    assert iam_role.account({}, "cn-north-1", "210987654321") == ("aws-cn", "210987654321")
    with pytest.raises(AwsError) as unknown:
        iam_role.account({"subject": "system:serviceaccount:a:b"}, "eu-west-1", "")
    assert unknown.value.code == "AwsAccountUnknown" and "AENV_AWS_ACCOUNT_ID" in str(unknown.value)
