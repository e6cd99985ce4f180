"""Mode ack end to end: an environment with queues (one with a dead-letter queue, one FIFO), a topic subscribed to
a queue and the environment's KMS key becomes Ready through the real ACK controllers, with an operator that has no
AWS credentials and no endpoint; everything is checked in the emulator (not in the status), then deleted or
retained per deletionPolicy."""

from __future__ import annotations

import base64
import json
import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import yaml

from aenv import ack
from aenv.ack import secretsmanager_secret
from aenv.ack.iam_role import IamRoles
from aenv.ack.secretsmanager_secret import SecretsManagerSecrets
from aenv.api import EnvironmentSpec, effective
from aenv.aws.component import AwsTarget
from aenv.local import ack as local_ack
from aenv.local.ack import AckControllers
from aenv.local.emulator import AwsEmulator
from aenv.local.processes import wait_for
from aenv.naming import TAG_COMPONENT, TAG_ENVIRONMENT, TAG_RELEASED, TAG_UID, EnvironmentRef
from aenv.plan import encryption
from aenv.plan.environment import desired_resources, requested
from aenv.plan.types import Desired, Observation

from .conftest import Operator
from .kube import Kube

pytestmark = pytest.mark.integration
DEADLINE = 180.0  # the ACK controllers resolve references and sync in turn: a few of their reconcile loops
NAME = "flow"


def env_spec(policy: str) -> dict[str, Any]:
    return {
        "tier": "dev",
        "aws": {"region": "us-east-1", "mode": "ack"},
        "queues": [{"name": "events", "deadLetter": {"maxReceiveCount": 3}},
                   {"name": "trades", "fifo": True, "deadLetter": {"enabled": False}}],
        "topics": [{"name": "alerts", "subscribers": ["events"]}],
        "deletionPolicy": policy,
    }


def planned(namespace: str, uid: str, spec: dict[str, Any]) -> dict[str, Desired]:
    env = EnvironmentRef(namespace, NAME, uid)
    parsed = effective(EnvironmentSpec.model_validate(spec))
    return {d.key: d for d in desired_resources(env, parsed, requested(parsed))}


def queue_urls(emulator: AwsEmulator) -> dict[str, str]:
    urls = emulator.client("sqs").list_queues(QueueNamePrefix="aenv-").get("QueueUrls", [])
    return {u.rsplit("/", 1)[-1]: u for u in urls}


def topic_arns(emulator: AwsEmulator) -> dict[str, str]:
    topics = emulator.client("sns").list_topics().get("Topics", [])
    return {t["TopicArn"].rsplit(":", 1)[-1]: t["TopicArn"] for t in topics}


def alias_target(emulator: AwsEmulator, alias: str) -> str | None:
    aliases = emulator.client("kms").list_aliases().get("Aliases", [])
    return next((a.get("TargetKeyId") for a in aliases if a["AliasName"] == alias), None)


def owned_by(tags: dict[str, str], namespace: str, uid: str, component: str) -> bool:
    return (tags.get(TAG_ENVIRONMENT), tags.get(TAG_UID), tags.get(TAG_COMPONENT)) == (
        f"{namespace}/{NAME}", uid, component)


def ready(kube: Kube, namespace: str, policy: str) -> tuple[dict[str, Any], float]:
    start = time.monotonic()
    kube.create_env(namespace, NAME, env_spec(policy))
    env = kube.wait_condition(namespace, NAME, "Ready", timeout=DEADLINE)
    return env, time.monotonic() - start


