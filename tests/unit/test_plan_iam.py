"""spec -> the workloads' IAM role: IRSA subject and the ARNs its policy may name."""

from aenv.api import EnvironmentSpec, effective
from aenv.aws.iam_role import permissions
from aenv.naming import TAG_COMPONENT, EnvironmentRef
from aenv.plan import iam
from aenv.plan.types import Desired, Ref

ENV = EnvironmentRef("analytics", "defi", "uid-1")


def plan(**sections: object) -> list[Desired]:
    spec = effective(EnvironmentSpec.model_validate({"tier": "staging", "aws": {"region": "us-east-1"}, **sections}))
    return iam.plan(ENV, spec)


def workload(*uses: str) -> dict[str, object]:
    return {"name": "api", "image": "example/api:1", "uses": list(uses)}


def test_no_workloads_no_role() -> None:
    assert plan(queues=[{"name": "events"}]) == []


def test_role_trusts_the_workloads_service_account() -> None:
    [role] = plan(workloads=[workload()])
    assert role.kind == "iam.role" and role.key == "iam/role" and role.component == "iam"
    assert role.name == "aenv-analytics-defi-workloads"
    assert role.params["subject"] == "system:serviceaccount:analytics:aenv-defi-workloads"
    assert role.depends_on == ()  # uses nothing: no resource to grant
    assert role.tags[TAG_COMPONENT] == "iam"


def test_grants_only_what_workloads_use() -> None:
    [role] = plan(cache={}, database={}, queues=[{"name": "events"}, {"name": "audit"}], topics=[{"name": "alerts"}],
                  secrets={"apiKeys": ["partner"]},
                  workloads=[workload("events", "cache"), {**workload("alerts"), "name": "notifier"}])
    grants = {k: v for k, v in role.params.items() if isinstance(v, Ref)}
    assert grants == {
        "queue/events": Ref("queue/events", "arn"),
        "queue/events/dead-letter": Ref("queue/events/dead-letter", "arn"),
        "topic/alerts": Ref("topic/alerts", "arn"),
        "secret/cache-auth": Ref("secret/cache-auth", "arn"),
        "kms/key": Ref("kms/key", "arn"),
    }


def test_secrets_use_grants_jwt_and_api_keys() -> None:
    [role] = plan(database={}, secrets={"apiKeys": ["partner"]}, workloads=[workload("secrets")])
    assert set(role.depends_on) == {"secret/jwt", "secret/api-key/partner", "kms/key"}


def test_no_kms_key_when_the_environment_has_none() -> None:
    # A spec with only a gateway has no encryption component, so no "kms/key" to wait for.
    [role] = plan(gateway={}, workloads=[workload("gateway")])
    assert "kms/key" not in role.depends_on


def test_the_gateways_workload_may_post_to_the_stages_connections() -> None:
    gateway = {"workload": "api", "routes": ["subscribe"]}
    [role] = plan(gateway=gateway, workloads=[workload()])
    assert role.params["gateway/stage"] == Ref("gateway/stage", "connections")
    [without] = plan(gateway={}, workloads=[workload()])  # routes without a backend: nothing posts to clients
    assert "gateway/stage" not in without.params
    document = permissions({"gateway/stage": "a1b2c3/live/POST/@connections/*"}, "aws", "eu-west-1", "123456789012")
    assert document is not None and document["Statement"] == [{
        "Sid": "Gateway", "Effect": "Allow", "Action": ["execute-api:ManageConnections"],
        "Resource": ["arn:aws:execute-api:eu-west-1:123456789012:a1b2c3/live/POST/@connections/*"]}]
