"""The spec models: what is accepted, what is rejected, and that errors name the field."""

from pathlib import Path

import pytest
import yaml
from pydantic import ValidationError

from aenv.api import EnvironmentSpec

EXAMPLES = sorted((Path(__file__).parents[2] / "examples").glob("*.yaml"))


def spec(**extra: object) -> dict[str, object]:
    return {"tier": "dev", "aws": {"region": "us-east-1"}, **extra}


def rejected(doc: dict[str, object]) -> str:
    with pytest.raises(ValidationError) as e:
        EnvironmentSpec.model_validate(doc)
    return str(e.value)


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_examples_are_valid(path: Path) -> None:
    doc = yaml.safe_load(path.read_text())
    assert doc["apiVersion"] == "aenv.dev/v1alpha1"
    EnvironmentSpec.model_validate(doc["spec"])


def test_minimal_spec_takes_defaults() -> None:
    s = EnvironmentSpec.model_validate(spec(queues=[{"name": "events"}]))
    assert s.aws.mode == "boto3"
    assert s.queues[0].dead_letter.enabled
    assert s.queues[0].dead_letter.max_receive_count == 5
    assert s.cache is None


def test_camel_case_round_trip() -> None:
    doc = spec(queues=[{"name": "events", "visibilityTimeoutSeconds": 90, "deadLetter": {"maxReceiveCount": 7}}],
               database={"multiAZ": True, "storageGiB": 200})
    assert EnvironmentSpec.model_validate(doc).wire() == {
        **doc, "aws": {"region": "us-east-1", "mode": "boto3", "subnetIds": []},
        "queues": [{"name": "events", "fifo": False, "visibilityTimeoutSeconds": 90,
                    "messageRetentionSeconds": 345600,
                    "deadLetter": {"enabled": True, "maxReceiveCount": 7, "messageRetentionSeconds": 1209600}}],
        "database": {"engine": "postgres", "engineVersion": "16", "multiAZ": True, "storageGiB": 200,
                     "databaseName": "analytics"},
        "topics": [], "workloads": [],
    }


@pytest.mark.parametrize(("doc", "field"), [
    (spec(tier="qa"), "tier"),
    (spec(aws={"region": "US East"}), "aws.region"),
    (spec(aws={"region": "us-east-1", "mode": "terraform"}), "aws.mode"),
    (spec(queues=[{"name": "Bad Name!"}]), "queues.0.name"),
    (spec(queues=[{"name": "events", "deadLetter": {"maxReceiveCount": 0}}]), "queues.0.deadLetter.maxReceiveCount"),
    (spec(queues=[{"name": "events", "visibilityTimeoutSeconds": 50000}]), "queues.0.visibilityTimeoutSeconds"),
    (spec(database={"engineVersion": "14"}), "database.engineVersion"),
    (spec(cache={"replicas": 9}), "cache.replicas"),
    (spec(deletionPolicy="Keep"), "deletionPolicy"),
    (spec(queues=[{"name": "events", "colour": "red"}]), "queues.0.colour"),
    ({"aws": {"region": "us-east-1"}}, "tier"),
])
def test_bad_values_name_the_field(doc: dict[str, object], field: str) -> None:
    assert field in rejected(doc)


def test_duplicate_queue_names_rejected() -> None:
    assert "spec.queues: duplicate name events" in rejected(spec(queues=[{"name": "events"}, {"name": "events"}]))


@pytest.mark.parametrize(("doc", "field"), [
    (spec(secrets={"apiKeys": ["partner", "partner"]}), "secrets.apiKeys"),
    (spec(queues=[{"name": "events"}], topics=[{"name": "alerts", "subscribers": ["events", "events"]}]),
     "topics.0.subscribers"),
    (spec(gateway={"routes": ["trade", "trade"]}), "gateway.routes"),
    (spec(aws={"region": "us-east-1", "subnetIds": ["subnet-0123456789", "subnet-0123456789"]}), "aws.subnetIds"),
])
def test_lists_whose_entries_each_make_a_resource_refuse_duplicates(doc: dict[str, object], field: str) -> None:
    # Each entry is a secret, a subscription, a route or a subnet of its own: a duplicate once planned one twice.
    message = rejected(doc)
    assert field in message and "duplicate value" in message, message


def test_uses_must_name_something_in_the_spec() -> None:
    doc = spec(queues=[{"name": "events"}], workloads=[{"name": "api", "image": "x", "uses": ["events", "cache"]}])
    assert "spec.workloads[0].uses: cache is not in this spec" in rejected(doc)
    doc["cache"] = {}
    EnvironmentSpec.model_validate(doc)


def test_topic_subscribers_must_be_queues() -> None:
    doc = spec(queues=[{"name": "events"}], topics=[{"name": "alerts", "subscribers": ["nope"]}])
    assert "spec.topics[0].subscribers: nope is not a queue" in rejected(doc)


def test_queue_name_cannot_take_the_dead_letter_suffix() -> None:
    assert "must not end in -dlq" in rejected(spec(queues=[{"name": "events-dlq"}]))


def test_rollout_steps_set_exactly_one_action() -> None:
    doc = spec(rollout={"strategy": "canary", "canary": {"steps": [{"setWeight": 10, "pause": {}}]}})
    assert "exactly one of setWeight, pause, analysis or setCanaryScale" in rejected(doc)


def test_rollout_strategy_needs_its_settings() -> None:
    assert "strategy blueGreen needs rollout.blueGreen" in rejected(spec(rollout={"strategy": "blueGreen"}))


def test_metric_needs_one_provider() -> None:
    metric = {"name": "errors", "successCondition": "result < 0.01"}
    doc = spec(rollout={"strategy": "canary", "canary": {"steps": [{"analysis": {"metrics": [metric]}}]}})
    assert "exactly one of prometheus, cloudwatch or web" in rejected(doc)
