"""Quotas at admission: the shipped ValidatingAdmissionPolicy holds environments to their namespace's
AnalyticsEnvironmentQuota on the real API server (CEL, no webhook). Each limit refuses naming itself and the field,
the cost ceiling computes the same estimate as aenv's estimator, and a namespace without a quota is unconstrained."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from aenv.api import GROUP, VERSION, EnvironmentSpec, effective
from aenv.api.quota import QUOTA_CRD_FILE, QUOTA_KIND, QUOTA_PLURAL
from aenv.cost.estimate import estimate
from aenv.local.processes import wait_for

from .kube import Kube, unserved_namespace

REPO = Path(__file__).resolve().parents[2]
POLICY = REPO / "charts" / "aenv" / "files" / "admission-policy.yaml"
DEADLINE = 30.0


def example(name: str) -> dict[str, Any]:
    spec: dict[str, Any] = copy.deepcopy(yaml.safe_load((REPO / "examples" / f"env-{name}.yaml").read_text())["spec"])
    return spec


def apply_policy(kube: Kube) -> None:
    admission = client.AdmissionregistrationV1Api(kube.api)
    for doc in yaml.safe_load_all(POLICY.read_text()):
        create, replace = ((admission.create_validating_admission_policy,
                            admission.replace_validating_admission_policy)
                           if doc["kind"] == "ValidatingAdmissionPolicy" else
                           (admission.create_validating_admission_policy_binding,
                            admission.replace_validating_admission_policy_binding))
        try:
            create(doc)
        except ApiException as e:
            if e.status != 409:
                raise
            read = (admission.read_validating_admission_policy if doc["kind"] == "ValidatingAdmissionPolicy"
                    else admission.read_validating_admission_policy_binding)
            doc["metadata"]["resourceVersion"] = read(doc["metadata"]["name"]).metadata.resource_version
            replace(doc["metadata"]["name"], doc)


@pytest.fixture(scope="module")
def policy(kube: Kube) -> None:
    kube.apply_crd(yaml.safe_load((REPO / "crds" / QUOTA_CRD_FILE).read_text()))
    apply_policy(kube)


@pytest.fixture
def namespace(kube: Kube, policy: None) -> Iterator[str]:
    """A namespace no operator serves: admission alone decides."""
    yield from unserved_namespace(kube, "aenv-quota-")


def set_quota(kube: Kube, namespace: str, spec: dict[str, Any], name: str = "team") -> None:
    body = {"apiVersion": f"{GROUP}/{VERSION}", "kind": QUOTA_KIND, "metadata": {"name": name}, "spec": spec}
    try:
        kube.custom.create_namespaced_custom_object(GROUP, VERSION, namespace, QUOTA_PLURAL, body)
    except ApiException as e:
        if e.status != 409:
            raise
        kube.custom.patch_namespaced_custom_object(GROUP, VERSION, namespace, QUOTA_PLURAL, name, {"spec": spec})


def refusal(kube: Kube, namespace: str, spec: dict[str, Any]) -> str | None:
    """The policy's message when it refuses the spec (a dry run), None when it admits it."""
    try:
        kube.create_env(namespace, "env", spec, dry_run=True)
    except ApiException as e:
        assert e.status == 403, e.body
        message: str = json.loads(e.body)["message"]
        assert "ValidatingAdmissionPolicy 'analyticsenvironmentquotas.aenv.dev'" in message, message
        return message
    return None


def refused(kube: Kube, namespace: str, spec: dict[str, Any]) -> str:
    """The refusal, waiting for the API server to see a quota just written (its informers lag a little)."""
    found: list[str] = []
    wait_for(lambda: bool(found.append(refusal(kube, namespace, spec) or "") or found[-1]), DEADLINE,
             "the quota to refuse the spec")
    return found[-1]


def admitted(kube: Kube, namespace: str, spec: dict[str, Any]) -> None:
    wait_for(lambda: refusal(kube, namespace, spec) is None, DEADLINE, "the quota to admit the spec")


