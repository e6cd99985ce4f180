"""The IAM policy the operator needs in mode boto3 (`aenv iam-policy`): every AWS operation aenv makes, on resources
named `aenv-*` where the service names resources in ARNs, and on resources carrying aenv's tags where it does not
(KMS keys, EC2 security groups). Resource `*` only for the calls AWS does not scope (UNSCOPED, each with why), and
every other resource not named `aenv-*` is listed with why (NOT_NAMED).

The integration suite records the operations its operators made (their aenv_aws_requests metric) and fails when an
action they needed is missing here (tests/integration/conftest.py).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import cache
from typing import Any

import botocore.session

from .naming import TAG_ENVIRONMENT

NAME = "aenv-*"
TAGGED = {"Null": {f"aws:ResourceTag/{TAG_ENVIRONMENT}": "false"}}  # the resource carries aenv's tag
TAGGING = {"Null": {f"aws:RequestTag/{TAG_ENVIRONMENT}": "false"}}  # the create call tags it as aenv's


@dataclass(frozen=True)
class Statement:
    sid: str
    actions: tuple[str, ...]
    resources: tuple[str, ...] = ("*",)
    condition: dict[str, Any] = field(default_factory=dict)

    def render(self, partition: str, account: str) -> dict[str, Any]:
        out: dict[str, Any] = {
            "Sid": self.sid, "Effect": "Allow", "Action": sorted(self.actions),
            "Resource": [r.format(p=partition, a=account) for r in self.resources]
            if self.resources != ("*",) else "*"}
        if self.condition:
            out["Condition"] = self.condition
        return out


def _arn(service: str, resource: str, region: str = "*") -> str:
    return f"arn:{{p}}:{service}:{region}:{{a}}:{resource}"


# The actions granted on Resource "*", each with why AWS allows no narrower resource for it (the service
# authorization reference: an action without resource types takes "*" only; a list or describe call without an
# identifier is authorized on every resource of its type, which aenv's one listing call per interval is).
UNSCOPED = {
    "sts:GetCallerIdentity": "no resource types: it names the caller",
    "tag:GetResources": "no resource types: searches the account by tag (aenv's tags)",
    "ec2:DescribeVpcs": "EC2's Describe actions take no resource-level permissions",
    "ec2:DescribeSubnets": "EC2's Describe actions take no resource-level permissions",
    "ec2:DescribeSecurityGroups": "EC2's Describe actions take no resource-level permissions",
    "ec2:DescribeTags": "EC2's Describe actions take no resource-level permissions",
    "ec2:DescribeAvailabilityZones": "EC2's Describe actions take no resource-level permissions",
    "sqs:ListQueues": "no resource types (aenv lists with the prefix aenv-)",
    "sns:ListTopics": "no resource types",
    "sns:ListSubscriptions": "no resource types",
    "kms:ListAliases": "no resource types",
    "kms:ListKeys": "no resource types",
    "elasticache:DescribeReplicationGroups": "a listing without an identifier: every replication group",
    "elasticache:DescribeCacheClusters": "a listing without an identifier: every cluster",
    "elasticache:DescribeCacheSubnetGroups": "a listing without an identifier: every subnet group",
    "elasticache:DescribeSnapshots": "a listing without an identifier: every snapshot",
    "elasticache:DescribeEvents": "no resource types",
    "rds:DescribeDBInstances": "a listing without an identifier: every instance",
    "rds:DescribeDBSubnetGroups": "a listing without an identifier: every subnet group",
    "rds:DescribeDBSnapshots": "a listing without an identifier: every snapshot (fromSnapshot names any)",
    "secretsmanager:ListSecrets": "no resource types (aenv lists with the name filter aenv-)",
    "secretsmanager:GetRandomPassword": "no resource types",
    "cloudwatch:DescribeAlarms": "a listing without alarm names: every alarm",
    "cloudwatch:ListDashboards": "no resource types",
    "cloudwatch:GetMetricData": "no resource types",
    "iam:ListRoles": "no resource types",
    "s3:ListAllMyBuckets": "no resource types",
    "elasticloadbalancing:DescribeLoadBalancers": "ELB's Describe actions take no resource-level permissions",
    "elasticloadbalancing:DescribeListeners": "ELB's Describe actions take no resource-level permissions",
    "elasticloadbalancing:DescribeRules": "ELB's Describe actions take no resource-level permissions",
    "elasticloadbalancing:DescribeTargetGroups": "ELB's Describe actions take no resource-level permissions",
    "elasticloadbalancing:DescribeTags": "ELB's Describe actions take no resource-level permissions",
}
# The resources (an ARN's part after the account) granted that are not named aenv-* and carry no condition on
# aenv's tags, each with why.
NOT_NAMED = {
    "vpc/*": "the VPC a security group is created in is the user's (spec.network), never aenv's",
    "parametergroup:*": "AWS's default parameter groups, which a replication group is created with",
    "securitygroup:*": "ElastiCache's (EC2-Classic) security groups, which CreateReplicationGroup is checked on",
    "user:*": "ElastiCache's default user, which CreateReplicationGroup is checked on",
    "usergroup:*": "ElastiCache's user groups, which CreateReplicationGroup is checked on",
    "pg:*": "AWS's default DB parameter groups, which an instance is created with",
    "og:*": "AWS's default option groups, which an instance is created with",
    "secgrp:*": "RDS's DB security groups, which CreateDBInstance is checked on",
    "snapshot:*": "spec.database.fromSnapshot names any snapshot of the account, only read and copied",
    "/apis": "API Gateway's ids are generated: the collection path is where an API is created",
    "/apis/*": "API Gateway's ids are generated: its APIs, stages and routes are paths under /apis",
    "/domainnames": "the collection path where a custom domain name is created",
    "/domainnames/*": "custom domain names are the user's (spec.gateway.domain), never aenv-*",
    "/tags/*": "API Gateway tags a resource by its ARN under /tags",
    "role/aws-service-role/elasticache.amazonaws.com/*": "ElastiCache's service-linked role, made once per account",
    "role/aws-service-role/rds.amazonaws.com/*": "RDS's service-linked role, made once per account",
}


ALIAS_ACTIONS = ("kms:CreateAlias", "kms:UpdateAlias", "kms:DeleteAlias")


def resource_part(arn: str) -> str:
    """What an ARN names within its service and account: `arn:aws:rds:*:1:db:aenv-*` -> `db:aenv-*`."""
    return arn.split(":", 5)[5]


STATEMENTS = (
    Statement("Read", tuple(UNSCOPED)),
    Statement("Queues", (
        "sqs:CreateQueue", "sqs:DeleteQueue", "sqs:GetQueueAttributes", "sqs:GetQueueUrl", "sqs:SetQueueAttributes",
        "sqs:ListQueueTags", "sqs:TagQueue", "sqs:UntagQueue"), (_arn("sqs", NAME),)),
    # Drift on events: aenv's EventBridge rule for CloudTrail's management events, and the queue it consumes.
    Statement("DriftEvents", ("events:PutRule", "events:PutTargets", "events:TagResource"),
              (_arn("events", f"rule/{NAME}"),)),
    Statement("DriftQueue", ("sqs:ReceiveMessage", "sqs:DeleteMessage"), (_arn("sqs", NAME),)),
    Statement("Topics", (
        "sns:CreateTopic", "sns:DeleteTopic", "sns:GetTopicAttributes", "sns:SetTopicAttributes",
        "sns:Subscribe", "sns:Unsubscribe", "sns:GetSubscriptionAttributes", "sns:SetSubscriptionAttributes",
        "sns:ListTagsForResource", "sns:TagResource", "sns:UntagResource",
        "sns:Publish"), (_arn("sns", NAME),)),  # notifications to the alarm topic's email subscribers
    Statement("KeysCreate", ("kms:CreateKey",), condition=TAGGING),
    Statement("Keys", (
        "kms:DescribeKey", "kms:EnableKey", "kms:EnableKeyRotation", "kms:DisableKeyRotation",
        "kms:GetKeyRotationStatus", "kms:ScheduleKeyDeletion", "kms:CancelKeyDeletion", "kms:UpdateKeyDescription",
        "kms:ListResourceTags", "kms:TagResource", "kms:UntagResource",
        # What the services that encrypt with the key (RDS, ElastiCache, Secrets Manager) ask of the caller.
        "kms:CreateGrant", "kms:Decrypt", "kms:GenerateDataKey", "kms:Encrypt"),
        (_arn("kms", "key/*"),), TAGGED),
    # An alias call is checked on the alias and on the key it points at: aliases have no tags, keys have aenv's.
    Statement("KeyAliases", ALIAS_ACTIONS, (_arn("kms", f"alias/{NAME}"),)),
    Statement("KeyAliasTargets", ALIAS_ACTIONS, (_arn("kms", "key/*"),), TAGGED),
    Statement("SecurityGroupsCreateIn", ("ec2:CreateSecurityGroup",), (_arn("ec2", "vpc/*"),)),
    Statement("SecurityGroupsCreate", ("ec2:CreateSecurityGroup",), (_arn("ec2", "security-group/*"),), TAGGING),
    Statement("SecurityGroupsTagOnCreate", ("ec2:CreateTags",), (_arn("ec2", "security-group/*"),),
              {"StringEquals": {"ec2:CreateAction": "CreateSecurityGroup"}, **TAGGING}),
    Statement("SecurityGroups", (
        "ec2:AuthorizeSecurityGroupIngress", "ec2:RevokeSecurityGroupIngress", "ec2:RevokeSecurityGroupEgress",
        "ec2:DeleteSecurityGroup", "ec2:CreateTags", "ec2:DeleteTags"), (_arn("ec2", "security-group/*"),), TAGGED),
    Statement("Cache", (
        "elasticache:CreateReplicationGroup", "elasticache:ModifyReplicationGroup",
        "elasticache:DeleteReplicationGroup", "elasticache:IncreaseReplicaCount", "elasticache:DecreaseReplicaCount",
        "elasticache:CreateCacheSubnetGroup", "elasticache:ModifyCacheSubnetGroup",
        "elasticache:DeleteCacheSubnetGroup", "elasticache:CreateSnapshot", "elasticache:CreateCacheCluster",
        "elasticache:ListTagsForResource", "elasticache:AddTagsToResource", "elasticache:RemoveTagsFromResource"),
        (_arn("elasticache", f"replicationgroup:{NAME}"), _arn("elasticache", f"cluster:{NAME}"),
         _arn("elasticache", f"subnetgroup:{NAME}"), _arn("elasticache", f"snapshot:{NAME}"),
         _arn("elasticache", "parametergroup:*"), _arn("elasticache", "securitygroup:*"),
         _arn("elasticache", "user:*"), _arn("elasticache", "usergroup:*"))),
    Statement("Database", (
        "rds:CreateDBInstance", "rds:ModifyDBInstance", "rds:DeleteDBInstance", "rds:CreateDBSnapshot",
        "rds:DeleteDBSnapshot", "rds:CreateDBSubnetGroup", "rds:ModifyDBSubnetGroup", "rds:DeleteDBSubnetGroup",
        "rds:ListTagsForResource", "rds:AddTagsToResource", "rds:RemoveTagsFromResource"),
        (_arn("rds", f"db:{NAME}"), _arn("rds", f"subgrp:{NAME}"), _arn("rds", f"snapshot:{NAME}"),
         _arn("rds", "pg:*"), _arn("rds", "og:*"), _arn("rds", "secgrp:*"))),
    # spec.database.fromSnapshot names any snapshot of the account: it is read from, copied into an aenv-* copy
    # under the environment's key, and an aenv-* instance restored from that.
    Statement("DatabaseRestore", ("rds:CopyDBSnapshot", "rds:RestoreDBInstanceFromDBSnapshot"),
              (_arn("rds", "snapshot:*"), _arn("rds", f"db:{NAME}"), _arn("rds", f"subgrp:{NAME}"),
               _arn("rds", "pg:*"), _arn("rds", "og:*"))),
    # The backups' bucket and what the operator writes, reads and restores from it (SSE-KMS: kms:GenerateDataKey
    # and kms:Decrypt on the key, granted under Keys).
    Statement("Backups", (
        "s3:CreateBucket", "s3:DeleteBucket", "s3:GetBucketTagging", "s3:PutBucketTagging",
        "s3:GetBucketVersioning", "s3:PutBucketVersioning", "s3:GetBucketPublicAccessBlock",
        "s3:PutBucketPublicAccessBlock", "s3:GetEncryptionConfiguration", "s3:PutEncryptionConfiguration",
        "s3:GetLifecycleConfiguration", "s3:PutLifecycleConfiguration", "s3:ListBucket", "s3:ListBucketVersions",
        "s3:PutObject", "s3:GetObject", "s3:DeleteObject", "s3:DeleteObjectVersion", "s3:AbortMultipartUpload"),
        ("arn:{p}:s3:::" + NAME, "arn:{p}:s3:::" + NAME + "/*")),
    Statement("ServiceLinkedRoles", ("iam:CreateServiceLinkedRole",),
              ("arn:{p}:iam::{a}:role/aws-service-role/elasticache.amazonaws.com/*",
               "arn:{p}:iam::{a}:role/aws-service-role/rds.amazonaws.com/*"),
              condition={"StringEquals": {"iam:AWSServiceName": ["elasticache.amazonaws.com", "rds.amazonaws.com"]}}),
    Statement("Secrets", (
        "secretsmanager:CreateSecret", "secretsmanager:DeleteSecret", "secretsmanager:RestoreSecret",
        "secretsmanager:DescribeSecret", "secretsmanager:GetSecretValue", "secretsmanager:PutSecretValue",
        "secretsmanager:UpdateSecret", "secretsmanager:UpdateSecretVersionStage",
        "secretsmanager:TagResource", "secretsmanager:UntagResource"), (_arn("secretsmanager", f"secret:{NAME}"),)),
    Statement("Monitoring", (
        "cloudwatch:PutMetricAlarm", "cloudwatch:DeleteAlarms", "cloudwatch:PutDashboard", "cloudwatch:GetDashboard",
        "cloudwatch:DeleteDashboards", "cloudwatch:ListTagsForResource", "cloudwatch:TagResource",
        "cloudwatch:UntagResource"),
        (_arn("cloudwatch", f"alarm:{NAME}"), _arn("cloudwatch", f"dashboard/{NAME}", ""))),
    Statement("WorkloadRoles", (
        "iam:CreateRole", "iam:DeleteRole", "iam:GetRole", "iam:UpdateAssumeRolePolicy", "iam:UpdateRoleDescription",
        "iam:PutRolePolicy", "iam:GetRolePolicy", "iam:DeleteRolePolicy", "iam:ListRolePolicies",
        "iam:ListRoleTags", "iam:TagRole", "iam:UntagRole"), ("arn:{p}:iam::{a}:role/aenv/" + NAME,)),
    # API Gateway's IAM actions are its HTTP methods on resource paths; its ids are generated, so the paths are the
    # scope: the APIs, their parts, custom domain names and tags.
    Statement("Gateway", (
        "apigateway:GET", "apigateway:POST", "apigateway:PUT", "apigateway:PATCH", "apigateway:DELETE",
        "apigateway:TagResource", "apigateway:UntagResource"),
        ("arn:{p}:apigateway:*::/apis", "arn:{p}:apigateway:*::/apis/*", "arn:{p}:apigateway:*::/domainnames",
         "arn:{p}:apigateway:*::/domainnames/*", "arn:{p}:apigateway:*::/tags/*")),
)

# boto3's service ids (as in the aenv_aws_requests metric) -> IAM's action prefixes, where they differ.
PREFIXES = {"secrets-manager": "secretsmanager", "resource-groups-tagging-api": "tag",
            "elastic-load-balancing-v2": "elasticloadbalancing", "apigatewayv2": "apigateway",
            "eventbridge": "events"}
# S3's operations whose IAM action has another name (the others share their operation's name).
S3_ACTIONS = {
    "ListBuckets": "ListAllMyBuckets", "HeadBucket": "ListBucket", "ListObjectsV2": "ListBucket",
    "ListObjectVersions": "ListBucketVersions", "GetPublicAccessBlock": "GetBucketPublicAccessBlock",
    "PutPublicAccessBlock": "PutBucketPublicAccessBlock", "GetBucketEncryption": "GetEncryptionConfiguration",
    "PutBucketEncryption": "PutEncryptionConfiguration",
    "GetBucketLifecycleConfiguration": "GetLifecycleConfiguration",
    "PutBucketLifecycleConfiguration": "PutLifecycleConfiguration", "HeadObject": "GetObject",
    "DeleteObjects": "DeleteObject", "CreateMultipartUpload": "PutObject", "UploadPart": "PutObject",
    "CompleteMultipartUpload": "PutObject",
}


def document(partition: str = "aws", account: str = "*") -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": [s.render(partition, account) for s in STATEMENTS]}


def render(partition: str = "aws", account: str = "*") -> str:
    return json.dumps(document(partition, account), indent=2) + "\n"


def actions() -> set[str]:
    return {a for s in STATEMENTS for a in s.actions}


# Batch operations authorized by their single form's action.
BATCH_ACTIONS = {("sqs", "DeleteMessageBatch"): "DeleteMessage"}


def action_of(service: str, operation: str) -> str:
    """The IAM action of one request by boto3's service id and operation: `sqs:CreateQueue`; API Gateway's is the
    operation's HTTP method (`apigateway:POST`)."""
    prefix = PREFIXES.get(service, service)
    operation = BATCH_ACTIONS.get((prefix, operation), operation)
    if prefix == "apigateway":
        return f"apigateway:{_http_method(service, operation)}"
    if prefix == "s3":
        return f"s3:{S3_ACTIONS.get(operation, operation)}"
    return f"{prefix}:{operation}"


@cache
def _http_method(service: str, operation: str) -> str:
    method: str = botocore.session.get_session().get_service_model(service).operation_model(operation).http["method"]
    return method