def test_queues_topics_and_key_through_ack_then_deleted(kube: Kube, emulator: AwsEmulator, ack_operator: Operator,
                                                        ack_namespace: str) -> None:
    env, took = ready(kube, ack_namespace, "Delete")
    print(f"mode ack: Ready in {took:.1f} s")
    uid = env["metadata"]["uid"]
    want = planned(ack_namespace, uid, env_spec("Delete"))
    for component in ("EncryptionReady", "QueuesReady", "TopicsReady"):
        assert kube.condition(env, component)["status"] == "True", env["status"]  # type: ignore[index]
    assert "AWS_ACCESS_KEY_ID" not in ack_operator.env and "AWS_ENDPOINT_URL" not in ack_operator.env

    # The key, with rotation on and aenv's alias and tags.
    kms = emulator.client("kms")
    alias = encryption.alias(EnvironmentRef(ack_namespace, NAME, uid))
    key_id = alias_target(emulator, alias)
    assert key_id is not None, f"no alias {alias}"
    assert kms.describe_key(KeyId=key_id)["KeyMetadata"]["KeyState"] == "Enabled"
    assert kms.get_key_rotation_status(KeyId=key_id)["KeyRotationEnabled"] is True
    key_tags = {t["TagKey"]: t["TagValue"] for t in kms.list_resource_tags(KeyId=key_id)["Tags"]}
    assert owned_by(key_tags, ack_namespace, uid, "encryption"), key_tags

    # The queues: names, tags, the DLQ's redrive, FIFO, encryption with the environment's key.
    sqs = emulator.client("sqs")
    urls = queue_urls(emulator)
    names = {key: want[key].name for key in ("queue/events", "queue/events/dead-letter", "queue/trades")}
    assert set(names.values()) <= set(urls), (names, urls)
    attrs = {key: sqs.get_queue_attributes(QueueUrl=urls[n], AttributeNames=["All"])["Attributes"]
             for key, n in names.items()}
    redrive = json.loads(attrs["queue/events"]["RedrivePolicy"])
    assert redrive["deadLetterTargetArn"] == attrs["queue/events/dead-letter"]["QueueArn"]
    assert int(redrive["maxReceiveCount"]) == 3
    assert attrs["queue/trades"].get("FifoQueue") == "true" and names["queue/trades"].endswith(".fifo")
    assert "RedrivePolicy" not in attrs["queue/trades"]
    for key, n in names.items():
        assert attrs[key].get("KmsMasterKeyId") == key_id, (key, attrs[key])
        assert owned_by(sqs.list_queue_tags(QueueUrl=urls[n]).get("Tags", {}), ack_namespace, uid, "queues")

    # The topic, subscribed to the events queue, which lets exactly that topic send.
    sns = emulator.client("sns")
    topic_arn = topic_arns(emulator)[want["topic/alerts"].name]
    topic_tags = {t["Key"]: t["Value"] for t in sns.list_tags_for_resource(ResourceArn=topic_arn)["Tags"]}
    assert owned_by(topic_tags, ack_namespace, uid, "topics"), topic_tags
    assert sns.get_topic_attributes(TopicArn=topic_arn)["Attributes"].get("KmsMasterKeyId") == key_id
    subscriptions = sns.list_subscriptions_by_topic(TopicArn=topic_arn)["Subscriptions"]
    assert [(s["Protocol"], s["Endpoint"]) for s in subscriptions] == [("sqs", attrs["queue/events"]["QueueArn"])]
    policy = json.loads(attrs["queue/events"]["Policy"])
    assert policy["Statement"][0]["Condition"]["ArnEquals"]["aws:SourceArn"] in (topic_arn, [topic_arn])

    # The status and the connection Secret carry what ACK's status says.
    queues = {q["name"]: q for q in env["status"]["queues"]}
    assert queues["events"]["arn"] == attrs["queue/events"]["QueueArn"]
    assert queues["events"]["deadLetterArn"] == attrs["queue/events/dead-letter"]["QueueArn"]

    kube.delete_env(ack_namespace, NAME)
    wait_for(lambda: kube.env_gone(ack_namespace, NAME), DEADLINE, f"{ack_namespace}/{NAME} to be deleted")
    left = set(queue_urls(emulator))
    assert not set(names.values()) & left, left
    assert want["topic/alerts"].name not in topic_arns(emulator)
    assert kms.describe_key(KeyId=key_id)["KeyMetadata"]["KeyState"] == "PendingDeletion"
    assert alias_target(emulator, alias) is None


def retained_spec() -> dict[str, Any]:
    return {**env_spec("Retain"), "secrets": {"apiKeys": ["partner"]}}