def test_each_limit_refuses_naming_itself_and_the_field(kube: Kube, namespace: str) -> None:
    set_quota(kube, namespace, {"tiers": ["dev", "staging"], "maxCacheNodeType": "cache.t4g.medium",
                                "maxDatabaseInstanceClass": "db.t4g.medium", "maxMonthlyUSD": 200})
    where = f"of AnalyticsEnvironmentQuota team allows in namespace {namespace}"
    assert (f"spec.tier: prod is not among the tiers AnalyticsEnvironmentQuota team allows in namespace {namespace} "
            "(spec.tiers: dev, staging)") in refused(kube, namespace, example("prod"))

    staging = example("staging")
    admitted(kube, namespace, staging)  # 157.40 USD/month, the tier's cache.t4g.medium and db.t4g.medium
    bigger = {**staging, "cache": {**staging["cache"], "nodeType": "cache.r7g.large"}}
    assert (f"spec.cache.nodeType: cache.r7g.large is larger than maxCacheNodeType cache.t4g.medium {where}"
            in refused(kube, namespace, bigger))
    bigger = {**staging, "database": {**staging["database"], "instanceClass": "db.r6g.large"}}
    assert (f"spec.database.instanceClass: db.r6g.large is larger than maxDatabaseInstanceClass db.t4g.medium "
            f"{where}") in refused(kube, namespace, bigger)
    # The tier's default counts as if written: staging's cache.t4g.medium under a smaller limit.
    set_quota(kube, namespace, {"maxCacheNodeType": "cache.t4g.small"})
    assert ("spec.cache.nodeType: cache.t4g.medium (the default of tier staging) is larger than maxCacheNodeType "
            f"cache.t4g.small {where}") in refused(kube, namespace, staging)

    set_quota(kube, namespace, {"maxCacheNodeType": None, "maxMonthlyUSD": 150})
    assert ("spec: the estimated cost 157.40 USD/month (spec.cache 94.90, spec.database 53.20, the rest 9.30) is "
            f"more than maxMonthlyUSD 150.00 {where}") in refused(kube, namespace, staging)
    elsewhere = {**example("dev"), "aws": {"region": "sa-east-1"}}
    assert ("spec.aws.region: sa-east-1 has no price in aenv's price table, so maxMonthlyUSD of "
            "AnalyticsEnvironmentQuota team cannot be checked") in refused(kube, namespace, elsewhere)


@pytest.mark.parametrize("name", ["dev", "staging", "prod"])
def test_the_ceiling_is_the_estimators_figure(kube: Kube, namespace: str, name: str) -> None:
    """CEL computes what cost/estimate.py computes: a cent under the estimate refuses, a cent over admits."""
    spec = example(name)
    usd = estimate(effective(EnvironmentSpec.model_validate(spec))).monthly_usd
    set_quota(kube, namespace, {"maxMonthlyUSD": round(usd - 0.01, 2)})
    assert f"spec: the estimated cost {usd:.2f} USD/month" in refused(kube, namespace, spec)
    set_quota(kube, namespace, {"maxMonthlyUSD": round(usd + 0.01, 2)})
    admitted(kube, namespace, spec)


def test_a_namespace_without_a_quota_is_unconstrained(kube: Kube, namespace: str) -> None:
    assert refusal(kube, namespace, {**example("prod"), "aws": {"region": "sa-east-1"}}) is None


def test_the_count_is_kubernetes_object_count_quota(kube: Kube, namespace: str) -> None:
    """As the README shows beside the AnalyticsEnvironmentQuota: exact under concurrent creates."""
    kube.core.create_namespaced_resource_quota(namespace, client.V1ResourceQuota(
        metadata=client.V1ObjectMeta(name="environments"),
        spec=client.V1ResourceQuotaSpec(hard={"count/analyticsenvironments.aenv.dev": "1"})))
    counting(kube, namespace, "environments")
    kube.create_env(namespace, "first", example("dev"))
    try:
        kube.create_env(namespace, "second", example("dev"), dry_run=True)
    except ApiException as e:
        assert e.status == 403 and "exceeded quota: environments" in e.body, e.body
        assert "limited: count/analyticsenvironments.aenv.dev=1" in e.body, e.body
    else:
        raise AssertionError("a second environment was admitted over the count")


def counting(kube: Kube, namespace: str, name: str) -> None:
    """Until the quota controller has counted the environments, the API server refuses every create with "status
    unknown for quota" (the local control plane recounts every 15 s)."""
    key = "count/analyticsenvironments.aenv.dev"
    wait_for(lambda: key in (kube.core.read_namespaced_resource_quota(name, namespace).status.used or {}),
             90, f"the quota controller to count {key} in {namespace}/{name}")


def test_the_readme_quota_works_as_written(kube: Kube, policy: None) -> None:
    text = (REPO / "README.md").read_text().split("### Cost and quotas", 1)[1]
    docs = list(yaml.safe_load_all(text.split("```yaml\n", 1)[1].split("```", 1)[0]))
    blocks = text.split("```")[1::2]  # the fenced blocks' contents
    said = " ".join(next(b for b in blocks if b.lstrip("\n").startswith("spec: ")).split())  # the printed refusal
    namespace = docs[0]["metadata"]["name"]
    kube.core.create_namespace(docs[0])
    try:
        quota = docs[1]
        kube.custom.create_namespaced_custom_object(GROUP, VERSION, namespace, QUOTA_PLURAL, quota)
        kube.core.create_namespaced_resource_quota(namespace, docs[2])
        counting(kube, namespace, docs[2]["metadata"]["name"])
        admitted(kube, namespace, example("staging"))
        assert "spec.tier: prod is not among the tiers" in refused(kube, namespace, example("prod"))
        set_quota(kube, namespace, {"maxMonthlyUSD": 150}, name=quota["metadata"]["name"])
        assert said in refused(kube, namespace, example("staging"))
    finally:
        kube.core.delete_namespace(namespace)
