"""The acceptance test of the AWS side: examples/env-prod.yaml on moto.

It becomes Ready with every component present and configured as the platform expects — checked by describing the
resources in moto with boto3, not by reading status — an idle operator changes nothing, and deleting it with its
deletionPolicy (Snapshot) leaves exactly what that policy promises.
"""

from __future__ import annotations

import base64
import contextlib
import copy
import json
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
import yaml
from kubernetes.client.rest import ApiException

from aenv.api import GROUP
from aenv.aws.elasticache_replication_group import final_snapshot_name
from aenv.drift.settings import DEFAULT_CHANNEL
from aenv.local.devenv import OIDC_ISSUER
from aenv.local.emulator import AwsEmulator
from aenv.local.processes import wait_for
from aenv.naming import TAG_COMPONENT, TAG_ENVIRONMENT, TAG_RELEASED, TAG_UID
from aenv.plan.monitoring import CACHE, DEAD_LETTERS, QUEUE, TAG_PRIORITY, Threshold

from .conftest import Operator
from .kube import Kube

REPO = Path(__file__).resolve().parents[2]
REGION = "us-east-1"
NAME = "defi"
READY_DEADLINE = 180.0
FINALIZER = f"{GROUP}/finalizer"
KEY_SPEC = "SYMMETRIC_DEFAULT"
# The components the example asks for that aenv builds; each has a <Component>Ready condition.
COMPONENTS = ("Network", "Encryption", "Secrets", "Cache", "Database", "Queues", "Topics", "Gateway", "Monitoring",
              "Iam")
QUEUES = {"events": ("events", 60), "trades": ("trades.fifo", 30), "notifications": ("notifications", 30)}
DLQS = {"events": "events-dlq", "trades": "trades-dlq.fifo", "notifications": "notifications-dlq"}
ROUTES = {"$connect", "$disconnect", "$default", "subscribe", "unsubscribe", "ping"}
DOMAIN = "ws.analytics.example.com"
ACK_TAG_PREFIX = "services.k8s.aws/"
CERTIFICATE = "arn:aws:acm:us-east-1:123456789012:certificate/0f1e2d3c-4b5a-6978-8a9b-0c1d2e3f4a5b"
SECRETS = ("cache-auth", "database", "database-login", "jwt", "api-key-partners", "api-key-internal")
CONNECTION_KEYS = {"CACHE_URL", "DATABASE_URL", "QUEUE_EVENTS_URL", "TOPIC_ALERTS_ARN", "GATEWAY_URL", "JWT_SECRET",
                   "API_KEY_PARTNERS"}


def boto(emulator: AwsEmulator, service: str) -> Any:
    session: Any = boto3.session.Session()  # `service` is any name: the typed overloads do not apply
    return session.client(service, region_name=REGION, endpoint_url=emulator.url,
                          aws_access_key_id="testing", aws_secret_access_key="testing")


