"""The admission policy the chart ships and `make dev` applies is the one rendered from the tier presets and the
price table, and its CEL literals are the table's."""

from pathlib import Path

from aenv.cost.prices import table
from aenv.quota import policy

SHIPPED = Path(__file__).parents[2] / "charts" / "aenv" / "files" / policy.POLICY_FILE


def test_the_shipped_policy_is_current() -> None:
    assert SHIPPED.read_text() == policy.render(), "charts/aenv/files is stale: run `make crd`"


def test_the_policy_reads_the_quota_of_the_environments_namespace_and_allows_without_one() -> None:
    vap, binding = policy.policy()
    assert vap["spec"]["paramKind"] == {"apiVersion": "aenv.dev/v1alpha1", "kind": "AnalyticsEnvironmentQuota"}
    assert binding["spec"]["paramRef"] == {"selector": {}, "parameterNotFoundAction": "Allow"}
    assert binding["spec"]["validationActions"] == ["Deny"]
    assert all("messageExpression" in v and v["reason"] == "Forbidden" for v in vap["spec"]["validations"])


def test_cel_literals_carry_the_price_table() -> None:
    variables = {v["name"]: v["expression"] for v in policy.policy()[0]["spec"]["variables"]}
    assert "'us-east-1': {'cache.t4g.micro': 0.016" in variables["cacheTable"]
    assert "'db.r6g.xlarge': 0.449" in variables["databaseTable"]
    assert "730.0" in variables["cacheUSD"] and "{'redis': 1.0, 'valkey': 0.8}" in variables["cacheUSD"]
    assert set(table().regions) == {"us-east-1", "us-west-2", "eu-west-1", "eu-central-1"}


def test_usd_formats_cents() -> None:
    assert policy.usd("x") == ("string(int((x) * 100.0 + 0.5) / 100) + '.' + (int((x) * 100.0 + 0.5) % 100 < 10 ? "
                               "'0' : '') + string(int((x) * 100.0 + 0.5) % 100)")
