"""Mode boto3: one module per AWS component, each behind the interface in component.py."""

import functools
from collections.abc import Callable

from ..dataplane import logins
from . import (
    apigatewayv2_api,
    apigatewayv2_domain_name,
    apigatewayv2_stage,
    cloudwatch_alarm,
    cloudwatch_dashboard,
    ec2_security_group,
    elasticache_replication_group,
    elasticache_subnet_group,
    iam_role,
    kms_key,
    rds_db_instance,
    rds_subnet_group,
    s3_bucket,
    secretsmanager_secret,
    sns_alarm_topic,
    sns_subscription,
    sns_topic,
    sqs_queue,
    sqs_queue_policy,
)
from .component import AwsTarget, ClientFactory, Registry, ResourceClient
from .vpc import Network


def registry() -> Registry:
    """Mode boto3's clients by kind. A kind missing here is a component aenv cannot yet build in this mode.

    The clients that place resources in the network (security groups, subnet groups) share one listing of it
    per target, which lives as long as the registry; a client made on its own lists the network itself."""
    network = functools.cache(Network.of)

    def placed(make: Callable[[AwsTarget, Network], ResourceClient]) -> ClientFactory:
        return lambda target: make(target, network(target))

    return Registry({
        ec2_security_group.KIND: placed(ec2_security_group.SecurityGroups),
        elasticache_subnet_group.KIND: placed(elasticache_subnet_group.CacheSubnetGroups),
        rds_subnet_group.KIND: placed(rds_subnet_group.DbSubnetGroups),
        kms_key.KIND: kms_key.KmsKeys,
        secretsmanager_secret.KIND: secretsmanager_secret.SecretsManagerSecrets,
        elasticache_replication_group.KIND: elasticache_replication_group.ElastiCacheReplicationGroups,
        rds_db_instance.KIND: rds_db_instance.RdsDbInstances,
        sqs_queue.KIND: sqs_queue.SqsQueues,
        sns_topic.KIND: sns_topic.SnsTopics,
        sqs_queue_policy.KIND: sqs_queue_policy.SqsQueuePolicies,
        sns_subscription.KIND: sns_subscription.SnsSubscriptions,
        apigatewayv2_api.KIND: apigatewayv2_api.WebSocketApis,
        apigatewayv2_stage.KIND: apigatewayv2_stage.WebSocketStages,
        apigatewayv2_domain_name.KIND: apigatewayv2_domain_name.ApiDomainNames,
        sns_alarm_topic.KIND: sns_alarm_topic.SnsAlarmTopics,
        cloudwatch_alarm.KIND: cloudwatch_alarm.CloudWatchAlarms,
        cloudwatch_dashboard.KIND: cloudwatch_dashboard.CloudWatchDashboards,
        iam_role.KIND: iam_role.IamRoles,
        s3_bucket.KIND: s3_bucket.S3Buckets,
        logins.KIND: logins.PostgresLogins,  # in the database itself, with the master user
    })


CLIENTS = registry()

__all__ = ["CLIENTS", "AwsTarget", "ClientFactory", "Registry", "ResourceClient", "registry"]