class Aws:
    """boto3 clients on moto, one per service, with the lookups the assertions need."""

    def __init__(self, emulator: AwsEmulator) -> None:
        self.ec2, self.kms, self.sm = boto(emulator, "ec2"), boto(emulator, "kms"), boto(emulator, "secretsmanager")
        self.elasticache, self.rds = boto(emulator, "elasticache"), boto(emulator, "rds")
        self.sqs, self.sns, self.api = boto(emulator, "sqs"), boto(emulator, "sns"), boto(emulator, "apigatewayv2")
        self.cw, self.iam, self.s3 = boto(emulator, "cloudwatch"), boto(emulator, "iam"), boto(emulator, "s3")
        self.tagging = boto(emulator, "resourcegroupstaggingapi")

    def private_network(self) -> tuple[str, list[str]]:
        """A VPC with three private subnets, one per availability zone, as the example expects to find."""
        vpc = self.ec2.create_vpc(CidrBlock="10.40.0.0/16")["Vpc"]["VpcId"]
        subnets = [self.ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.40.{i}.0/24", AvailabilityZone=f"{REGION}{az}")
                   ["Subnet"]["SubnetId"] for i, az in enumerate("abc", 1)]
        return vpc, sorted(subnets)

    def security_groups(self, prefix: str) -> dict[str, dict[str, Any]]:
        groups = self.ec2.describe_security_groups(Filters=[{"Name": "group-name", "Values": [f"{prefix}-*"]}])
        return {g["GroupName"]: g for g in groups["SecurityGroups"]}

    def queue_urls(self, prefix: str) -> dict[str, str]:
        urls = self.sqs.list_queues(QueueNamePrefix=prefix).get("QueueUrls", [])
        return {u.rsplit("/", 1)[-1]: u for u in urls}

    def queue(self, prefix: str, name: str) -> dict[str, str]:
        url = self.sqs.get_queue_url(QueueName=f"{prefix}-{name}")["QueueUrl"]
        attrs: dict[str, str] = self.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
        return attrs

    def topics(self, prefix: str) -> dict[str, str]:
        arns = [t["TopicArn"] for p in self.sns.get_paginator("list_topics").paginate() for t in p["Topics"]]
        return {a.rsplit(":", 1)[-1]: a for a in arns if a.rsplit(":", 1)[-1].startswith(prefix)}

    def apis(self, prefix: str) -> list[dict[str, Any]]:
        return [a for a in self.api.get_apis()["Items"] if a["Name"].startswith(prefix)]

    def domains(self) -> list[str]:
        return [d["DomainName"] for d in self.api.get_domain_names()["Items"]]

    def alarms(self, prefix: str) -> dict[str, dict[str, Any]]:
        found = self.cw.describe_alarms(AlarmNamePrefix=prefix, AlarmTypes=["MetricAlarm"])["MetricAlarms"]
        return {a["AlarmName"]: a for a in found}

    def dashboards(self, prefix: str) -> list[str]:
        return [d["DashboardName"] for d in self.cw.list_dashboards(DashboardNamePrefix=prefix)["DashboardEntries"]]

    def roles(self) -> list[str]:
        return [r["RoleName"] for r in self.iam.list_roles(PathPrefix="/aenv/")["Roles"]]

    def secrets(self, prefix: str) -> dict[str, dict[str, Any]]:
        pages = self.sm.get_paginator("list_secrets").paginate(
            Filters=[{"Key": "name", "Values": [prefix]}], IncludePlannedDeletion=True)
        return {s["Name"]: s for p in pages for s in p["SecretList"]}

    def secret_value(self, name: str) -> str:
        return str(self.sm.get_secret_value(SecretId=name)["SecretString"])

    def keys(self) -> list[dict[str, Any]]:
        ids = [k["KeyId"] for p in self.kms.get_paginator("list_keys").paginate() for k in p["Keys"]]
        return [self.kms.describe_key(KeyId=i)["KeyMetadata"] for i in ids]

    def key_tags(self, key_id: str) -> dict[str, str]:
        return {t["TagKey"]: t["TagValue"] for t in self.kms.list_resource_tags(KeyId=key_id)["Tags"]}

    def aliases(self) -> dict[str, str]:
        found = self.kms.list_aliases()["Aliases"]
        return {a["AliasName"]: a.get("TargetKeyId", "") for a in found if a["AliasName"].startswith("alias/aenv-")}

    def replication_group(self, group_id: str) -> dict[str, Any] | None:
        groups = self.elasticache.describe_replication_groups()["ReplicationGroups"]
        return next((g for g in groups if g["ReplicationGroupId"] == group_id), None)

    def db_instances(self, prefix: str) -> dict[str, dict[str, Any]]:
        found = self.rds.describe_db_instances()["DBInstances"]
        return {i["DBInstanceIdentifier"]: i for i in found if i["DBInstanceIdentifier"].startswith(prefix)}

    def tagged(self) -> dict[str, dict[str, str]]:
        """ARN -> tags of every resource the tagging API shows with an aenv environment tag."""
        pages = self.tagging.get_paginator("get_resources").paginate(TagFilters=[{"Key": TAG_ENVIRONMENT}])
        return {r["ResourceARN"]: {t["Key"]: t["Value"] for t in r.get("Tags", [])}
                for p in pages for r in p["ResourceTagMappingList"]}

    def buckets(self, prefix: str) -> dict[str, dict[str, str]]:
        """Bucket name -> tags."""
        return {b["Name"]: {t["Key"]: t["Value"] for t in self.s3.get_bucket_tagging(Bucket=b["Name"])["TagSet"]}
                for b in self.s3.list_buckets()["Buckets"] if b["Name"].startswith(prefix)}

    def counts(self, prefix: str) -> Counter[str]:
        """How many of each kind of resource the environment has in moto: a duplicate shows as a higher count."""
        n: Counter[str] = Counter()
        n["security groups"] = len(self.security_groups(prefix))
        n["cache subnet groups"] = sum(g["CacheSubnetGroupName"].startswith(prefix) for g in
                                       self.elasticache.describe_cache_subnet_groups()["CacheSubnetGroups"])
        n["db subnet groups"] = sum(g["DBSubnetGroupName"].startswith(prefix) for g in
                                    self.rds.describe_db_subnet_groups()["DBSubnetGroups"])
        n["kms keys"] = len(self.keys())
        n["kms aliases"] = len(self.aliases())
        n["secrets"] = len(self.secrets(prefix))
        n["secret versions"] = sum(len(s.get("SecretVersionsToStages", {})) for s in self.secrets(prefix).values())
        n["replication groups"] = sum(g["ReplicationGroupId"].startswith(prefix) for g in
                                      self.elasticache.describe_replication_groups()["ReplicationGroups"])
        n["db instances"] = len(self.db_instances(prefix))
        n["buckets"] = len(self.buckets(prefix))
        n["queues"] = len(self.queue_urls(prefix))
        n["topics"] = len(self.topics(prefix))
        n["subscriptions"] = len(self.sns.list_subscriptions()["Subscriptions"])
        apis = self.apis(prefix)
        n["apis"] = len(apis)
        for api in apis:
            n["routes"] += len(self.api.get_routes(ApiId=api["ApiId"])["Items"])
            n["integrations"] += len(self.api.get_integrations(ApiId=api["ApiId"])["Items"])
            n["stages"] += len(self.api.get_stages(ApiId=api["ApiId"])["Items"])
        n["domain names"] = len(self.domains())
        n["api mappings"] = sum(len(self.api.get_api_mappings(DomainName=d)["Items"]) for d in self.domains())
        n["alarms"] = len(self.alarms(prefix))
        n["dashboards"] = len(self.dashboards(prefix))
        n["roles"] = len(self.roles())
        n["role policies"] = sum(len(self.iam.list_role_policies(RoleName=r)["PolicyNames"]) for r in self.roles())
        return n


@pytest.fixture
def aws(emulator: AwsEmulator) -> Aws:
    return Aws(emulator)