def aws_state(emulator: AwsEmulator, want: dict[str, Desired]) -> dict[str, Any]:
    """What the environment has in AWS, by identity: queue URLs, topic ARN, the alias's key, secret ARNs, and how
    many keys and secrets exist (a duplicate shows as one more)."""
    sm, kms = emulator.client("secretsmanager"), emulator.client("kms")
    secrets = {s["Name"]: s["ARN"] for s in sm.list_secrets()["SecretList"]}
    return {
        "queues": {k: queue_urls(emulator).get(want[k].name) for k in ("queue/events", "queue/events/dead-letter",
                                                                       "queue/trades")},
        "topic": topic_arns(emulator).get(want["topic/alerts"].name),
        "key": alias_target(emulator, want["kms/key"].name),
        "secret": secrets.get(want["secret/api-key/partner"].name),
        "keys": len(kms.list_keys()["Keys"]), "secrets": len(secrets), "all queues": len(queue_urls(emulator)),
    }


def released_and_owned(emulator: AwsEmulator, state: dict[str, Any]) -> dict[str, tuple[str | None, str | None]]:
    """(aenv.dev/released, aenv.dev/uid) of each resource, read from AWS."""
    sqs, sns, kms = emulator.client("sqs"), emulator.client("sns"), emulator.client("kms")
    tags = {f"queue {url}": sqs.list_queue_tags(QueueUrl=url).get("Tags", {}) for url in state["queues"].values()}
    tags["topic"] = {t["Key"]: t["Value"] for t in sns.list_tags_for_resource(ResourceArn=state["topic"])["Tags"]}
    tags["key"] = {t["TagKey"]: t["TagValue"] for t in kms.list_resource_tags(KeyId=state["key"])["Tags"]}
    secret = emulator.client("secretsmanager").describe_secret(SecretId=state["secret"])
    tags["secret"] = {t["Key"]: t["Value"] for t in secret.get("Tags", [])}
    return {what: (t.get(TAG_RELEASED), t.get(TAG_UID)) for what, t in tags.items()}


def test_retain_leaves_everything_released_and_a_new_environment_adopts_it(
        kube: Kube, emulator: AwsEmulator, ack_operator: Operator, ack_namespace: str) -> None:
    kube.create_env(ack_namespace, NAME, retained_spec())
    env = kube.wait_condition(ack_namespace, NAME, "Ready", timeout=DEADLINE)
    first = env["metadata"]["uid"]
    want = planned(ack_namespace, first, retained_spec())
    before = aws_state(emulator, want)
    assert None not in (*before["queues"].values(), before["topic"], before["key"], before["secret"]), before
    value = emulator.client("secretsmanager").get_secret_value(SecretId=before["secret"])["SecretString"]

    # Deleted with Retain: everything stays in AWS, tagged released (as mode boto3 leaves it), and recorded.
    kube.delete_env(ack_namespace, NAME)
    wait_for(lambda: kube.env_gone(ack_namespace, NAME), DEADLINE, f"{ack_namespace}/{NAME} to be deleted")
    assert aws_state(emulator, want) == before
    assert set(released_and_owned(emulator, before).values()) == {("true", first)}
    assert kube.core.read_namespaced_config_map(f"aenv-retained-{NAME}", ack_namespace).data

    # A new environment of the same name adopts exactly those resources: nothing is created twice, the secret
    # keeps its value, and the tags name the new environment, no longer released.
    kube.create_env(ack_namespace, NAME, retained_spec())
    env = kube.wait_condition(ack_namespace, NAME, "Ready", timeout=DEADLINE)
    second = env["metadata"]["uid"]
    assert second != first
    assert aws_state(emulator, want) == before
    wait_for(lambda: set(released_and_owned(emulator, before).values()) == {(None, second)}, DEADLINE,
             "ACK to tag the adopted resources as the new environment's")
    assert emulator.client("secretsmanager").get_secret_value(SecretId=before["secret"])["SecretString"] == value


