"""The workloads' IAM role (kind iam.role): IRSA trust for one service account, and one inline policy naming only
the environment's resource ARNs (the params that plan/iam.py filled from other resources' outputs).

The cluster's OIDC issuer is an operator setting, not part of a spec: AENV_OIDC_ISSUER (for EKS,
`aws eks describe-cluster --name <cluster> --query cluster.identity.oidc.issuer`). Without it aenv cannot say
whom the role trusts, and reports OidcIssuerMissing instead of creating a role that trusts nothing or too much.

IAM is not covered by the tagging API everywhere (moto lacks it), so the batch listing is ListRoles under the path
/aenv/ (which includes the trust policy); tags and the inline policy are read per role.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from typing import Any
from urllib.parse import unquote

from botocore.exceptions import ClientError

from ..api.spec import DeletionPolicy
from ..naming import TAG_ENVIRONMENT, TAG_RELEASED, TAG_UID
from ..plan.types import Desired, Observation
from . import session
from .component import AwsTarget, Classified
from .errors import AwsError
from .listing import Listing
from .tagging import tags_drifted

KIND = "iam.role"
PATH = "/aenv/"
POLICY_NAME = "aenv-workloads"
OIDC_ISSUER_SETTING = "AENV_OIDC_ISSUER"
# What the workloads may do, per kind of output key the role's params refer to (plan/iam.py).
ACTIONS = {
    "queue": ["sqs:ChangeMessageVisibility", "sqs:DeleteMessage", "sqs:GetQueueAttributes", "sqs:ReceiveMessage",
              "sqs:SendMessage"],
    "topic": ["sns:Publish"],
    "secret": ["secretsmanager:GetSecretValue"],
    "kms": ["kms:Decrypt", "kms:GenerateDataKey"],
    # The gateway workload answers its clients through the API Gateway Management API (PostToConnection).
    "gateway": ["execute-api:ManageConnections"],
}


def _document(value: Any) -> Any:
    """A policy document as IAM returns it (parsed by botocore, or URL-encoded JSON) -> parsed JSON."""
    return json.loads(unquote(value)) if isinstance(value, str) else value


def permissions(params: Mapping[str, Any], partition: str, region: str, account: str) -> dict[str, Any] | None:
    """The inline policy: one statement per kind of resource, each naming its ARNs; None when nothing is granted.
    A gateway's param is the resource part of an execute-api ARN (its stage's connections), which has no ARN of
    its own to take the region and account from."""
    statements = []
    for kind, actions in ACTIONS.items():
        arns = sorted(f"arn:{partition}:execute-api:{region}:{account}:{v}" if kind == "gateway" else str(v)
                      for k, v in params.items() if k.split("/", 1)[0] == kind)
        if arns:
            statements.append({"Sid": kind.capitalize(), "Effect": "Allow", "Action": actions, "Resource": arns})
    return {"Version": "2012-10-17", "Statement": statements} if statements else None


class IamRoles(Classified):
    def __init__(self, target: AwsTarget, oidc_issuer: str | None = None) -> None:
        self.iam = session.client("iam", target.region, target.endpoint)
        self.sts = session.client("sts", target.region, target.endpoint)
        self.region = target.region
        given = os.environ.get(OIDC_ISSUER_SETTING, "") if oidc_issuer is None else oidc_issuer
        self.issuer = given.strip().removeprefix("https://").rstrip("/")
        self.roles = Listing(self._list)
        self._account: tuple[str, str] | None = None  # (partition, account id), from the caller's identity

    def _list(self) -> dict[str, dict[str, Any]]:
        out = {}
        for page in self.iam.get_paginator("list_roles").paginate(PathPrefix=PATH):
            for role in page.get("Roles", []):
                out[role["RoleName"]] = role
        return out

    def _role(self, name: str) -> dict[str, Any] | None:
        return self.roles.get(name)

    def trust_policy(self, subject: str) -> dict[str, Any]:
        """IRSA: only the given service account's web identity tokens, issued by the cluster, for STS."""
        if not self.issuer:
            raise AwsError("OidcIssuerMissing", f"set {OIDC_ISSUER_SETTING} in the operator's environment to the "
                                                "cluster's OIDC issuer, e.g. oidc.eks.us-east-1.amazonaws.com/id/ABC")
        partition, account = self._identity()
        return {"Version": "2012-10-17", "Statement": [{
            "Effect": "Allow",
            "Principal": {"Federated": f"arn:{partition}:iam::{account}:oidc-provider/{self.issuer}"},
            "Action": "sts:AssumeRoleWithWebIdentity",
            "Condition": {"StringEquals": {f"{self.issuer}:sub": subject, f"{self.issuer}:aud": "sts.amazonaws.com"}},
        }]}

    def _identity(self) -> tuple[str, str]:
        """The partition and account id of the caller, whose account the role is made in."""
        if self._account is None:
            arn = self.sts.get_caller_identity()["Arn"]
            self._account = (arn.split(":")[1], arn.split(":")[4])
        return self._account

    def _permissions(self, params: Mapping[str, Any]) -> dict[str, Any] | None:
        partition, account = self._identity()
        return permissions(params, partition, self.region, account)

    def observe(self, desired: Desired) -> Observation:
        role = self._role(desired.name)
        return Observation.absent() if role is None else self._observe(desired, role)

    def _observe(self, desired: Desired, role: Mapping[str, Any]) -> Observation:
        name = desired.name
        try:
            tags = {t["Key"]: t["Value"] for t in self.iam.list_role_tags(RoleName=name).get("Tags", [])}
        except ClientError as e:
            if e.response.get("Error", {}).get("Code") == "NoSuchEntity":  # deleted since the listing
                self.roles.forget(name)
                return Observation.absent()
            raise
        diff: dict[str, tuple[Any, Any]] = {}
        immutable: tuple[str, ...] = ()
        ours = tags.get(TAG_ENVIRONMENT) == desired.tags.get(TAG_ENVIRONMENT)
        if desired.params and ours:  # never read the policies of a role that is not this environment's
            trust = self.trust_policy(desired.params["subject"])
            if _document(role.get("AssumeRolePolicyDocument")) != trust:
                diff["trust_policy"] = (_document(role.get("AssumeRolePolicyDocument")), trust)
            inline, want = self._read_permissions(name), self._permissions(desired.params)
            if inline != want:
                diff["policy"] = (inline, want)
            if role.get("Description", "") != desired.params["description"]:
                diff["description"] = (role.get("Description"), desired.params["description"])
            if tags_drifted(tags, desired.tags):
                diff["tags"] = (tags, dict(desired.tags))
            if role.get("Path") != PATH:
                immutable = ("path",)
        return Observation(
            exists=True, ready=True, up_to_date=not diff, diff=diff, immutable=immutable, state="available",
            outputs={"arn": role["Arn"], "name": name},
            owner=tags.get(TAG_UID), owner_environment=tags.get(TAG_ENVIRONMENT),
        )

    def _read_permissions(self, name: str) -> Any:
        try:
            return _document(self.iam.get_role_policy(RoleName=name, PolicyName=POLICY_NAME)["PolicyDocument"])
        except ClientError as e:
            if e.response.get("Error", {}).get("Code") == "NoSuchEntity":
                return None
            raise

    def create(self, desired: Desired) -> Observation:
        trust = self.trust_policy(desired.params["subject"])
        try:
            role = self.iam.create_role(
                RoleName=desired.name, Path=PATH, AssumeRolePolicyDocument=json.dumps(trust),
                Description=desired.params["description"],
                Tags=[{"Key": k, "Value": v} for k, v in desired.tags.items()])["Role"]
        except ClientError as e:
            if e.response.get("Error", {}).get("Code") != "EntityAlreadyExists":
                raise
            # Made since the listing, or outside /aenv/ where the listing does not look: observe that one.
            role = self.iam.get_role(RoleName=desired.name)["Role"]
            self.roles.put(desired.name, role)
            return self._observe(desired, role)
        self.roles.put(desired.name, {**role, "AssumeRolePolicyDocument": trust})
        if (document := self._permissions(desired.params)) is not None:
            self.iam.put_role_policy(RoleName=desired.name, PolicyName=POLICY_NAME,
                       PolicyDocument=json.dumps(document))
        return self.observe(desired)

    def update(self, desired: Desired, observed: Observation) -> Observation:
        name = desired.name
        role = self._role(name) or {}
        if "trust_policy" in observed.diff:
            trust = observed.diff["trust_policy"][1]
            self.iam.update_assume_role_policy(RoleName=name, PolicyDocument=json.dumps(trust))
            role = {**role, "AssumeRolePolicyDocument": trust}
        if "description" in observed.diff:
            self.iam.update_role_description(RoleName=name, Description=desired.params["description"])
            role = {**role, "Description": desired.params["description"]}
        if "policy" in observed.diff:
            document = self._permissions(desired.params)
            if document is None:
                self._delete_inline_policy(name)
            else:
                self.iam.put_role_policy(RoleName=name, PolicyName=POLICY_NAME,
                           PolicyDocument=json.dumps(document))
        if "tags" in observed.diff:
            self.iam.untag_role(RoleName=name, TagKeys=[TAG_RELEASED])
            self.iam.tag_role(RoleName=name, Tags=[{"Key": k, "Value": v} for k, v in desired.tags.items()])
        if role:
            self.roles.put(name, role)
        return self.observe(desired)

    def _delete_inline_policy(self, name: str) -> None:
        try:
            self.iam.delete_role_policy(RoleName=name, PolicyName=POLICY_NAME)
        except ClientError as e:
            if e.response.get("Error", {}).get("Code") != "NoSuchEntity":
                raise

    def delete(self, desired: Desired, observed: Observation, policy: DeletionPolicy) -> None:
        name = desired.name
        if policy == "Retain":
            self.iam.tag_role(RoleName=name, Tags=[{"Key": TAG_RELEASED, "Value": "true"}])
            return
        # Snapshot: a role holds no data. IAM refuses to delete a role with policies: the inline one goes first
        # (policies attached by hand make delete_role fail with DeleteConflict, reported to the user).
        self._delete_inline_policy(name)
        self.iam.delete_role(RoleName=name)
        self.roles.forget(name)
