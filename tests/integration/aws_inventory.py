"""The AWS resources aenv made for the environments of one namespace, found in moto by aenv's tags and names, and
the duplicates and orphans among them.

A duplicate is a second live resource of the same kind for the same environment and name (for a KMS key, which has
no name, the same component). An orphan is a live resource whose environment no longer exists (or is another one
of the same name), or which that environment's status does not name. Released resources (Retain) are neither.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from aenv.local.emulator import AwsEmulator
from aenv.naming import TAG_COMPONENT, TAG_ENVIRONMENT, TAG_RELEASED, TAG_UID


@dataclass(frozen=True)
class Made:
    kind: str  # "sqs", "sns", "kms", "iam", ... (the ARN's service)
    name: str  # the queue, topic or role name; the key id for a KMS key
    arn: str
    tags: Mapping[str, str]

    @property
    def environment(self) -> str:
        return self.tags.get(TAG_ENVIRONMENT, "")

    def __str__(self) -> str:
        return f"{self.kind} {self.name} ({self.environment or 'untagged'})"


def _name_of(arn: str) -> tuple[str, str]:
    """(service, name) of an ARN: arn:aws:sqs:r:a:NAME, arn:aws:kms:r:a:key/ID, arn:aws:iam::a:role/NAME."""
    parts = arn.split(":", 5)
    return parts[2], parts[5].rsplit("/", 1)[-1]


def inventory(emulator: AwsEmulator, namespace: str) -> list[Made]:
    """Every live AWS resource of the namespace's environments: tagged ones from the tagging API, and by name the
    queues, topics and IAM roles, so that one made without its tags is found too."""
    prefix = f"aenv-{namespace}-"
    found: dict[str, Made] = {}
    tagging = emulator.client("resourcegroupstaggingapi")
    for page in tagging.get_paginator("get_resources").paginate(TagFilters=[{"Key": TAG_ENVIRONMENT}]):
        for item in page["ResourceTagMappingList"]:
            tags = {t["Key"]: t["Value"] for t in item.get("Tags", [])}
            if tags[TAG_ENVIRONMENT].startswith(f"{namespace}/"):
                kind, name = _name_of(item["ResourceARN"])
                found[item["ResourceARN"]] = Made(kind, name, item["ResourceARN"], tags)
    kms = emulator.client("kms")
    for arn, made in list(found.items()):
        if made.kind == "kms" and kms.describe_key(KeyId=made.name)["KeyMetadata"]["KeyState"] == "PendingDeletion":
            del found[arn]  # deleted, as far as KMS deletes (after its waiting period)
    sqs = emulator.client("sqs")
    for url in sqs.list_queues(QueueNamePrefix=prefix).get("QueueUrls", []):
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        if arn not in found:
            found[arn] = Made("sqs", _name_of(arn)[1], arn, sqs.list_queue_tags(QueueUrl=url).get("Tags", {}))
    sns = emulator.client("sns")
    for page in sns.get_paginator("list_topics").paginate():
        for topic in page["Topics"]:
            arn = topic["TopicArn"]
            if _name_of(arn)[1].startswith(prefix) and arn not in found:
                tags = {t["Key"]: t["Value"] for t in sns.list_tags_for_resource(ResourceArn=arn)["Tags"]}
                found[arn] = Made("sns", _name_of(arn)[1], arn, tags)
    iam = emulator.client("iam")
    for page in iam.get_paginator("list_roles").paginate():
        for role in page["Roles"]:
            if role["RoleName"].startswith(prefix):
                tags = {t["Key"]: t["Value"] for t in iam.list_role_tags(RoleName=role["RoleName"])["Tags"]}
                found[role["Arn"]] = Made("iam", role["RoleName"], role["Arn"], tags)
    return sorted(found.values(), key=lambda m: m.arn)


def duplicates(made: Iterable[Made]) -> list[str]:
    """Each resource beyond the first of its (environment, kind, name); KMS keys by (environment, component)."""
    def identity(m: Made) -> tuple[str, str, str]:
        return m.environment, m.kind, m.tags.get(TAG_COMPONENT, "") if m.kind == "kms" else m.name

    live = [m for m in made if TAG_RELEASED not in m.tags]
    counts = Counter(identity(m) for m in live)
    return [f"{n - 1} more {kind} {name} of {env}" for (env, kind, name), n in sorted(counts.items()) if n > 1]


def orphans(made: Iterable[Made], environments: Mapping[str, dict[str, Any]], aliases: Mapping[str, str]) -> list[str]:
    """Live resources no existing environment owns. `environments`: "namespace/name" -> the AnalyticsEnvironment;
    `aliases`: KMS alias name -> key id (status names a key by its alias)."""
    out = []
    for m in made:
        if TAG_RELEASED in m.tags:
            continue
        env = environments.get(m.environment)
        if env is None:
            out.append(f"{m}: its environment is gone")
            continue
        if m.tags.get(TAG_UID, env["metadata"]["uid"]) != env["metadata"]["uid"]:
            out.append(f"{m}: made for an earlier environment of that name")
            continue
        named = {r["name"] for r in env.get("status", {}).get("resources", [])}
        named |= {aliases[n] for n in named if n in aliases}
        if m.name not in named:
            out.append(f"{m}: not in its environment's status.resources")
    return out


def kms_aliases(emulator: AwsEmulator) -> dict[str, str]:
    kms = emulator.client("kms")
    return {a["AliasName"]: a["TargetKeyId"] for page in kms.get_paginator("list_aliases").paginate()
            for a in page["Aliases"] if "TargetKeyId" in a}
