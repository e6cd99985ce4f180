"""Rotated credentials roll the workloads, and a previous credential is revoked only when no ready pod holds it."""

from aenv.api import EnvironmentSpec, effective
from aenv.api.spec import Workload
from aenv.aws.elasticache_replication_group import _compare
from aenv.aws.stores import TAG_SECRET_PREVIOUS, TAG_SECRET_VERSION
from aenv.naming import EnvironmentRef
from aenv.plan import cache, connection, secrets, workloads
from aenv.plan.types import Desired, Sensitive

ENV = EnvironmentRef("analytics", "defi", "uid-1")
OUTPUTS = {
    "secret/cache-auth": {"arn": "arn:c", "value": Sensitive("token-1"), "version": "v1"},
    "secret/jwt": {"arn": "arn:j", "value": Sensitive("jwt-1"), "version": "j1"},
    "queue/events": {"url": "https://sqs/q", "arn": "arn:q"},
}


def spec() -> EnvironmentSpec:
    return effective(EnvironmentSpec.model_validate({
        "tier": "dev", "aws": {"region": "us-east-1"}, "cache": {"transitEncryption": True},
        "workloads": [{"name": "api", "image": "api:1"}]}))


def test_the_versions_are_named_and_never_the_values() -> None:
    versions = connection.credential_versions(OUTPUTS)
    assert versions == {"cache-auth": "v1", "jwt": "j1"}
    stamp = connection.credentials_stamp(versions)
    assert stamp == "cache-auth=v1,jwt=j1" and "token-1" not in stamp and "jwt-1" not in stamp
    assert connection.parse_credentials_stamp(stamp) == versions
    assert connection.parse_credentials_stamp("") == {}


def test_a_rotated_credential_is_a_new_revision_and_other_outputs_are_not() -> None:
    s, w = spec(), Workload(name="api", image="api:1")
    first = workloads.pod_template(ENV, s, w, connection.credential_versions(OUTPUTS))
    assert first["metadata"]["annotations"] == {connection.CREDENTIALS_ANNOTATION: "cache-auth=v1,jwt=j1"}
    moved = {**OUTPUTS, "queue/events": {"url": "https://sqs/other", "arn": "arn:q"}}
    rotated = {**OUTPUTS, "secret/cache-auth": {**OUTPUTS["secret/cache-auth"], "version": "v2"}}
    assert workloads.revision(workloads.pod_template(ENV, s, w, connection.credential_versions(moved))) == \
        workloads.revision(first)
    assert workloads.revision(workloads.pod_template(ENV, s, w, connection.credential_versions(rotated))) != \
        workloads.revision(first)
    rs = workloads.replica_set(ENV, w, first, workloads.revision(first), 2)
    assert rs["spec"]["template"]["metadata"]["annotations"] == first["metadata"]["annotations"]


def test_the_cache_learns_which_token_versions_ready_pods_hold() -> None:
    desired = [*cache.plan(ENV, spec()), Desired(kind="x", key="queue/events", component="queues", name="q")]
    held = secrets.with_credentials_in_use(desired, [{"cache-auth": "v1", "jwt": "j1"}, {"cache-auth": "v2"}, {}])
    group = next(d for d in held if d.key == "cache/replication-group")
    assert group.params["auth_tokens_in_use"] == ["v1", "v2"]
    assert next(d for d in held if d.key == "queue/events").params == {}
    [none] = [d for d in secrets.with_credentials_in_use(desired, []) if d.key == "cache/replication-group"]
    assert none.params["auth_tokens_in_use"] == []


def group_and_params(in_use: list[str] | None) -> tuple[Desired, dict[str, object], dict[str, object]]:
    d = next(d for d in cache.plan(ENV, spec()) if d.key == "cache/replication-group")
    params = {**d.params, "auth_token": Sensitive("token-2"), "auth_token_version": "v2",
              "security_group_id": "sg-1", "subnet_group": "sub", "kms_key_arn": None}
    if in_use is not None:
        params["auth_tokens_in_use"] = in_use
    group = {"Engine": params["engine"], "TransitEncryptionEnabled": True, "AtRestEncryptionEnabled":
             params["at_rest_encryption"], "AuthTokenEnabled": True, "SnapshotRetentionLimit":
             params["snapshot_retention_days"], "AutomaticFailover": "disabled", "MultiAZ": "disabled",
             "MemberClusters": ["m"], "NodeGroups": [{"NodeGroupMembers": [{}] * (params["replicas"] + 1)}],
             "CacheNodeType": params["node_type"]}
    return Desired(kind=d.kind, key=d.key, component=d.component, name=d.name, params=params, tags=d.tags), group, {}


def test_the_previous_token_is_revoked_only_when_no_ready_pod_holds_it() -> None:
    tags = {TAG_SECRET_VERSION: "v2", TAG_SECRET_PREVIOUS: "v1"}
    for in_use, revoked in ((["v1", "v2"], False), (["v1"], False), (None, False), (["v2"], True), ([], True)):
        d, group, member = group_and_params(in_use)
        diff, _ = _compare(d, group, member, {**tags, **d.tags})
        assert ("auth_token_previous" in diff) is revoked, (in_use, diff)
        assert "auth_token_version" not in diff
    d, group, member = group_and_params([])
    diff, _ = _compare(d, group, member, {TAG_SECRET_VERSION: "v1", **d.tags})  # not rotated in yet
    assert diff.get("auth_token_version") == ("v1", "v2") and "auth_token_previous" not in diff


def test_a_database_login_takes_the_other_role_in_turn() -> None:
    import json

    from aenv.aws.secretsmanager_secret import generate

    [login] = [d for d in secrets.plan(ENV, effective(EnvironmentSpec.model_validate(
        {"tier": "dev", "aws": {"region": "us-east-1"}, "database": {}}))) if d.key == "secret/database-login"]
    first = json.loads(str(generate(login)))
    assert first["username"] == "aenv_app_a" and len(first["password"]) == 40
    assert json.loads(str(generate(login, "aenv_app_a")))["username"] == "aenv_app_b"
    assert json.loads(str(generate(login, "aenv_app_b")))["username"] == "aenv_app_a"
    assert json.loads(str(generate(login, "aenv")))["username"] == "aenv_app_a"  # not one of them: the first


def test_the_secret_carries_the_login_role_once_it_is_set_in_the_database() -> None:
    s = effective(EnvironmentSpec.model_validate({"tier": "dev", "aws": {"region": "us-east-1"}, "database": {}}))
    outputs = {
        "database/instance": {"endpoint": "db.local", "port": 5432, "name": "analytics"},
        "secret/database": {"username": "aenv", "password": Sensitive("master-password"), "version": "m1"},
        "secret/database-login": {"username": "aenv_app_b", "password": Sensitive("new-password"), "version": "l2"},
    }
    unset = connection.connection_data(s, outputs)
    assert unset["DATABASE_USER"] == "aenv" and "database-login" not in connection.credential_versions(outputs)
    for login in ({"managed": False}, None):
        held = {**outputs, "database/login": login} if login else outputs
        assert connection.connection_data(s, held)["DATABASE_USER"] == "aenv"
    set_ = {**outputs, "database/login": {"managed": True, "username": "aenv_app_a",
                                          "password": Sensitive("old-password"), "version": "l1"}}
    data = connection.connection_data(s, set_)  # the role set in the database, not the newest secret value
    assert (data["DATABASE_USER"], data["DATABASE_PASSWORD"]) == ("aenv_app_a", "old-password")
    assert connection.credential_versions(set_) == {"database": "m1", "database-login": "l1"}