@pytest.fixture
def prod(kube: Kube, namespace: str) -> Iterator[str]:
    """The namespace the example goes in. After the test the environment is deleted, and awaited as long as a prod
    deletion takes (final snapshots first)."""
    yield namespace
    with contextlib.suppress(ApiException):  # 404: gone meanwhile
        kube.delete_env(namespace, NAME)
    wait_for(lambda: kube.env_gone(namespace, NAME), READY_DEADLINE, f"{namespace}/{NAME} to be gone")


def prod_spec(vpc: str, subnets: list[str]) -> dict[str, Any]:
    """examples/env-prod.yaml, placed in the VPC and subnets made in moto."""
    example = yaml.safe_load((REPO / "examples" / "env-prod.yaml").read_text())
    assert example["metadata"]["name"] == NAME
    spec: dict[str, Any] = copy.deepcopy(example["spec"])
    spec["aws"] |= {"vpcId": vpc, "subnetIds": subnets}
    return spec


def create_prod(kube: Kube, aws: Aws, namespace: str, spec: Callable[[str, list[str]], dict[str, Any]] = prod_spec,
                ) -> tuple[dict[str, Any], tuple[str, list[str]]]:
    """The example in a private network of its own, Ready; prints how long that took."""
    vpc_subnets = aws.private_network()
    start = time.monotonic()
    body = spec(*vpc_subnets)
    kube.create_env(namespace, NAME, body)
    env = kube.wait_condition(namespace, NAME, "Ready", timeout=READY_DEADLINE)
    print(f"examples/env-prod.yaml in mode {body['aws']['mode']}: Ready in {time.monotonic() - start:.1f} s")
    return env, vpc_subnets


def secret_data(kube: Kube, namespace: str, name: str) -> dict[str, str]:
    secret = kube.core.read_namespaced_secret(name, namespace)
    return {k: base64.b64decode(v).decode() for k, v in (secret.data or {}).items()}


def own(tags: dict[str, str]) -> dict[str, str]:
    """The tags aenv sets: in mode ack the ACK controllers add their own (services.k8s.aws/...) besides."""
    return {k: v for k, v in tags.items() if not k.startswith(ACK_TAG_PREFIX)}


def same_key(observed: str | None, key_id: str) -> bool:
    """A KMS key named by id or ARN."""
    return bool(observed) and str(observed).rsplit("/", 1)[-1] == key_id


# The assertions, per component.

def check_network(aws: Aws, p: str, vpc_subnets: tuple[str, list[str]]) -> dict[str, str]:
    vpc, subnets = vpc_subnets
    groups = aws.security_groups(p)
    assert set(groups) == {f"{p}-workloads", f"{p}-cache", f"{p}-database"}
    assert {g["VpcId"] for g in groups.values()} == {vpc}
    workloads = groups[f"{p}-workloads"]["GroupId"]
    assert groups[f"{p}-workloads"]["IpPermissions"] == [], "nothing may reach the workloads' group through aenv"
    for role, port in (("cache", 6379), ("database", 5432)):
        group = groups[f"{p}-{role}"]
        inbound = group["IpPermissions"]
        assert len(inbound) == 1, f"{role}: exactly one inbound rule, got {inbound}"
        rule = inbound[0]
        assert (rule["IpProtocol"], rule["FromPort"], rule["ToPort"]) == ("tcp", port, port)
        assert [g["GroupId"] for g in rule.get("UserIdGroupPairs", [])] == [workloads]
        assert not rule.get("IpRanges") and not rule.get("Ipv6Ranges") and not rule.get("PrefixListIds")
        assert group["IpPermissionsEgress"] == [], f"{role}: the group sends nothing"

    cache_subnets = aws.elasticache.describe_cache_subnet_groups(CacheSubnetGroupName=f"{p}-cache")
    cache_group = cache_subnets["CacheSubnetGroups"][0]
    assert cache_group["VpcId"] == vpc
    assert sorted(s["SubnetIdentifier"] for s in cache_group["Subnets"]) == subnets
    db_group = aws.rds.describe_db_subnet_groups(DBSubnetGroupName=f"{p}-database")["DBSubnetGroups"][0]
    assert db_group["VpcId"] == vpc
    assert sorted(s["SubnetIdentifier"] for s in db_group["Subnets"]) == subnets
    return {"workloads": workloads, "cache": groups[f"{p}-cache"]["GroupId"],
            "database": groups[f"{p}-database"]["GroupId"]}


def check_key(aws: Aws, p: str, env: str, uid: str) -> dict[str, Any]:
    keys = aws.keys()
    assert len(keys) == 1, f"one KMS key for the environment, got {[k['KeyId'] for k in keys]}"
    key = keys[0]
    assert (key["KeyState"], key["KeySpec"], key["KeyUsage"]) == ("Enabled", KEY_SPEC, "ENCRYPT_DECRYPT")
    assert aws.kms.get_key_rotation_status(KeyId=key["KeyId"])["KeyRotationEnabled"] is True
    assert aws.aliases() == {f"alias/{p}": key["KeyId"]}
    tags = own(aws.key_tags(key["KeyId"]))
    assert tags == {TAG_ENVIRONMENT: env, TAG_UID: uid, TAG_COMPONENT: "encryption"}
    return key