# Secrets and the workloads' role: an environment whose workload uses a queue and the secrets.

ISSUER_SETTING = "AENV_OIDC_ISSUER"


def secrets_spec() -> dict[str, Any]:
    return {
        "tier": "dev",
        "aws": {"region": "us-east-1", "mode": "ack"},
        "queues": [{"name": "events", "deadLetter": {"enabled": False}}],
        "secrets": {"apiKeys": ["partner"]},
        "workloads": [{"name": "api", "image": "example/api:1", "uses": ["events", "secrets"]}],
        "deletionPolicy": "Delete",
    }


def value_of(kube: Kube, namespace: str, name: str) -> str:
    data = kube.core.read_namespaced_secret(name, namespace).data or {}
    return base64.b64decode(data[secretsmanager_secret.VALUE_KEY]).decode()


def test_secrets_and_the_workloads_role_through_ack(kube: Kube, emulator: AwsEmulator, ack_operator: Operator,
                                                   ack_namespace: str, in_process: None) -> None:
    start = time.monotonic()
    kube.create_env(ack_namespace, NAME, secrets_spec())
    env = kube.wait_condition(ack_namespace, NAME, "Ready", timeout=DEADLINE)
    print(f"mode ack with secrets and a role: Ready in {time.monotonic() - start:.1f} s")
    uid = env["metadata"]["uid"]
    for component in ("SecretsReady", "IamReady"):
        assert kube.condition(env, component)["status"] == "True", env["status"]  # type: ignore[index]
    want = planned(ack_namespace, uid, secrets_spec())
    ref = EnvironmentRef(ack_namespace, NAME, uid)
    key_id = alias_target(emulator, encryption.alias(ref))
    assert key_id is not None

    # Each secret in Secrets Manager holds the value of the Kubernetes Secret its CR points at, encrypted with
    # the environment's key and tagged as aenv's; that Secret is owned by the environment.
    sm = emulator.client("secretsmanager")
    listed = {s["Name"]: s for s in sm.list_secrets()["SecretList"]}
    values = {}
    for key in ("secret/api-key/partner", "secret/jwt"):
        d = want[key]
        assert d.name in listed, (d.name, list(listed))
        entry = listed[d.name]
        assert entry.get("KmsKeyId", "").rsplit("/", 1)[-1] == key_id, entry
        assert owned_by({t["Key"]: t["Value"] for t in entry["Tags"]}, ack_namespace, uid, "secrets")
        held = sm.get_secret_value(SecretId=d.name)["SecretString"]
        k8s = secretsmanager_secret.value_secret_name(d, 1)
        assert held == value_of(kube, ack_namespace, k8s) and len(held) >= 32
        meta = kube.core.read_namespaced_secret(k8s, ack_namespace).to_dict()["metadata"]
        assert [o["uid"] for o in meta["owner_references"]] == [uid]
        assert meta["labels"]["app.kubernetes.io/managed-by"] == "aenv"
        values[key] = held
    # ... and never in the status, the events or the operator's log.
    shown = json.dumps(kube.get_env(ack_namespace, NAME)) + " ".join(
        str(e.message) for e in kube.events(ack_namespace, NAME)) + ack_operator.log.read_text()
    assert not any(v in shown for v in values.values())

    # The role: IRSA trust for the workloads' ServiceAccount, an inline policy naming exactly what they use.
    iam = emulator.client("iam")
    role = iam.get_role(RoleName=want["iam/role"].name)["Role"]
    assert role["Path"] == "/aenv/"
    [trust] = role["AssumeRolePolicyDocument"]["Statement"]
    assert trust["Principal"]["Federated"].endswith(f":oidc-provider/{ack_operator.env[ISSUER_SETTING]}")
    issuer = ack_operator.env[ISSUER_SETTING]
    assert trust["Condition"]["StringEquals"][f"{issuer}:sub"] == (
        f"system:serviceaccount:{ack_namespace}:aenv-{NAME}-workloads")
    tags = {t["Key"]: t["Value"] for t in iam.list_role_tags(RoleName=role["RoleName"])["Tags"]}
    assert owned_by(tags, ack_namespace, uid, "iam"), tags
    document = iam.get_role_policy(RoleName=role["RoleName"], PolicyName="aenv-workloads")["PolicyDocument"]
    statements = {s["Sid"]: s for s in (json.loads(document) if isinstance(document, str) else document)["Statement"]}
    queue_arn = emulator.client("sqs").get_queue_attributes(
        QueueUrl=queue_urls(emulator)[want["queue/events"].name], AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    assert statements["Queue"]["Resource"] in ([queue_arn], queue_arn)
    assert sorted(statements["Secret"]["Resource"]) == sorted(listed[want[k].name]["ARN"]
                                                             for k in ("secret/api-key/partner", "secret/jwt"))
    assert statements["Kms"]["Resource"] in ([listed_key_arn(emulator, key_id)], listed_key_arn(emulator, key_id))

    # What ACK writes back into the CRs is no drift to aenv.
    role_d = want["iam/role"].resolve({**{k: {"arn": listed[want[k].name]["ARN"]} for k in ("secret/api-key/partner",
                                                                                           "secret/jwt")},
                                       "queue/events": {"arn": queue_arn}, "kms/key": {"arn": listed_key_arn(
                                           emulator, key_id)}})
    assert role_d is not None
    role_seen = IamRoles(AwsTarget("us-east-1"), oidc_issuer=ack_operator.env[ISSUER_SETTING]).observe(role_d)
    assert role_seen.ready and role_seen.up_to_date, role_seen.diff

    # Rotation, as the operator does it when the period is over: a new Kubernetes Secret, the CR pointed at it,
    # and ACK puts the new value in Secrets Manager.
    desired = want["secret/api-key/partner"].resolve({"kms/key": {"id": key_id}})
    assert desired is not None
    current = SecretsManagerSecrets(AwsTarget("us-east-1")).observe(desired)
    assert current.ready and current.up_to_date, current.diff
    later = SecretsManagerSecrets(AwsTarget("us-east-1"), now=lambda: datetime.now(UTC) + timedelta(days=91))
    seen = later.observe(desired)
    assert "rotation" in seen.diff and seen.ready  # the current value serves until the next one is in
    later.update(desired, seen)
    fresh = value_of(kube, ack_namespace, secretsmanager_secret.value_secret_name(desired, 2))
    assert fresh != values["secret/api-key/partner"]
    wait_for(lambda: sm.get_secret_value(SecretId=desired.name)["SecretString"] == fresh, DEADLINE,
             "ACK to put the rotated value")
    now = SecretsManagerSecrets(AwsTarget("us-east-1"))
    wait_for(lambda: now.observe(desired).ready, DEADLINE, "the rotated secret to be ready")
    assert now.observe(desired).outputs["version"] == secretsmanager_secret.value_secret_name(desired, 2)

    # `aenv rotate` asks for a value made after a given time: answered once, by the next version.
    asked = replace(desired, params={**desired.params, "rotate_requested_at": (
        datetime.now(UTC) + timedelta(days=92)).strftime("%Y-%m-%dT%H:%M:%SZ")})
    seen = now.observe(asked)
    assert seen.diff.get("rotation", ("", ""))[1].startswith("asked at"), seen.diff
    now.update(asked, seen)
    assert now.observe(asked).outputs["version"] == secretsmanager_secret.value_secret_name(desired, 3)
    assert "rotation" not in now.observe(asked).diff

    kube.delete_env(ack_namespace, NAME)
    wait_for(lambda: kube.env_gone(ack_namespace, NAME), DEADLINE, f"{ack_namespace}/{NAME} to be deleted")
    # ACK deletes a secret with Secrets Manager's recovery window (it cannot force the deletion).
    left = {s["Name"]: s for s in sm.list_secrets(IncludePlannedDeletion=True)["SecretList"]}
    assert all(left[want[k].name].get("DeletedDate") for k in ("secret/api-key/partner", "secret/jwt"))
    assert want["iam/role"].name not in {r["RoleName"] for r in iam.list_roles()["Roles"]}


def listed_key_arn(emulator: AwsEmulator, key_id: str) -> str:
    return str(emulator.client("kms").describe_key(KeyId=key_id)["KeyMetadata"]["Arn"])


# The network: the planner makes it only with a cache or a database, which mode ack does not build yet; so its
# ACK clients are driven here as the loop drives them, against the real controllers.


def until_ready(client: Any, desired: Desired) -> Observation:
    """Observe as the loop does, writing the CR again while it differs, until it is ready and up to date.

    moto's CreateSecurityGroup answers without the group's tags, so ACK writes an empty spec.tags back into the CR
    and then removes the tags in AWS: aenv sees the CR differ and applies it again, and ACK puts them back."""
    seen: dict[str, Observation] = {}

    def ready() -> bool:
        seen["o"] = client.observe(desired)
        if seen["o"].exists and not seen["o"].up_to_date:
            seen["o"] = client.update(desired, seen["o"])
        return seen["o"].ready and seen["o"].up_to_date

    try:
        wait_for(ready, DEADLINE, f"{desired.key} to be ready")
    except TimeoutError as e:
        raise AssertionError(f"{e}; last seen: {seen.get('o')}") from None
    return seen["o"]


def test_network_kinds_through_ack(kube: Kube, emulator: AwsEmulator, ack_operator: Operator, ack_namespace: str,
                                   in_process: None) -> None:
    env = kube.create_env(ack_namespace, NAME, {"tier": "dev", "aws": {"region": "us-east-1", "mode": "ack"},
                                                "deletionPolicy": "Delete"})
    uid = env["metadata"]["uid"]  # the owner of the CRs: without it the garbage collector deletes them
    ec2 = emulator.client("ec2")
    vpc = next(v["VpcId"] for v in ec2.describe_vpcs()["Vpcs"] if v.get("IsDefault"))
    subnets = sorted(s["SubnetId"] for s in ec2.describe_subnets(
        Filters=[{"Name": "vpc-id", "Values": [vpc]}])["Subnets"])[:2]
    spec = {"tier": "dev", "aws": {"region": "us-east-1", "mode": "ack", "vpcId": vpc, "subnetIds": subnets},
            "cache": {}, "database": {}, "deletionPolicy": "Delete"}
    want = {k: d for k, d in planned(ack_namespace, uid, spec).items() if d.component == "network"}
    assert set(want) == {"network/sg/workloads", "network/sg/cache", "network/sg/database",
                         "network/subnets/cache", "network/subnets/database"}
    target = AwsTarget("us-east-1")
    outputs: dict[str, dict[str, Any]] = {}
    resolved: dict[str, Desired] = {}
    for key in ("network/sg/workloads", "network/sg/cache", "network/sg/database", "network/subnets/cache",
                "network/subnets/database"):
        d = want[key].resolve(outputs)
        assert d is not None, key
        client = ack.CLIENTS.get(d.kind, target)
        client.create(d)
        seen = until_ready(client, d)
        outputs[key], resolved[key] = dict(seen.outputs), d

    groups = {g["GroupName"]: g for g in ec2.describe_security_groups(
        Filters=[{"Name": "vpc-id", "Values": [vpc]}])["SecurityGroups"]}
    workloads = groups[want["network/sg/workloads"].name]
    assert workloads["GroupId"] == outputs["network/sg/workloads"]["id"]
    assert workloads["IpPermissions"] == []
    assert [(p["IpProtocol"], [r["CidrIp"] for r in p["IpRanges"]]) for p in workloads["IpPermissionsEgress"]] == [
        ("-1", ["0.0.0.0/0"])]
    for role, port in (("cache", 6379), ("database", 5432)):
        group = groups[want[f"network/sg/{role}"].name]
        assert group["VpcId"] == vpc and group["IpPermissionsEgress"] == [], group
        assert [(p["IpProtocol"], p["FromPort"], p["ToPort"], [g["GroupId"] for g in p["UserIdGroupPairs"]],
                 p.get("IpRanges")) for p in group["IpPermissions"]] == [
            ("tcp", port, port, [workloads["GroupId"]], [])], group
        assert owned_by({t["Key"]: t["Value"] for t in group["Tags"]}, ack_namespace, uid, "network")

    cache_group = emulator.client("elasticache").describe_cache_subnet_groups(
        CacheSubnetGroupName=want["network/subnets/cache"].name)["CacheSubnetGroups"][0]
    assert sorted(s["SubnetIdentifier"] for s in cache_group["Subnets"]) == subnets
    assert outputs["network/subnets/cache"] == {"name": want["network/subnets/cache"].name}
    db_group = emulator.client("rds").describe_db_subnet_groups(
        DBSubnetGroupName=want["network/subnets/database"].name)["DBSubnetGroups"][0]
    assert sorted(s["SubnetIdentifier"] for s in db_group["Subnets"]) == subnets and db_group["VpcId"] == vpc
    assert outputs["network/subnets/database"] == {"name": want["network/subnets/database"].name}

    for key in reversed(list(resolved)):  # the loop deletes dependents first
        d = resolved[key]
        client = ack.CLIENTS.get(d.kind, target)
        client.delete(d, client.observe(d), "Delete")
        wait_for(lambda c=client, d=d: not c.observe(d).exists, DEADLINE, f"{key} to be deleted")  # type: ignore[misc]
    assert not {want[k].name for k in want if "/sg/" in k} & {
        g["GroupName"] for g in ec2.describe_security_groups()["SecurityGroups"]}
    assert not emulator.client("rds").describe_db_subnet_groups()["DBSubnetGroups"]
    assert not emulator.client("elasticache").describe_cache_subnet_groups()["CacheSubnetGroups"]


# A missing controller: the CRD of a kind aenv needs is not served.

TOPICS_CRD = "topics.sns.services.k8s.aws"


def test_a_missing_controller_is_named_and_its_install_picked_up(kube: Kube, emulator: AwsEmulator,
                                                                  ack_operator: Operator, ack_namespace: str,
                                                                  ack_controllers: AckControllers) -> None:
    [crd_file] = [f for f in local_ack.crd_files(ack_controllers.bin_dir, ["sns-controller"])
                  if TOPICS_CRD in local_ack.crd_names([f])]
    kube.ext.delete_custom_resource_definition(TOPICS_CRD)
    wait_for(lambda: TOPICS_CRD not in {c.metadata.name for c in kube.ext.list_custom_resource_definition().items},
             DEADLINE, f"CRD {TOPICS_CRD} to be gone")
    try:
        kube.create_env(ack_namespace, NAME, {"tier": "dev", "aws": {"region": "us-east-1", "mode": "ack"},
                                              "topics": [{"name": "alerts"}], "deletionPolicy": "Delete"})
        env = kube.wait_condition(ack_namespace, NAME, "TopicsReady", status="False", reason="ACKControllerMissing",
                                  timeout=DEADLINE)
        topics = kube.condition(env, "TopicsReady")
        assert topics is not None and topics["reason"] == "ACKControllerMissing", topics
        assert "install the ACK sns-controller" in topics["message"], topics
        assert kube.condition(env, "Ready")["status"] == "False"  # type: ignore[index]
        assert kube.condition(env, "EncryptionReady")["status"] == "True"  # type: ignore[index]  # the rest goes on
    finally:
        kube.apply_crd(yaml.safe_load(crd_file.read_text()))
    # Installed later: picked up without restarting aenv (the ACK controller resumes its watch on its own).
    kube.wait_condition(ack_namespace, NAME, "Ready", timeout=DEADLINE)
    assert want_topic(ack_namespace, kube.get_env(ack_namespace, NAME)) in topic_arns(emulator)


def want_topic(namespace: str, env: dict[str, Any]) -> str:
    spec = {"tier": "dev", "aws": {"region": "us-east-1", "mode": "ack"}, "topics": [{"name": "alerts"}]}
    return planned(namespace, env["metadata"]["uid"], spec)["topic/alerts"].name
