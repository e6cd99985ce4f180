"""S3 buckets (kind s3.bucket): the bucket of an environment's database backups. SSE-KMS with the environment's
key by default, versioning on, every public access blocked, and one lifecycle rule that expires backups (and
their older versions) after the retention."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from ..api.spec import DeletionPolicy
from ..naming import TAG_ENVIRONMENT, TAG_RELEASED, TAG_UID, retagged
from ..plan.types import Desired, Observation
from . import session
from .component import AwsTarget, Classified
from .errors import error_code
from .listing import Listing
from .tagging import tag_list

KIND = "s3.bucket"
RULE_ID = "aenv-expire-backups"
BLOCK_ALL = {"BlockPublicAcls": True, "IgnorePublicAcls": True, "BlockPublicPolicy": True,
             "RestrictPublicBuckets": True}
_MISSING = {"NoSuchBucket", "404"}
_UNSET = {"NoSuchTagSet", "NoSuchPublicAccessBlockConfiguration", "ServerSideEncryptionConfigurationNotFoundError",
          "NoSuchLifecycleConfiguration"}


def _lifecycle(days: int) -> dict[str, Any]:
    return {"Rules": [{
        "ID": RULE_ID, "Status": "Enabled", "Filter": {"Prefix": ""},
        "Expiration": {"Days": days}, "NoncurrentVersionExpiration": {"NoncurrentDays": days},
        "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 1},
    }]}


def _expiration(rules: list[dict[str, Any]]) -> tuple[int, int] | None:
    """The expiration days (current, noncurrent) of aenv's rule, when it is enabled."""
    rule = next((r for r in rules if r.get("ID") == RULE_ID and r.get("Status") == "Enabled"), None)
    if rule is None:
        return None
    return (int(rule.get("Expiration", {}).get("Days", 0)),
            int(rule.get("NoncurrentVersionExpiration", {}).get("NoncurrentDays", 0)))


def _kms_key(rules: list[dict[str, Any]]) -> str | None:
    default = rules[0].get("ApplyServerSideEncryptionByDefault", {}) if rules else {}
    return str(default.get("KMSMasterKeyID")) if default.get("SSEAlgorithm") == "aws:kms" else None