def check_cache(aws: Aws, p: str, key: dict[str, Any]) -> dict[str, Any]:
    group = aws.replication_group(f"{p}-cache")
    assert group is not None, f"replication group {p}-cache"
    assert group["Status"] == "available"
    assert group["Engine"] == "valkey"
    assert group["CacheNodeType"] == "cache.r7g.xlarge"
    assert (group["MultiAZ"], group["AutomaticFailover"]) == ("enabled", "enabled")
    assert group["TransitEncryptionEnabled"] is True and group["AtRestEncryptionEnabled"] is True
    assert group["KmsKeyId"] == key["Arn"]
    assert group["AuthTokenEnabled"] is True
    assert group["SnapshotRetentionLimit"] == 7
    assert len(group["MemberClusters"]) == 3, "a primary and two replicas"
    assert len({m["PreferredAvailabilityZone"] for m in group["NodeGroups"][0]["NodeGroupMembers"]}) > 1, "multi-AZ"
    # AWS reports the subnet group and security groups on the member clusters, which moto does not create for a
    # replication group (describe_cache_clusters lists none): that the cache sits in its subnet group behind its
    # security group cannot be read back from moto.
    return group


def check_database(aws: Aws, p: str, key: dict[str, Any], sg: dict[str, str]) -> dict[str, Any]:
    instance = aws.db_instances(p)[f"{p}-database"]
    assert instance["DBInstanceStatus"] == "available"
    assert instance["Engine"] == "postgres" and instance["EngineVersion"].split(".")[0] == "16"
    assert instance["DBInstanceClass"] == "db.r6g.xlarge"
    assert (instance["StorageType"], instance["AllocatedStorage"]) == ("gp3", 500)
    assert instance["StorageEncrypted"] is True and instance["KmsKeyId"] == key["Arn"]
    assert instance["MultiAZ"] is True
    assert instance["BackupRetentionPeriod"] == 30
    assert instance["DeletionProtection"] is True
    assert instance["PubliclyAccessible"] is False
    assert [g["VpcSecurityGroupId"] for g in instance["VpcSecurityGroups"]] == [sg["database"]]
    assert instance["DBSubnetGroup"]["DBSubnetGroupName"] == f"{p}-database"
    assert (instance["MasterUsername"], instance["DBName"]) == ("aenv", "analytics")
    return instance


def check_queues(aws: Aws, p: str, key: dict[str, Any]) -> dict[str, dict[str, str]]:
    expected = {*(f"{p}-{name}" for name, _ in QUEUES.values()), *(f"{p}-{dlq}" for dlq in DLQS.values())}
    assert set(aws.queue_urls(f"{p}-")) == expected
    found = {}
    for queue, (name, visibility) in QUEUES.items():
        attrs, dlq = aws.queue(p, name), aws.queue(p, DLQS[queue])
        redrive = json.loads(attrs["RedrivePolicy"])
        assert redrive["deadLetterTargetArn"] == dlq["QueueArn"], queue
        assert int(redrive["maxReceiveCount"]) == 5, queue
        assert attrs["VisibilityTimeout"] == str(visibility), queue
        assert dlq["VisibilityTimeout"] == str(visibility), queue
        for a in (attrs, dlq):
            assert a["KmsMasterKeyId"] == key["KeyId"], f"{queue}: encrypted with the environment's key"
            assert a.get("FifoQueue", "false") == ("true" if queue == "trades" else "false"), queue
        found[queue] = attrs
    return found


def check_topics(aws: Aws, p: str, key: dict[str, Any], queues: dict[str, dict[str, str]]) -> str:
    topics = aws.topics(f"{p}-")
    assert set(topics) == {f"{p}-alerts", f"{p}-Alarms"}
    alerts = topics[f"{p}-alerts"]
    assert aws.sns.get_topic_attributes(TopicArn=alerts)["Attributes"]["KmsMasterKeyId"] == key["KeyId"]
    subscriptions = aws.sns.list_subscriptions_by_topic(TopicArn=alerts)["Subscriptions"]
    notifications = queues["notifications"]["QueueArn"]
    assert [(s["Protocol"], s["Endpoint"]) for s in subscriptions] == [("sqs", notifications)]
    attrs = aws.sns.get_subscription_attributes(SubscriptionArn=subscriptions[0]["SubscriptionArn"])["Attributes"]
    assert attrs["RawMessageDelivery"] == "true"

    policy = json.loads(queues["notifications"]["Policy"])
    [statement] = policy["Statement"]
    assert statement["Effect"] == "Allow" and statement["Principal"] == {"Service": "sns.amazonaws.com"}
    assert statement["Action"] == "sqs:SendMessage" and statement["Resource"] == notifications
    assert statement["Condition"]["ArnEquals"]["aws:SourceArn"] in (alerts, [alerts])
    for other in ("events", "trades"):
        assert "Policy" not in queues[other], f"{other} has no subscriber topic, so no queue policy"
    return alerts


