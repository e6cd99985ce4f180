"""An environment from creation to deletion, against the real control plane and moto."""

from __future__ import annotations

import base64
import json
from typing import Any

from aenv.local.processes import wait_for
from aenv.naming import TAG_COMPONENT, TAG_ENVIRONMENT, TAG_RELEASED, TAG_UID

from .conftest import Operator
from .kube import DEADLINE, Kube


def spec(**extra: Any) -> dict[str, Any]:
    return {"tier": "dev", "aws": {"region": "us-east-1"},
            "queues": [{"name": "events", "deadLetter": {"maxReceiveCount": 3}}, {"name": "trades", "fifo": True}],
            **extra}


def queue_names(sqs: Any, namespace: str) -> list[str]:
    return sorted(u.rsplit("/", 1)[-1] for u in sqs.list_queues(QueueNamePrefix=f"aenv-{namespace}-")
                  .get("QueueUrls", []))


def attributes(sqs: Any, name: str) -> dict[str, str]:
    url = sqs.get_queue_url(QueueName=name)["QueueUrl"]
    attrs: dict[str, str] = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    return attrs


def test_create_becomes_ready_with_queues_in_aws(kube: Kube, namespace: str, sqs: Any) -> None:
    kube.create_env(namespace, "defi", spec())
    env = kube.wait_condition(namespace, "defi", "Ready")
    p = f"aenv-{namespace}-defi"
    assert queue_names(sqs, namespace) == sorted(
        [f"{p}-events", f"{p}-events-dlq", f"{p}-trades.fifo", f"{p}-trades-dlq.fifo"])

    redrive = json.loads(attributes(sqs, f"{p}-events")["RedrivePolicy"])
    assert redrive["deadLetterTargetArn"] == attributes(sqs, f"{p}-events-dlq")["QueueArn"]
    assert int(redrive["maxReceiveCount"]) == 3
    assert attributes(sqs, f"{p}-trades.fifo")["FifoQueue"] == "true"
    tags = sqs.list_queue_tags(QueueUrl=sqs.get_queue_url(QueueName=f"{p}-events")["QueueUrl"])["Tags"]
    assert tags == {TAG_ENVIRONMENT: f"{namespace}/defi", TAG_UID: env["metadata"]["uid"], TAG_COMPONENT: "queues"}

    status = env["status"]
    assert status["phase"] == "Ready" and status["observedGeneration"] == 1
    assert {q["name"] for q in status["queues"]} == {"events", "trades"}
    events = next(q for q in status["queues"] if q["name"] == "events")
    assert events["url"].endswith(f"/{p}-events") and events["deadLetterArn"].endswith(f":{p}-events-dlq")
    assert kube.condition(env, "QueuesReady")["status"] == "True"  # type: ignore[index]
    assert kube.condition(env, "EncryptionReady")["status"] == "True"  # type: ignore[index]
    assert kube.condition(env, "CacheReady") is None  # not asked for: no condition
    assert kube.condition(env, "Stalled")["status"] == "False"  # type: ignore[index]
    kube.wait_event(namespace, "defi", "AllComponentsReady")

    # The connection Secret: every endpoint the workloads need, owned by the environment.
    assert status["connectionSecret"] == "defi-connection"
    secret = kube.core.read_namespaced_secret("defi-connection", namespace)
    data = {k: base64.b64decode(v).decode() for k, v in secret.data.items()}
    assert data["QUEUE_EVENTS_URL"] == events["url"] and data["QUEUE_TRADES_DLQ_URL"].endswith(f"/{p}-trades-dlq.fifo")
    assert data["AWS_REGION"] == "us-east-1"
    owner = secret.metadata.owner_references[0]
    assert (owner.kind, owner.uid, owner.controller) == ("AnalyticsEnvironment", env["metadata"]["uid"], True)


def test_spec_change_is_reconciled(kube: Kube, namespace: str, sqs: Any) -> None:
    kube.create_env(namespace, "defi", spec())
    kube.wait_condition(namespace, "defi", "Ready")
    p = f"aenv-{namespace}-defi"

    changed = spec(queues=[{"name": "events", "visibilityTimeoutSeconds": 120, "deadLetter": {"maxReceiveCount": 7}},
                           {"name": "alerts"}])
    env = kube.replace_spec(namespace, "defi", changed)
    assert env["metadata"]["generation"] == 2
    kube.wait_condition(namespace, "defi", "Ready", generation=2)

    events = attributes(sqs, f"{p}-events")
    assert events["VisibilityTimeout"] == "120"
    assert int(json.loads(events["RedrivePolicy"])["maxReceiveCount"]) == 7
    # trades left the spec: with the dev tier's deletionPolicy Delete, it and its DLQ are deleted.
    assert queue_names(sqs, namespace) == sorted([f"{p}-events", f"{p}-events-dlq", f"{p}-alerts", f"{p}-alerts-dlq"])
    status = kube.get_env(namespace, "defi")["status"]
    assert {q["name"] for q in status["queues"]} == {"events", "alerts"}
    assert not any(r["key"].startswith("queue/trades") for r in status["resources"])