class S3Buckets(Classified):
    """One ListBuckets per interval for every environment; per bucket and pass, its five settings (S3 has no
    batch read of them)."""

    def __init__(self, target: AwsTarget) -> None:
        self.region = target.region
        self.s3 = session.client("s3", target.region, target.endpoint)
        self.names = Listing(self._list)

    def _list(self) -> dict[str, str]:
        return {b["Name"]: b["Name"] for b in self.s3.list_buckets().get("Buckets", [])
                if b["Name"].startswith("aenv-")}

    def _get(self, call: str, bucket: str) -> dict[str, Any]:
        """One Get* of the bucket; {} when that setting was never made."""
        try:
            answer: dict[str, Any] = getattr(self.s3, call)(Bucket=bucket)
            return answer
        except ClientError as e:
            if error_code(e) in _UNSET:
                return {}
            raise

    def observe(self, desired: Desired) -> Observation:
        listed = self.names.read(desired.name, gone=_MISSING, read=lambda name: self._get("get_bucket_tagging", name))
        if listed is None:
            return Observation.absent()
        name, tagging = listed
        tags = {t["Key"]: t["Value"] for t in tagging.get("TagSet", [])}
        diff: dict[str, tuple[Any, Any]] = {}
        if desired.params:  # a lookup-only desired (deleting) has no parameters to compare
            p = desired.params
            versioning = self._get("get_bucket_versioning", name).get("Status")
            if versioning != "Enabled":
                diff["versioning"] = (versioning, "Enabled")
            block = self._get("get_public_access_block", name).get("PublicAccessBlockConfiguration", {})
            if block != BLOCK_ALL:
                diff["public_access_block"] = (block, BLOCK_ALL)
            key = _kms_key(self._get("get_bucket_encryption", name).get(
                "ServerSideEncryptionConfiguration", {}).get("Rules", []))
            if key != p["kms_key_arn"]:
                diff["encryption"] = (key, p["kms_key_arn"])
            days = _expiration(self._get("get_bucket_lifecycle_configuration", name).get("Rules", []))
            want = (int(p["expiration_days"]),) * 2
            if days != want:
                diff["lifecycle"] = (days, want)
            if any(tags.get(k) != v for k, v in desired.tags.items()) or TAG_RELEASED in tags:
                diff["tags"] = (tags, dict(desired.tags))
        # While deleting, a bucket kept released (Snapshot keeps the backups) is no longer this environment's to
        # delete; looked up to be built, it is, and is adopted.
        released = TAG_RELEASED in tags and not desired.params
        return Observation(
            exists=True, ready=True, up_to_date=not diff, diff=diff,
            outputs={"name": name, "arn": f"arn:aws:s3:::{name}", "kms_key_arn": desired.params.get("kms_key_arn")},
            owner=tags.get(TAG_UID), owner_environment=None if released else tags.get(TAG_ENVIRONMENT),
            state="available",
        )

    def create(self, desired: Desired) -> Observation:
        where = {} if self.region == "us-east-1" else {"CreateBucketConfiguration": {
            "LocationConstraint": self.region}}
        try:
            self.s3.create_bucket(Bucket=desired.name, **where)
        except ClientError as e:
            if error_code(e) != "BucketAlreadyOwnedByYou":
                raise  # BucketAlreadyExists: another account holds the name
            self.names.expire()
            return self.observe(desired)
        self.names.put(desired.name, desired.name)
        # Blocked and encrypted before anything is written to it; tagged last, so that an untagged bucket is one
        # whose settings may be incomplete (a crash in between): it is not adopted as aenv's.
        self._settings(desired, {"public_access_block", "encryption", "versioning", "lifecycle"})
        self._tag(desired.name, {}, desired.tags)
        return self.observe(desired)

    def _settings(self, desired: Desired, which: set[str]) -> None:
        name, p = desired.name, desired.params
        if "public_access_block" in which:
            self.s3.put_public_access_block(Bucket=name, PublicAccessBlockConfiguration=BLOCK_ALL)
        if "encryption" in which:
            self.s3.put_bucket_encryption(Bucket=name, ServerSideEncryptionConfiguration={"Rules": [{
                "ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms",
                                                       "KMSMasterKeyID": p["kms_key_arn"]},
                "BucketKeyEnabled": True}]})
        if "versioning" in which:
            self.s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})
        if "lifecycle" in which:
            self.s3.put_bucket_lifecycle_configuration(
                Bucket=name, LifecycleConfiguration=_lifecycle(int(p["expiration_days"])))

    def _tag(self, name: str, before: dict[str, str], wanted: Any) -> None:
        """PutBucketTagging replaces the whole set: what others put there is kept."""
        self.s3.put_bucket_tagging(Bucket=name, Tagging={"TagSet": tag_list(retagged(before, wanted))})

    def update(self, desired: Desired, observed: Observation) -> Observation:
        self._settings(desired, set(observed.diff))
        if "tags" in observed.diff:
            self._tag(desired.name, observed.diff["tags"][0], desired.tags)
        return self.observe(desired)

    def delete(self, desired: Desired, observed: Observation, policy: DeletionPolicy) -> None:
        """Delete empties the bucket (every version) and deletes it. Snapshot and Retain keep it with its backups,
        tagged released: the backups are what a final snapshot would be, and the lifecycle rule still expires
        them after the retention."""
        name = observed.outputs["name"]
        if policy != "Delete":
            tags = {t["Key"]: t["Value"] for t in self._get("get_bucket_tagging", name).get("TagSet", [])}
            self.s3.put_bucket_tagging(Bucket=name, Tagging={"TagSet": tag_list({**tags, TAG_RELEASED: "true"})})
            return
        for page in self.s3.get_paginator("list_object_versions").paginate(Bucket=name):
            objects = [{"Key": v["Key"], "VersionId": v["VersionId"]}
                       for v in [*page.get("Versions", []), *page.get("DeleteMarkers", [])]]
            if objects:
                self.s3.delete_objects(Bucket=name, Delete={"Objects": objects, "Quiet": True})
        try:
            self.s3.delete_bucket(Bucket=name)
        except ClientError as e:
            if error_code(e) not in _MISSING:
                raise
        self.names.forget(name)