def check_gateway(aws: Aws, p: str, namespace: str, env: str, uid: str) -> dict[str, Any]:
    [api] = aws.apis(p)
    assert api["Name"] == f"{p}-gateway" and api["ProtocolType"] == "WEBSOCKET"
    assert api["RouteSelectionExpression"] == "$request.body.action"
    assert own(api["Tags"]) == {TAG_ENVIRONMENT: env, TAG_UID: uid, TAG_COMPONENT: "gateway"}
    api_id = api["ApiId"]
    [integration] = aws.api.get_integrations(ApiId=api_id)["Items"]
    assert integration["IntegrationType"] == "HTTP_PROXY"
    assert integration["IntegrationUri"] == f"http://ws-gateway.{namespace}.svc.cluster.local:8080"
    routes = aws.api.get_routes(ApiId=api_id)["Items"]
    assert sorted(r["RouteKey"] for r in routes) == sorted(ROUTES)
    assert {r.get("Target") for r in routes} == {f"integrations/{integration['IntegrationId']}"}

    [stage] = aws.api.get_stages(ApiId=api_id)["Items"]
    assert stage["StageName"] == "live" and stage["AutoDeploy"] is True
    throttling = stage["DefaultRouteSettings"]
    assert (float(throttling["ThrottlingRateLimit"]), int(throttling["ThrottlingBurstLimit"])) == (1000.0, 2000)
    assert own(stage["Tags"]) == {TAG_ENVIRONMENT: env, TAG_UID: uid, TAG_COMPONENT: "gateway"}

    domain = aws.api.get_domain_name(DomainName=DOMAIN)
    [config] = domain["DomainNameConfigurations"]
    assert (config["CertificateArn"], config["EndpointType"]) == (CERTIFICATE, "REGIONAL")
    assert config["SecurityPolicy"] == "TLS_1_2"
    assert own(domain["Tags"]) == {TAG_ENVIRONMENT: env, TAG_UID: uid, TAG_COMPONENT: "gateway"}
    [mapping] = aws.api.get_api_mappings(DomainName=DOMAIN)["Items"]
    assert (mapping["ApiId"], mapping["Stage"], mapping.get("ApiMappingKey", "")) == (api_id, "live", "")
    return api


def check_secrets(aws: Aws, p: str, key: dict[str, Any], env: str, uid: str) -> dict[str, str]:
    """Each secret is encrypted with the key and holds a value; returns name -> ARN."""
    found = aws.secrets(f"{p}-")
    assert set(found) == {f"{p}-{s}" for s in SECRETS}
    for name, entry in found.items():
        assert same_key(entry.get("KmsKeyId"), key["KeyId"]), f"{name} is encrypted with the environment's key"
        assert not entry.get("DeletedDate"), name
        tags = {t["Key"]: t["Value"] for t in entry["Tags"]}
        assert (tags[TAG_ENVIRONMENT], tags[TAG_UID], tags[TAG_COMPONENT]) == (env, uid, "secrets"), name
        assert aws.secret_value(name), f"{name} holds a value"
    login = json.loads(aws.secret_value(f"{p}-database"))
    assert login["username"] == "aenv" and login["password"]
    workloads_login = json.loads(aws.secret_value(f"{p}-database-login"))  # one of the two alternating roles
    assert workloads_login["username"] == "aenv_app_a" and workloads_login["password"] != login["password"]
    return {name: entry["ARN"] for name, entry in found.items()}


def check_monitoring(aws: Aws, p: str, env: str, uid: str, api: dict[str, Any]) -> tuple[str, list[str]]:
    alarm_topic = aws.topics(f"{p}-")[f"{p}-Alarms"]
    emails = [(s["Protocol"], s["Endpoint"])
              for s in aws.sns.list_subscriptions_by_topic(TopicArn=alarm_topic)["Subscriptions"]]
    assert emails == [("email", "oncall@example.com")]

    expected: dict[str, tuple[Threshold, str | None]] = {f"{p}-{t.priority}-{t.slug}": (t, None) for t in CACHE}
    for queue, (name, _) in QUEUES.items():
        expected[f"{p}-{DEAD_LETTERS.priority}-queue-{queue}-{DEAD_LETTERS.slug}"] = (DEAD_LETTERS, DLQS[queue])
        expected |= {f"{p}-{t.priority}-queue-{queue}-{t.slug}": (t, name) for t in QUEUE}
    alarms = aws.alarms(f"{p}-")
    assert set(alarms) == set(expected)
    assert {t.priority for t, _ in expected.values()} == {"P1", "P2", "P3"}
    for alarm_name, (threshold, watched) in expected.items():
        alarm = alarms[alarm_name]
        assert alarm["AlarmActions"] == [alarm_topic] and alarm["OKActions"] == [alarm_topic], alarm_name
        assert alarm["ActionsEnabled"] is True, alarm_name
        assert (alarm["ComparisonOperator"], float(alarm["Threshold"])) == (threshold.comparison,
                                                                           float(threshold.threshold)), alarm_name
        assert alarm["EvaluationPeriods"] == threshold.minutes, alarm_name
        assert alarm["AlarmDescription"].startswith(f"{threshold.priority} {env}: "), alarm_name
        if watched is None:  # the highest of the group's three nodes
            nodes = {m["MetricStat"]["Metric"]["Dimensions"][0]["Value"] for m in alarm["Metrics"] if "MetricStat" in m}
            assert nodes == {f"{p}-cache-{i:03d}" for i in (1, 2, 3)}, alarm_name
            assert {m["MetricStat"]["Metric"]["MetricName"] for m in alarm["Metrics"] if "MetricStat" in m} == {
                threshold.metric}, alarm_name
        else:
            assert (alarm["Namespace"], alarm["MetricName"]) == ("AWS/SQS", threshold.metric), alarm_name
            assert alarm["Dimensions"] == [{"Name": "QueueName", "Value": f"{p}-{watched}"}], alarm_name
        tags = own({t["Key"]: t["Value"] for t in aws.cw.list_tags_for_resource(ResourceARN=alarm["AlarmArn"])["Tags"]})
        assert tags == {TAG_ENVIRONMENT: env, TAG_UID: uid, TAG_COMPONENT: "monitoring",
                        TAG_PRIORITY: threshold.priority}, alarm_name

    assert aws.dashboards(p) == [f"{p}-dashboard"]
    body = json.loads(aws.cw.get_dashboard(DashboardName=f"{p}-dashboard")["DashboardBody"])
    owner = body["widgets"][0]["properties"]["markdown"]
    assert f"(environment {env}, uid {uid})" in owner
    metrics = json.dumps(body["widgets"][1:])
    for shown in (f"{p}-cache-001", f"{p}-events", f"{p}-trades-dlq.fifo", api["ApiId"]):
        assert shown in metrics, f"the dashboard shows {shown}"
    return alarm_topic, [a["AlarmArn"] for a in alarms.values()]


