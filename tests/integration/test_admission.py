"""The CRD is installed and rejects invalid resources at admission, naming the field."""

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from .kube import Kube, rejected, unserved_namespace

EXAMPLES = sorted((Path(__file__).parents[2] / "examples").glob("*.yaml"))


@pytest.fixture
def namespace(kube: Kube) -> Iterator[str]:
    """A namespace no operator serves: admission is the API server's alone, and nothing is made in AWS (in a whole
    run the ACK controllers are up, and an environment in mode ack would be made real and outlive the test)."""
    yield from unserved_namespace(kube, "aenv-admission-")


def spec(**extra: Any) -> dict[str, Any]:
    return {"tier": "dev", "aws": {"region": "us-east-1"}, **extra}


def test_crd_is_served_with_short_name_and_columns(kube: Kube) -> None:
    crd = kube.ext.read_custom_resource_definition("analyticsenvironments.aenv.dev")
    assert crd.spec.names.short_names == ["aenv"]
    columns = [c.name for c in crd.spec.versions[0].additional_printer_columns]
    assert columns == ["Tier", "Phase", "Ready", "Expires", "USD/Month", "Age"]
    served = {r.name: r for r in kube.custom.get_api_resources("aenv.dev", "v1alpha1").resources}
    assert "analyticsenvironments/status" in served
    assert served["analyticsenvironments"].short_names == ["aenv"]


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_examples_pass_admission(kube: Kube, namespace: str, path: Path) -> None:
    doc = yaml.safe_load(path.read_text())
    kube.create_env(namespace, doc["metadata"]["name"], doc["spec"], dry_run=True)


@pytest.mark.parametrize(("bad", "field", "says"), [
    (spec(tier="qa"), "spec.tier", "Unsupported value"),
    (spec(queues=[{"name": "Bad Name!"}]), "spec.queues[0].name", "should match"),
    (spec(queues=[{"name": "events-dlq"}]), "spec.queues[0].name", "must not end in -dlq"),
    (spec(queues=[{"name": "events"}, {"name": "events"}]), "spec.queues[1]", "Duplicate value"),
    (spec(queues=[{"name": "events", "deadLetter": {"maxReceiveCount": 0}}]),
     "spec.queues[0].deadLetter.maxReceiveCount", "should be greater than or equal to 1"),
    (spec(workloads=[{"name": "api", "image": "x", "uses": ["cache"]}]), "spec.workloads",
     "spec.workloads[].uses must be"),
    (spec(queues=[{"name": "events"}], topics=[{"name": "alerts", "subscribers": ["nope"]}]), "spec.topics",
     "must name a queue in spec.queues"),
    (spec(queues=[{"name": "events", "fifo": True}], topics=[{"name": "alerts", "subscribers": ["events"]}]),
     "spec.topics", "FIFO for a FIFO topic"),
    (spec(database={"engineVersion": "14"}), "spec.database.engineVersion", "should match"),
    (spec(rollout={"strategy": "canary", "canary": {"steps": [{"setWeight": 10, "pause": {}}]}}),
     "spec.rollout.canary.steps[0]", "a step sets exactly one of"),
    (spec(rollout={"strategy": "blueGreen"}), "spec.rollout.blueGreen", "strategy blueGreen needs"),
    (spec(queues=[{"name": "events", "colour": "red"}]), "spec.queues[0].colour", "unknown field"),
    ({"aws": {"region": "us-east-1"}}, "spec.tier", "Required value"),
    (spec(ttl="3d"), "spec.ttl", "should match"),
    (spec(ttl="2161h"), "spec.ttl", "must be between 1s and 2160h"),
    (spec(ttl="72h", expiresAt="2030-01-01T00:00:00Z"), "spec.expiresAt", "at most one of spec.ttl or spec.expiresAt"),
    (spec(expiresAt="next friday"), "spec.expiresAt", "date-time"),
    ({**spec(ttl="72h"), "tier": "prod"}, "spec.allowProdExpiry", "only with spec.allowProdExpiry: true"),
    (spec(monitoring={"notificationTargets": [{"slack": {"secretKeyRef": {"name": "hooks", "key": "slack"}}}]}),
     "spec.monitoring.notificationTargets[0].name", "needs a name"),
    (spec(monitoring={"notificationTargets": [{"name": "ops", "email": "ops@example.com",
                                               "webhook": {"secretKeyRef": {"name": "hooks", "key": "url"}}}]}),
     "spec.monitoring.notificationTargets[0]", "exactly one of email, topicArn, slack or webhook"),
])
def test_invalid_resources_are_rejected_naming_the_field(kube: Kube, namespace: str, bad: dict[str, Any],
                                                         field: str, says: str) -> None:
    message = rejected(lambda: kube.create_env(namespace, "bad", bad))
    assert field in message and says in message, message


def test_prod_expires_only_when_its_spec_allows_it(kube: Kube, namespace: str) -> None:
    prod = {**spec(ttl="72h", allowProdExpiry=True, deletionPolicy="Delete"), "tier": "prod"}
    kube.create_env(namespace, "prod", prod, dry_run=True)


def test_immutable_fields_are_refused_on_update(kube: Kube, namespace: str) -> None:
    kube.create_env(namespace, "env", spec(queues=[{"name": "events"}], deletionPolicy="Delete"))
    message = rejected(lambda: kube.patch_spec(namespace, "env", {"aws": {"region": "eu-west-1"}}))
    assert "spec.aws.region" in message and "immutable" in message
    message = rejected(lambda: kube.patch_spec(namespace, "env", {"aws": {"mode": "ack"}}))
    assert "spec.aws.mode" in message and "immutable" in message
    message = rejected(lambda: kube.patch_spec(namespace, "env", {"queues": [{"name": "events", "fifo": True}]}))
    assert "spec.queues[0].fifo" in message and "immutable" in message


@pytest.mark.parametrize(("before", "after", "field"), [
    ({"cache": {}}, {"cache": {"engine": "valkey"}}, "spec.cache.engine"),
    ({"cache": {"transitEncryption": True}}, {"cache": {"transitEncryption": False}}, "spec.cache.transitEncryption"),
    ({"database": {"storageGiB": 100}}, {"database": {"storageGiB": 50}}, "spec.database.storageGiB"),
    ({"database": {}}, {"database": {"databaseName": "other"}}, "spec.database.databaseName"),
])
def test_changes_aws_cannot_make_in_place_are_refused(kube: Kube, namespace: str, before: dict[str, Any],
                                                      after: dict[str, Any], field: str) -> None:
    kube.create_env(namespace, "env", {**spec(**before, deletionPolicy="Delete"),
                                       "aws": {"region": "us-east-1", "mode": "ack"}})
    message = rejected(lambda: kube.custom.patch_namespaced_custom_object(
        "aenv.dev", "v1alpha1", namespace, "analyticsenvironments", "env", {"spec": after}, dry_run="All"))
    assert field in message and ("immutable" in message or "cannot shrink" in message), message
