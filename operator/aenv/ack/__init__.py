"""Mode ack: the environment written as ACK custom resources; ACK's controllers make the AWS calls.

One module per kind, each an AckClient (resource.py) over one ACK kind. A kind missing here is a component aenv
cannot yet build in this mode: its condition says NotImplemented and it is not counted toward Ready.
"""

from ..aws.component import Registry
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
    secretsmanager_secret,
    sns_alarm_topic,
    sns_subscription,
    sns_topic,
    sqs_queue,
    sqs_queue_policy,
)

CLIENTS = Registry({
    kms_key.KIND: kms_key.KmsKeys,
    sqs_queue.KIND: sqs_queue.SqsQueues,
    sns_topic.KIND: sns_topic.SnsTopics,
    sqs_queue_policy.KIND: sqs_queue_policy.SqsQueuePolicies,
    sns_subscription.KIND: sns_subscription.SnsSubscriptions,
    ec2_security_group.KIND: ec2_security_group.SecurityGroups,
    elasticache_subnet_group.KIND: elasticache_subnet_group.CacheSubnetGroups,
    rds_subnet_group.KIND: rds_subnet_group.DbSubnetGroups,
    secretsmanager_secret.KIND: secretsmanager_secret.SecretsManagerSecrets,
    iam_role.KIND: iam_role.IamRoles,
    apigatewayv2_api.KIND: apigatewayv2_api.WebSocketApis,
    apigatewayv2_stage.KIND: apigatewayv2_stage.WebSocketStages,
    apigatewayv2_domain_name.KIND: apigatewayv2_domain_name.ApiDomainNames,
    sns_alarm_topic.KIND: sns_alarm_topic.SnsAlarmTopics,
    cloudwatch_alarm.KIND: cloudwatch_alarm.CloudWatchAlarms,
    cloudwatch_dashboard.KIND: cloudwatch_dashboard.CloudWatchDashboards,
    elasticache_replication_group.KIND: elasticache_replication_group.ReplicationGroups,
    rds_db_instance.KIND: rds_db_instance.DbInstances,
    logins.KIND: logins.PostgresLogins,  # in the database itself, with the master user, as in mode boto3
})

__all__ = ["CLIENTS"]