def test_drift_is_corrected_and_idle_writes_nothing(kube: Kube, namespace: str, sqs: Any,
                                                    operator: Operator) -> None:
    kube.create_env(namespace, "defi", spec())
    kube.wait_condition(namespace, "defi", "Ready")
    p = f"aenv-{namespace}-defi"
    url = sqs.get_queue_url(QueueName=f"{p}-events")["QueueUrl"]
    sqs.set_queue_attributes(QueueUrl=url, Attributes={"VisibilityTimeout": "999"})
    wait_for(lambda: attributes(sqs, f"{p}-events")["VisibilityTimeout"] == "30", DEADLINE,
             "the resync to correct the visibility timeout")

    # At idle the resync runs but writes nothing: the resource version stays put across several passes.
    version = kube.get_env(namespace, "defi")["metadata"]["resourceVersion"]
    runs = operator.log_text().count("Timer 'resync' succeeded")
    wait_for(lambda: operator.log_text().count("Timer 'resync' succeeded") >= runs + 3, DEADLINE,
             "three more resync passes")
    assert kube.get_env(namespace, "defi")["metadata"]["resourceVersion"] == version


def test_delete_removes_queues_and_releases_the_finalizer(kube: Kube, namespace: str, sqs: Any) -> None:
    kube.create_env(namespace, "defi", spec())
    env = kube.wait_condition(namespace, "defi", "Ready")
    assert "aenv.dev/finalizer" in env["metadata"]["finalizers"]
    assert len(queue_names(sqs, namespace)) == 4
    kube.delete_env(namespace, "defi")
    wait_for(lambda: kube.env_gone(namespace, "defi"), DEADLINE, "the environment to be deleted")
    assert queue_names(sqs, namespace) == []


def test_retain_leaves_queues_marked_released(kube: Kube, namespace: str, sqs: Any) -> None:
    kube.create_env(namespace, "defi", spec(deletionPolicy="Retain"))
    kube.wait_condition(namespace, "defi", "Ready")
    kube.delete_env(namespace, "defi")
    wait_for(lambda: kube.env_gone(namespace, "defi"), DEADLINE, "the environment to be deleted")
    names = queue_names(sqs, namespace)
    assert len(names) == 4
    for name in names:
        tags = sqs.list_queue_tags(QueueUrl=sqs.get_queue_url(QueueName=name)["QueueUrl"])["Tags"]
        assert tags[TAG_RELEASED] == "true"

    # A new environment of the same name adopts what was retained instead of failing or duplicating.
    kube.create_env(namespace, "defi", spec())
    env = kube.wait_condition(namespace, "defi", "Ready")
    assert queue_names(sqs, namespace) == names
    tags = sqs.list_queue_tags(QueueUrl=sqs.get_queue_url(QueueName=names[0])["QueueUrl"])["Tags"]
    assert tags[TAG_UID] == env["metadata"]["uid"] and TAG_RELEASED not in tags


def test_restart_with_lost_status_creates_no_duplicates(kube: Kube, namespace: str, sqs: Any,
                                                        operator: Operator) -> None:
    kube.create_env(namespace, "defi", spec())
    kube.wait_condition(namespace, "defi", "Ready")
    before = queue_names(sqs, namespace)

    operator.kill()
    # As if the operator had died between creating the queues and writing status.
    kube.custom.patch_namespaced_custom_object_status(
        "aenv.dev", "v1alpha1", namespace, "analyticsenvironments", "defi",
        {"status": {"queues": None, "resources": None, "conditions": None, "phase": None}})
    kube.patch_spec(namespace, "defi", {"queues": spec()["queues"] + [{"name": "alerts"}]})
    operator.start()

    kube.wait_condition(namespace, "defi", "Ready", generation=2)
    p = f"aenv-{namespace}-defi"
    assert queue_names(sqs, namespace) == sorted([*before, f"{p}-alerts", f"{p}-alerts-dlq"])
    status = kube.get_env(namespace, "defi")["status"]
    assert len([r for r in status["resources"] if r["component"] == "queues"]) == 6


def test_a_conflict_is_reported_and_other_queues_still_converge(kube: Kube, namespace: str, sqs: Any) -> None:
    p = f"aenv-{namespace}-defi"
    sqs.create_queue(QueueName=f"{p}-events-dlq")  # made by hand, not by aenv
    kube.create_env(namespace, "defi", spec())
    env = kube.wait_condition(namespace, "defi", "QueuesReady", "False", reason="Conflict")
    queues = kube.condition(env, "QueuesReady")
    assert queues is not None
    assert kube.condition(env, "Stalled")["status"] == "True"  # type: ignore[index]
    assert f"{p}-events-dlq already exists" in queues["message"]
    assert env["status"]["phase"] == "Failed"
    assert kube.wait_event(namespace, "defi", "Conflict").type == "Warning"
    assert f"{p}-trades.fifo" in queue_names(sqs, namespace)  # the rest went ahead

    # The user removes the stray queue; aenv converges on the next pass without being poked.
    sqs.delete_queue(QueueUrl=sqs.get_queue_url(QueueName=f"{p}-events-dlq")["QueueUrl"])
    kube.wait_condition(namespace, "defi", "Ready")