def check_role(aws: Aws, p: str, namespace: str, env: str, uid: str, key: dict[str, Any],
               queues: dict[str, dict[str, str]], dlqs: dict[str, dict[str, str]], alerts: str,
               secrets: dict[str, str], api: dict[str, Any]) -> None:
    role = aws.iam.get_role(RoleName=f"{p}-workloads")["Role"]
    assert role["Path"] == "/aenv/"
    trust = role["AssumeRolePolicyDocument"]
    trust = json.loads(trust) if isinstance(trust, str) else trust
    [statement] = trust["Statement"]
    assert statement["Action"] == "sts:AssumeRoleWithWebIdentity"
    assert statement["Principal"]["Federated"].endswith(f":oidc-provider/{OIDC_ISSUER}")
    assert statement["Condition"]["StringEquals"] == {
        f"{OIDC_ISSUER}:sub": f"system:serviceaccount:{namespace}:aenv-{NAME}-workloads",
        f"{OIDC_ISSUER}:aud": "sts.amazonaws.com"}
    tags = own({t["Key"]: t["Value"] for t in aws.iam.list_role_tags(RoleName=f"{p}-workloads")["Tags"]})
    assert tags == {TAG_ENVIRONMENT: env, TAG_UID: uid, TAG_COMPONENT: "iam"}

    assert aws.iam.list_role_policies(RoleName=f"{p}-workloads")["PolicyNames"] == ["aenv-workloads"]
    assert aws.iam.list_attached_role_policies(RoleName=f"{p}-workloads")["AttachedPolicies"] == []
    document = aws.iam.get_role_policy(RoleName=f"{p}-workloads", PolicyName="aenv-workloads")["PolicyDocument"]
    document = json.loads(document) if isinstance(document, str) else document
    granted = {s["Sid"]: sorted(s["Resource"]) for s in document["Statement"]}
    # Least privilege: what the workloads list in `uses` — events and trades (not notifications), alerts, the
    # secrets of cache, database and secrets (jwt, API keys) — and the key that encrypts them; and, for the
    # gateway's backend, posting to the stage's connections. Nothing else.
    region, account = key["Arn"].split(":")[3:5]
    assert granted == {
        "Queue": sorted(a["QueueArn"] for q, a in [*queues.items(), *dlqs.items()] if q != "notifications"),
        "Topic": [alerts],
        "Secret": sorted(secrets.values()),
        "Kms": [key["Arn"]],
        "Gateway": [f"arn:aws:execute-api:{region}:{account}:{api['ApiId']}/live/POST/@connections/*"],
    }


def check_tags(aws: Aws, env: str, uid: str, expected: set[str]) -> None:
    """Every aenv resource the tagging API sees names this environment and its uid, and none is missing."""
    tagged = aws.tagged()
    wrong = {arn: (tags.get(TAG_ENVIRONMENT), tags.get(TAG_UID)) for arn, tags in tagged.items()
             if (tags.get(TAG_ENVIRONMENT), tags.get(TAG_UID)) != (env, uid)}
    assert wrong == {}
    assert expected - set(tagged) == set(), "resources the tagging API does not show with aenv's tags"
    channel = (f":{DEFAULT_CHANNEL}", f"/{DEFAULT_CHANNEL}")  # the operator's own drift channel, no environment's
    untagged = [r["ResourceARN"] for p in aws.tagging.get_paginator("get_resources").paginate()
                for r in p["ResourceTagMappingList"] if (":aenv-" in r["ResourceARN"] or "/aenv-" in r["ResourceARN"])
                and not r["ResourceARN"].endswith(channel)]
    assert set(untagged) <= set(tagged), "an aenv-named resource without aenv's tags"


