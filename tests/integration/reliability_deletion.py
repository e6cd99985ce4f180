"""Mass deletion with mixed deletion policies, shared by test_reliability_deletion.py (a few environments) and the
benchmark case benchmarks/reliability_cases/deletion.py (50).

Environments of every tier and policy (queues, a topic, and a PostgreSQL database where the policy decides its
fate) are made Ready, then all deleted at once. Afterwards AWS is searched for each resource aenv's plan names for
each environment, for every KMS key carrying one of their uids, and for every DB snapshot and subscription, and
each find is judged against what the environment's policy promises (README, Deletion):

- Delete: nothing stays (a key scheduled for deletion counts as gone); in tier prod the database still leaves its
  final snapshot, and the KMS key stays, released, to read it;
- Snapshot: the database's final snapshot, the KMS key, the backups' bucket (released) and the secrets (scheduled
  for deletion, recoverable for the window) stay; nothing else;
- Retain: everything stays, each taggable resource tagged aenv.dev/released=true.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import ClientError

from aenv.api import EnvironmentSpec, effective
from aenv.aws.stores import final_snapshot_name
from aenv.local.emulator import AwsEmulator
from aenv.local.processes import wait_for
from aenv.naming import TAG_RELEASED, TAG_UID, EnvironmentRef
from aenv.plan.environment import desired_resources, requested

from .kube import Kube

POLICIES = ("Delete", "Snapshot", "Retain")
TIERS = ("dev", "staging", "prod")
# Kinds that are no AWS resource of their own: a queue's policy lives in its queue's attributes, a login in the
# database; subscriptions are looked at apart (they cannot be tagged).
NOT_LOOKED_UP = {"sqs.queue_policy", "postgres.login", "sns.subscription"}
# What Snapshot keeps, released, besides the final snapshot (and the secrets for their recovery window): the key
# that reads the snapshot, and the backups.
SNAPSHOT_KEEPS = {"kms.key", "s3.bucket"}


def plan(index: int) -> tuple[str, dict[str, Any]]:
    """The index-th environment: every (policy, tier) in turn; prod and staging-under-Snapshot have a database."""
    policy, tier = POLICIES[index % 3], TIERS[index // 3 % 3]
    spec: dict[str, Any] = {"tier": tier, "aws": {"region": "us-east-1"}, "deletionPolicy": policy,
                            "queues": [{"name": "events"}], "topics": [{"name": "alerts", "subscribers": ["events"]}]}
    if tier == "prod" or (tier, policy) == ("staging", "Snapshot"):
        spec["database"] = {}
    return f"{policy.lower()}-{tier}-{index:02d}", spec


@dataclass(frozen=True)
class Left:
    """A resource found in AWS after the deletion."""

    kind: str
    name: str
    tags: dict[str, str]
    pending_deletion: bool = False  # a secret or key scheduled for deletion


@dataclass
class Environment:
    name: str
    uid: str
    policy: str
    tier: str
    database: str | None  # the DB instance's identifier
    left: list[Left] = field(default_factory=list)
    snapshots: list[str] = field(default_factory=list)  # DB snapshots of its database
    subscriptions: int = 0


@dataclass
class Result:
    environments: list[Environment]
    delete_seconds: float  # from the first delete until every environment was gone
    orphans: list[str]  # resources left that the policy did not promise to keep
    missing_snapshots: list[str]  # final snapshots promised and not there
    extra_snapshots: list[str]  # snapshots nobody promised
    prod_without_snapshot: list[str]  # prod databases gone without a final snapshot
    retained_unreleased: list[str]  # under Retain: lost, or kept without the released tag

    @property
    def databases(self) -> int:
        return sum(e.database is not None for e in self.environments)

    @property
    def snapshots(self) -> int:
        return sum(len(e.snapshots) for e in self.environments)

    def count(self, policy: str) -> int:
        return sum(e.policy == policy for e in self.environments)


def create(kube: Kube, namespace: str, count: int, timeout: float) -> list[Environment]:
    made = []
    for i in range(count):
        name, spec = plan(i)
        body = kube.create_env(namespace, name, spec)
        ref = EnvironmentRef(namespace, name, body["metadata"]["uid"])
        planned = desired_resources(ref, effective(EnvironmentSpec.model_validate(spec)),
                                    requested(EnvironmentSpec.model_validate(spec)))
        database = next((d.name for d in planned if d.kind == "rds.db_instance"), None)
        made.append(Environment(name, ref.uid, spec["deletionPolicy"], spec["tier"], database))

    def all_ready() -> bool:
        items = kube.custom.list_namespaced_custom_object("aenv.dev", "v1alpha1", namespace,
                                                          "analyticsenvironments")["items"]
        return sum(any(c["type"] == "Ready" and c["status"] == "True" for c in i.get("status", {}).get(
            "conditions", [])) for i in items) >= count

    wait_for(all_ready, timeout, f"{count} environments Ready", interval=1)
    return made


def delete_all(kube: Kube, namespace: str, environments: list[Environment], timeout: float) -> float:
    started = time.monotonic()
    for e in environments:
        kube.delete_env(namespace, e.name)
    wait_for(lambda: all(kube.env_gone(namespace, e.name) for e in environments), timeout,
             f"{len(environments)} environments to be deleted", interval=1)
    return time.monotonic() - started


def run(kube: Kube, emulator: AwsEmulator, namespace: str, count: int, timeout: float = 300) -> Result:
    environments = create(kube, namespace, count, timeout)
    seconds = delete_all(kube, namespace, environments, timeout)
    look(emulator, namespace, environments)
    return judge(environments, seconds)


class Aws:
    def __init__(self, emulator: AwsEmulator) -> None:
        self.sqs, self.sns, self.kms, self.sm, self.rds, self.s3, self.ec2 = (
            emulator.client(s) for s in ("sqs", "sns", "kms", "secretsmanager", "rds", "s3", "ec2"))
        self.topics = {t["TopicArn"].rsplit(":", 1)[-1]: t["TopicArn"] for t in self.sns.list_topics()["Topics"]}

    def find(self, kind: str, name: str) -> Left | None:
        """The resource of this kind and name, with its tags; None when AWS has no such resource."""
        look: Callable[[str], Left | None] | None = getattr(self, kind.replace(".", "_"), None)
        if look is None:
            raise AssertionError(f"no lookup for {kind}: the deletion check cannot judge it")
        try:
            return look(name)
        except ClientError as e:
            if e.response.get("ResponseMetadata", {}).get("HTTPStatusCode") in (400, 404):
                return None
            raise

    def sqs_queue(self, name: str) -> Left | None:
        url = self.sqs.get_queue_url(QueueName=name)["QueueUrl"]
        return Left("sqs.queue", name, self.sqs.list_queue_tags(QueueUrl=url).get("Tags", {}))

    def sns_topic(self, name: str) -> Left | None:
        arn = self.topics.get(name)
        if arn is None:
            return None
        tags = {t["Key"]: t["Value"] for t in self.sns.list_tags_for_resource(ResourceArn=arn)["Tags"]}
        return Left("sns.topic", name, tags)

    def secretsmanager_secret(self, name: str) -> Left | None:
        s = self.sm.describe_secret(SecretId=name)
        return Left("secretsmanager.secret", name, {t["Key"]: t["Value"] for t in s.get("Tags", [])},
                    pending_deletion=bool(s.get("DeletedDate")))

    def rds_db_instance(self, name: str) -> Left | None:
        found = self.rds.describe_db_instances(DBInstanceIdentifier=name)["DBInstances"]
        return Left("rds.db_instance", name, {t["Key"]: t["Value"] for t in found[0].get("TagList", [])}) \
            if found else None

    def rds_subnet_group(self, name: str) -> Left | None:
        [group] = self.rds.describe_db_subnet_groups(DBSubnetGroupName=name)["DBSubnetGroups"]
        tags = self.rds.list_tags_for_resource(ResourceName=group["DBSubnetGroupArn"])["TagList"]
        return Left("rds.subnet_group", name, {t["Key"]: t["Value"] for t in tags})

    def ec2_security_group(self, name: str) -> Left | None:
        found = self.ec2.describe_security_groups(Filters=[{"Name": "group-name", "Values": [name]}])["SecurityGroups"]
        return Left("ec2.security_group", name, {t["Key"]: t["Value"] for t in found[0].get("Tags", [])}) \
            if found else None

    def s3_bucket(self, name: str) -> Left | None:
        self.s3.head_bucket(Bucket=name)
        try:
            tags = self.s3.get_bucket_tagging(Bucket=name).get("TagSet", [])
        except ClientError:
            tags = []
        return Left("s3.bucket", name, {t["Key"]: t["Value"] for t in tags})

    def keys(self) -> dict[str, list[Left]]:
        """Every KMS key by the aenv.dev/uid it carries (found by tag: a key has no name, and Snapshot drops the
        alias)."""
        out: dict[str, list[Left]] = {}
        for key in self.kms.get_paginator("list_keys").paginate():
            for k in key["Keys"]:
                state = self.kms.describe_key(KeyId=k["KeyId"])["KeyMetadata"]["KeyState"]
                tags = {t["TagKey"]: t["TagValue"] for t in self.kms.list_resource_tags(KeyId=k["KeyId"])["Tags"]}
                out.setdefault(tags.get(TAG_UID, ""), []).append(
                    Left("kms.key", k["KeyId"], tags, pending_deletion=state == "PendingDeletion"))
        return out


def look(emulator: AwsEmulator, namespace: str, environments: list[Environment]) -> None:
    """Fill in what each environment left in AWS."""
    aws = Aws(emulator)
    keys = aws.keys()
    snapshots = aws.rds.describe_db_snapshots()["DBSnapshots"]
    subscriptions = aws.sns.list_subscriptions()["Subscriptions"]
    for e in environments:
        name, spec = plan(int(e.name.rsplit("-", 1)[-1]))
        parsed = EnvironmentSpec.model_validate(spec)
        planned = desired_resources(EnvironmentRef(namespace, name, e.uid), effective(parsed), requested(parsed))
        for d in planned:
            if d.kind in NOT_LOOKED_UP or d.kind == "kms.key":
                continue
            if (found := aws.find(d.kind, d.name)) is not None:
                e.left.append(found)
        e.left += keys.get(e.uid, [])
        live = any(x.kind == "rds.db_instance" for x in e.left)
        # A retained instance's automated snapshots are part of it (RDS deletes them with the instance).
        e.snapshots = [s["DBSnapshotIdentifier"] for s in snapshots if s["DBInstanceIdentifier"] == e.database
                       and not (live and s.get("SnapshotType") == "automated")]
        prefix = f":aenv-{namespace}-{name}-"
        e.subscriptions = sum(prefix in s["TopicArn"] for s in subscriptions)


def judge(environments: list[Environment], seconds: float) -> Result:
    r = Result(environments, seconds, [], [], [], [], [])
    for e in environments:
        prod_delete = e.policy == "Delete" and e.tier == "prod"
        promised = [final_snapshot_name(e.database, e.uid)] if e.database and (
            e.policy == "Snapshot" or prod_delete) else []
        r.missing_snapshots += [f"{e.name}: {s}" for s in promised if s not in e.snapshots]
        r.extra_snapshots += [f"{e.name}: {s}" for s in e.snapshots if s not in promised]
        if e.database and e.tier == "prod" and not e.snapshots and not any(
                x.kind == "rds.db_instance" for x in e.left):
            r.prod_without_snapshot.append(e.name)
        if e.policy == "Retain":
            r.retained_unreleased += [f"{e.name}: {x.kind} {x.name}" for x in e.left
                                      if x.tags.get(TAG_RELEASED) != "true" or x.pending_deletion]
            kinds = {x.kind for x in e.left}
            wanted = {"sqs.queue", "sns.topic", "kms.key"} | ({"rds.db_instance", "s3.bucket"} if e.database else set())
            r.retained_unreleased += [f"{e.name}: {k} lost" for k in sorted(wanted - kinds)]
            if e.subscriptions != 1:
                r.retained_unreleased.append(f"{e.name}: {e.subscriptions} subscriptions instead of 1")
            continue
        keeps = SNAPSHOT_KEEPS if e.policy == "Snapshot" else {"kms.key"} if prod_delete else set()
        for x in e.left:
            if x.kind == "kms.key" and x.pending_deletion and "kms.key" not in keeps:
                continue  # scheduled for deletion: KMS's minimum window, gone as far as anyone can tell
            if x.kind == "secretsmanager.secret" and x.pending_deletion and e.policy == "Snapshot":
                continue  # recoverable for the window, then gone
            if x.kind in keeps and x.tags.get(TAG_RELEASED) == "true" and not x.pending_deletion:
                continue
            r.orphans.append(f"{e.name}: {x.kind} {x.name}{' (pending deletion)' if x.pending_deletion else ''}")
        if e.subscriptions:
            r.orphans.append(f"{e.name}: {e.subscriptions} subscriptions")
    return r
