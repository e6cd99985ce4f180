"""The workloads' IAM role in mode ack (kind iam.role): an iam Role CR with mode boto3's trust policy (IRSA for the
workloads' ServiceAccount) and its inline policy naming only this environment's ARNs (the Role CRD holds inline
policies itself: spec.inlinePolicies, no Policy kind needed). Path /aenv/, tags and outputs (arn, name) as in
mode boto3.

The trust policy names the cluster's OIDC provider, `arn:<partition>:iam::<account>:oidc-provider/<issuer>`. The
issuer is the operator's setting AENV_OIDC_ISSUER, as in mode boto3. Mode boto3 asks STS for the account; mode ack
has no AWS credentials, so the account and partition come from the ARNs the role grants (this environment's
resources, made by ACK in its account), else from the operator's setting AENV_AWS_ACCOUNT_ID.
"""

from __future__ import annotations

import json
import os
from typing import Any

from ..aws.component import AwsTarget
from ..aws.errors import AwsError
from ..aws.iam_role import OIDC_ISSUER_SETTING, PATH, POLICY_NAME, permissions
from ..naming import EnvironmentRef
from ..plan.types import Desired
from .resource import AckClient, AckKind

KIND = "iam.role"
ACCOUNT_SETTING = "AENV_AWS_ACCOUNT_ID"


def partition_of(region: str) -> str:
    if region.startswith("cn-"):
        return "aws-cn"
    return "aws-us-gov" if region.startswith("us-gov-") else "aws"


def account(params: dict[str, Any], region: str, setting: str) -> tuple[str, str]:
    """(partition, account id) of the role: from an ARN it grants, else from the operator's setting."""
    for value in params.values():
        parts = str(value).split(":")
        if len(parts) > 4 and parts[0] == "arn" and parts[4].isdigit():
            return parts[1], parts[4]
    if setting.strip().isdigit():
        return partition_of(region), setting.strip()
    raise AwsError("AwsAccountUnknown", f"the role grants no ARN to learn the AWS account from: set {ACCOUNT_SETTING} "
                                        "in the operator's environment to the account the ACK controllers use")


def trust_policy(issuer: str, partition: str, account_id: str, subject: str) -> dict[str, Any]:
    """IRSA, as mode boto3 writes it (aws/iam_role.IamRoles.trust_policy)."""
    return {"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow",
        "Principal": {"Federated": f"arn:{partition}:iam::{account_id}:oidc-provider/{issuer}"},
        "Action": "sts:AssumeRoleWithWebIdentity",
        "Condition": {"StringEquals": {f"{issuer}:sub": subject, f"{issuer}:aud": "sts.amazonaws.com"}},
    }]}


class IamRoles(AckClient):
    KIND = AckKind("iam", "Role")

    def __init__(self, target: AwsTarget, oidc_issuer: str | None = None, account_id: str | None = None) -> None:
        super().__init__(target)
        given = os.environ.get(OIDC_ISSUER_SETTING, "") if oidc_issuer is None else oidc_issuer
        self.issuer = given.strip().removeprefix("https://").rstrip("/")
        self.account_id = os.environ.get(ACCOUNT_SETTING, "") if account_id is None else account_id

    def spec(self, desired: Desired, env: EnvironmentRef) -> dict[str, Any]:
        if not self.issuer:
            raise AwsError("OidcIssuerMissing", f"set {OIDC_ISSUER_SETTING} in the operator's environment to the "
                                                "cluster's OIDC issuer, e.g. oidc.eks.us-east-1.amazonaws.com/id/ABC")
        p = desired.params
        partition, account_id = account(dict(p), self.region, self.account_id)
        spec: dict[str, Any] = {
            "name": desired.name,
            "path": PATH,
            "description": p["description"],
            "assumeRolePolicyDocument": json.dumps(trust_policy(self.issuer, partition, account_id, p["subject"]),
                                                   separators=(",", ":")),
            "tags": [{"key": k, "value": v} for k, v in desired.tags.items()],
        }
        document = permissions(p, partition, self.region, account_id)
        if document is not None:  # left out, not empty: removing aenv's field makes ACK delete the policy
            spec["inlinePolicies"] = {POLICY_NAME: json.dumps(document, separators=(",", ":"))}
        return spec