def check_status(kube: Kube, namespace: str, env: dict[str, Any], aws: Aws, p: str) -> None:
    status = env["status"]
    assert status["phase"] == "Ready" and status["observedGeneration"] == env["metadata"]["generation"]
    for component in COMPONENTS:
        condition = kube.condition(env, f"{component}Ready")
        assert condition is not None and condition["status"] == "True", (component, condition)
    assert kube.condition(env, "Stalled")["status"] == "False"  # type: ignore[index]
    assert kube.condition(env, "Reconciling")["status"] == "False"  # type: ignore[index]
    urls = aws.queue_urls(f"{p}-")
    queues = {q["name"]: q for q in status["queues"]}
    assert set(queues) == set(QUEUES)
    for queue, (name, _) in QUEUES.items():
        assert queues[queue]["url"] == urls[f"{p}-{name}"], queue
        assert queues[queue]["deadLetterUrl"] == urls[f"{p}-{DLQS[queue]}"], queue
        assert queues[queue]["arn"].endswith(f":{p}-{name}") and queues[queue]["deadLetterArn"].endswith(
            f":{p}-{DLQS[queue]}"), queue
    keys = [r["key"] for r in status["resources"]]
    assert len(keys) == len(set(keys)), "status.resources lists each resource once"

    assert status["connectionSecret"] == f"{NAME}-connection"
    data = secret_data(kube, namespace, status["connectionSecret"])
    assert set(data) >= CONNECTION_KEYS, f"missing: {sorted(CONNECTION_KEYS - set(data))}"
    login = json.loads(aws.secret_value(f"{p}-database"))
    from_aws = {"JWT_SECRET": aws.secret_value(f"{p}-jwt"),
                "API_KEY_PARTNERS": aws.secret_value(f"{p}-api-key-partners"),
                "API_KEY_INTERNAL": aws.secret_value(f"{p}-api-key-internal"),
                "CACHE_AUTH_TOKEN": aws.secret_value(f"{p}-cache-auth"),
                "DATABASE_PASSWORD": login["password"], "DATABASE_USER": login["username"]}
    differ = sorted(k for k, v in from_aws.items() if data.get(k) != v)  # names only: values are credentials
    assert differ == [], "connection Secret keys that differ from Secrets Manager"
    group = aws.replication_group(f"{p}-cache")
    instance = aws.db_instances(p)[f"{p}-database"]
    assert group is not None
    primary = group["NodeGroups"][0]["PrimaryEndpoint"]
    shapes = {
        "CACHE_URL": data["CACHE_URL"].startswith("rediss://") and data["CACHE_URL"].endswith(
            f"@{primary['Address']}:{primary['Port']}") and from_aws["CACHE_AUTH_TOKEN"] in data["CACHE_URL"],
        "DATABASE_URL": data["DATABASE_URL"].startswith("postgresql://aenv:") and data["DATABASE_URL"].endswith(
            f"@{instance['Endpoint']['Address']}:{instance['Endpoint']['Port']}/analytics?sslmode=require")
        and login["password"] in data["DATABASE_URL"],
        "QUEUE_EVENTS_URL": data["QUEUE_EVENTS_URL"] == urls[f"{p}-events"],
        "TOPIC_ALERTS_ARN": data["TOPIC_ALERTS_ARN"] == aws.topics(f"{p}-")[f"{p}-alerts"],
        "GATEWAY_URL": data["GATEWAY_URL"].startswith("wss://") and data["GATEWAY_URL"].endswith("/live"),
    }
    assert sorted(k for k, ok in shapes.items() if not ok) == [], "connection Secret keys with the wrong value"


def check_prod(kube: Kube, aws: Aws, namespace: str, env: dict[str, Any], vpc_subnets: tuple[str, list[str]]) -> None:
    """Every component of the example, as built in moto, and the environment's status and connection Secret."""
    uid, key_of_env, p = env["metadata"]["uid"], f"{namespace}/{NAME}", f"aenv-{namespace}-{NAME}"

    sg = check_network(aws, p, vpc_subnets)
    key = check_key(aws, p, key_of_env, uid)
    group = check_cache(aws, p, key)
    instance = check_database(aws, p, key, sg)
    queues = check_queues(aws, p, key)
    dlqs = {q: aws.queue(p, DLQS[q]) for q in QUEUES}
    alerts = check_topics(aws, p, key, queues)
    api = check_gateway(aws, p, namespace, key_of_env, uid)
    secrets = check_secrets(aws, p, key, key_of_env, uid)
    alarm_topic, alarms = check_monitoring(aws, p, key_of_env, uid, api)
    check_role(aws, p, namespace, key_of_env, uid, key, queues, dlqs, alerts, secrets, api)
    cache_subnets = aws.elasticache.describe_cache_subnet_groups(CacheSubnetGroupName=f"{p}-cache")
    groups = aws.security_groups(p)
    check_tags(aws, key_of_env, uid, {
        key["Arn"], group["ARN"], instance["DBInstanceArn"], cache_subnets["CacheSubnetGroups"][0]["ARN"],
        alerts, alarm_topic, *alarms, *secrets.values(), *(g["SecurityGroupArn"] for g in groups.values()),
        *(a["QueueArn"] for a in [*queues.values(), *dlqs.values()]),
    })
    # moto's tagging API does not show DB subnet groups: ask RDS.
    db_subnets = aws.rds.describe_db_subnet_groups(DBSubnetGroupName=f"{p}-database")["DBSubnetGroups"][0]
    tags = aws.rds.list_tags_for_resource(ResourceName=db_subnets["DBSubnetGroupArn"])["TagList"]
    assert own({t["Key"]: t["Value"] for t in tags}) == {TAG_ENVIRONMENT: key_of_env, TAG_UID: uid,
                                                         TAG_COMPONENT: "network"}
    check_backups(kube, aws, env, p, key, uid)
    check_status(kube, namespace, env, aws, p)


def check_backups(kube: Kube, aws: Aws, env: dict[str, Any], p: str, key: dict[str, Any], uid: str) -> None:
    """Mode boto3: the backups' bucket, private, versioned, SSE-KMS with the environment's key, expiring backups
    after the prod retention. Mode ack has no s3-controller: no bucket, and BackupsReady says NotImplemented."""
    condition = kube.condition(env, "BackupsReady")
    if env["spec"]["aws"]["mode"] == "ack":
        assert condition is not None and (condition["status"], condition["reason"]) == ("Unknown", "NotImplemented")
        assert aws.buckets(p) == {}
        return
    assert condition is not None and condition["status"] == "True", condition
    bucket = f"{p}-backups"
    assert own(aws.buckets(p)[bucket]) == {TAG_ENVIRONMENT: env["metadata"]["namespace"] + "/" + NAME, TAG_UID: uid,
                                           TAG_COMPONENT: "backups"}
    assert aws.s3.get_bucket_versioning(Bucket=bucket)["Status"] == "Enabled"
    assert all(aws.s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"].values())
    [rule] = aws.s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]["Rules"]
    assert rule["ApplyServerSideEncryptionByDefault"] == {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": key["Arn"]}
    [expiry] = aws.s3.get_bucket_lifecycle_configuration(Bucket=bucket)["Rules"]
    assert expiry["Status"] == "Enabled" and expiry["Expiration"]["Days"] == 30


def test_prod_example_is_built_on_aws_as_the_platform_expects(kube: Kube, prod: str, aws: Aws,
                                                              operator: Operator) -> None:
    namespace = prod
    env, vpc_subnets = create_prod(kube, aws, namespace)
    check_prod(kube, aws, namespace, env, vpc_subnets)
    p = f"aenv-{namespace}-{NAME}"

    # Idle: three resync passes later nothing was created again and nothing was written to the API server.
    counts = aws.counts(p)
    version = kube.get_env(namespace, NAME)["metadata"]["resourceVersion"]
    runs = operator.log_text().count("Timer 'resync' succeeded")
    wait_for(lambda: operator.log_text().count("Timer 'resync' succeeded") >= runs + 3, 90,
             "three more resync passes")
    assert aws.counts(p) == counts
    assert kube.get_env(namespace, NAME)["metadata"]["resourceVersion"] == version


def reports_deleting(kube: Kube, namespace: str) -> bool:
    env = kube.get_env(namespace, NAME)
    ready = kube.condition(env, "Ready")
    return env["status"]["phase"] == "Deleting" and ready is not None and (ready["status"], ready["reason"]) == (
        "False", "Deleting") and FINALIZER in env["metadata"]["finalizers"]


def check_deleted_per_snapshot(aws: Aws, p: str, uid: str, key: dict[str, Any]) -> None:
    """What deleting the example with deletionPolicy Snapshot leaves in AWS: exactly what the policy promises."""
    database, cache = f"{p}-database", f"{p}-cache"
    # The database and the cache: gone, after final snapshots encrypted with the environment's key.
    [taken] = aws.rds.describe_db_snapshots(DBSnapshotIdentifier=final_snapshot_name(database, uid))["DBSnapshots"]
    assert taken["DBInstanceIdentifier"] == database and taken["SnapshotType"] == "manual"
    assert taken["Status"] == "available" and taken["Encrypted"] is True and taken["KmsKeyId"] == key["Arn"]
    assert not aws.db_instances(p)
    [snapshot] = aws.elasticache.describe_snapshots(SnapshotName=final_snapshot_name(cache, uid))["Snapshots"]
    assert snapshot["ReplicationGroupId"] == cache and snapshot["SnapshotStatus"] == "available"
    assert snapshot["KmsKeyId"] == key["Arn"]
    assert aws.replication_group(cache) is None

    # Queues, topics, the gateway, alarms, the dashboard and the role: deleted.
    assert not (aws.queue_urls(f"{p}-") or aws.topics(f"{p}-") or aws.apis(p) or aws.domains()
                or aws.alarms(f"{p}-") or aws.dashboards(p) or aws.roles())
    assert aws.sns.list_subscriptions()["Subscriptions"] == [], "the queue's and the e-mail subscription went too"
    left = [u for u in aws.sqs.list_queues().get("QueueUrls", []) if not u.endswith(f"/{DEFAULT_CHANNEL}")]
    assert left == [], "every queue but the operator's own drift channel went"

    # Network: security groups and subnet groups hold no data and are deleted.
    assert not aws.security_groups(p)
    assert not any(g["DBSubnetGroupName"].startswith(p) for g in aws.rds.describe_db_subnet_groups()["DBSubnetGroups"])
    assert aws.elasticache.describe_cache_subnet_groups()["CacheSubnetGroups"] == []

    # Secrets: scheduled for deletion, recoverable for the window (Secrets Manager's own final snapshot).
    entries = aws.secrets(f"{p}-")
    assert len(entries) == len(SECRETS) and all(e.get("DeletedDate") for e in entries.values())
    for name in SECRETS:
        assert aws.sm.describe_secret(SecretId=f"{p}-{name}")["DeletedDate"], name

    # The backups' bucket (mode boto3) is the database's logical snapshot: kept with its backups, marked released.
    assert all(tags.get(TAG_RELEASED) == "true" and tags[TAG_UID] == uid for tags in aws.buckets(p).values())

    # The key outlives the snapshots it encrypts: kept, enabled, marked released; its alias is gone.
    [kept] = aws.keys()
    assert kept["KeyId"] == key["KeyId"] and kept["KeyState"] == "Enabled" and not aws.aliases()
    assert aws.key_tags(key["KeyId"]).get(TAG_RELEASED) == "true"
    assert aws.key_tags(key["KeyId"])[TAG_UID] == uid


def test_deleting_prod_keeps_what_snapshot_promises(kube: Kube, prod: str, aws: Aws) -> None:
    namespace = prod
    env, _ = create_prod(kube, aws, namespace)
    uid, p = env["metadata"]["uid"], f"aenv-{namespace}-{NAME}"
    assert env["spec"]["deletionPolicy"] == "Snapshot" and FINALIZER in env["metadata"]["finalizers"]
    [key] = aws.keys()

    # aenv holds the finalizer until AWS confirms each deletion (more than one pass: the network goes last), and
    # says so meanwhile; the emulator finishes deletions as AWS does, so the environment then goes on its own.
    kube.delete_env(namespace, NAME)
    wait_for(lambda: reports_deleting(kube, namespace), READY_DEADLINE, "the status to say Deleting")
    wait_for(lambda: kube.env_gone(namespace, NAME), READY_DEADLINE, "the environment to go once AWS confirms")

    check_deleted_per_snapshot(aws, p, uid, key)
