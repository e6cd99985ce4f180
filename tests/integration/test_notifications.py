"""Notifications reach a Slack-shaped and a webhook target served on 127.0.0.1: readiness and rollout transitions
arrive at both, a target answering 500 first gets each notification once, a restarted operator sends nothing
twice, and a wrong Secret key is a condition naming the target and the field, never the URL. A canary's pause,
promotion and abort, and an expiry's warning and end, reach the webhook as well."""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client

from aenv.api import EnvironmentSpec
from aenv.local.emulator import AwsEmulator
from aenv.local.processes import wait_for
from aenv.naming import EnvironmentRef
from aenv.plan import monitoring
from aenv.plan.monitoring import TOPIC_KEY

from .conftest import Operator, fresh_namespace
from .kube import Kube
from .test_rollouts import cli


class Receiver:
    """A tiny webhook receiver: what each path received, and the status codes to answer with first."""

    def __init__(self) -> None:
        self.received: dict[str, list[dict[str, Any]]] = {}
        self.failures: dict[str, list[int]] = {}  # path -> codes answered before 200
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                with receiver.lock:
                    queued = receiver.failures.get(self.path, [])
                    code = queued.pop(0) if queued else 200
                    if code == 200:
                        receiver.received.setdefault(self.path, []).append(body)
                self.send_response(code)
                self.end_headers()

            def log_message(self, *_: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def got(self, path: str) -> list[dict[str, Any]]:
        with self.lock:
            return list(self.received.get(path, []))


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    try:
        yield r
    finally:
        r.server.shutdown()
        r.server.server_close()


def spec(image: str, webhook_key: str = "webhook") -> dict[str, Any]:
    ref = {"name": "hooks"}
    return {
        "tier": "dev", "aws": {"region": "us-east-1"}, "deletionPolicy": "Delete",
        "queues": [{"name": "events"}],
        "workloads": [{"name": "api", "image": image, "uses": ["events"]}],
        "monitoring": {"alarms": False, "dashboard": False, "notificationTargets": [
            {"name": "team", "slack": {"secretKeyRef": {**ref, "key": "slack"}}},
            {"name": "audit", "webhook": {"secretKeyRef": {**ref, "key": webhook_key}}}]},
    }


def types(received: list[dict[str, Any]]) -> list[str]:
    return [r["type"] for r in received]


def test_transitions_reach_slack_and_webhook_once_across_retries_and_a_restart(
        kube: Kube, namespace: str, operator: Operator, receiver: Receiver) -> None:
    urls = {"slack": f"{receiver.url}/slack", "webhook": f"{receiver.url}/hook"}
    kube.core.create_namespaced_secret(namespace, client.V1Secret(
        metadata=client.V1ObjectMeta(name="hooks"), string_data=urls))
    receiver.failures["/hook"] = [500]  # the webhook's first answer: retried with backoff
    kube.create_env(namespace, "notified", spec("example/api:1"))

    def delivered(*wanted: str) -> bool:
        return all(w in types(receiver.got("/hook")) for w in wanted) and \
            len(receiver.got("/slack")) == len(receiver.got("/hook"))

    # A first deployment has no steps: it completes (the second rollout below starts and completes).
    wait_for(lambda: delivered("environment.ready", "rollout.completed"), 60,
             "readiness and rollout notifications at both targets")
    hook = receiver.got("/hook")
    first = hook[0]
    assert set(first) == {"id", "environment", "type", "reason", "message", "time"}
    assert first["environment"] == {"namespace": namespace, "name": "notified"}
    texts = [s["text"] for s in receiver.got("/slack")]
    assert all(t.startswith(f"[{namespace}/notified] ") for t in texts)
    assert any("rollout.completed" in t and "api:" in t for t in texts), texts
    assert receiver.failures["/hook"] == []  # the 500 was answered, and the notification came after all
    kube.wait_condition(namespace, "notified", "NotificationsDelivered", "True", reason="Delivered")

    operator.stop()  # a restart: the ledger ConfigMap says what was sent
    operator.start()
    kube.patch_spec(namespace, "notified", {"workloads": [{"name": "api", "image": "example/api:2",
                                                           "uses": ["events"]}]})
    wait_for(lambda: types(receiver.got("/hook")).count("rollout.completed") == 2 and delivered("rollout.started"),
             60, "the second rollout's notifications")
    ids = [r["id"] for r in receiver.got("/hook")]
    assert len(ids) == len(set(ids)), f"sent twice: {types(receiver.got('/hook'))}"
    assert len(receiver.got("/slack")) == len(ids)

    kube.patch_spec(namespace, "notified", {"monitoring": spec("example/api:2", webhook_key="nope")["monitoring"]})
    env = kube.wait_condition(namespace, "notified", "NotificationsDelivered", "False", reason="DeliveryFailed")
    message = kube.condition(env, "NotificationsDelivered")["message"]  # type: ignore[index]
    assert "audit" in message and "spec.monitoring.notificationTargets[1].webhook.secretKeyRef.key" in message
    assert "the Secret hooks has no key nope" in message and "team:" not in message  # the Slack target is fine
    assert kube.condition(env, "Ready")["status"] == "True"  # type: ignore[index]

    everything = json.dumps(env) + operator.log_text() + " ".join(
        e.message or "" for e in kube.events(namespace, "notified"))
    assert receiver.url not in everything, "a target's URL reached the status, an Event or the log"


def test_pause_promotion_abort_and_expiry_reach_the_webhook(kube: Kube, namespace: str, operator: Operator,
                                                             receiver: Receiver) -> None:
    kube.core.create_namespaced_secret(namespace, client.V1Secret(
        metadata=client.V1ObjectMeta(name="hooks"), string_data={"webhook": f"{receiver.url}/hook"}))
    targets = [{"name": "audit", "webhook": {"secretKeyRef": {"name": "hooks", "key": "webhook"}}}]

    def workload(image: str) -> dict[str, Any]:
        return {"name": "api", "image": image, "replicas": 2}

    base = {"tier": "dev", "aws": {"region": "us-east-1"}, "deletionPolicy": "Delete",
            "monitoring": {"alarms": False, "dashboard": False, "notificationTargets": targets}}
    rollout = {"strategy": "canary", "canary": {"steps": [{"setWeight": 50}, {"pause": {}}, {"setWeight": 100}]}}
    kube.create_env(namespace, "canary", {**base, "workloads": [workload("example/api:1")], "rollout": rollout})
    kube.create_env(namespace, "brief", {**base, "ttl": "15s"})
    wait_for(lambda: types(receiver.got("/hook")).count("rollout.completed") == 1, 60, "the first deployment")

    def arrived(kind: str, count: int = 1) -> bool:
        return [r["type"] for r in receiver.got("/hook")
                if r["environment"]["name"] == "canary"].count(kind) == count

    kube.patch_spec(namespace, "canary", {"workloads": [workload("example/api:2")]})
    wait_for(lambda: arrived("rollout.paused"), 60, "the pause awaiting approval at the webhook")
    cli(operator, "promote", "canary", "-n", namespace)
    wait_for(lambda: arrived("rollout.promoted") and arrived("rollout.completed", 2), 60,
             "the promotion and the completion at the webhook")

    kube.patch_spec(namespace, "canary", {"workloads": [workload("example/api:3")]})
    wait_for(lambda: arrived("rollout.paused", 2), 60, "the second pause")
    cli(operator, "abort", "canary", "-n", namespace)
    wait_for(lambda: arrived("rollout.aborted"), 60, "the abort at the webhook")

    def brief() -> list[str]:
        return [r["type"] for r in receiver.got("/hook") if r["environment"]["name"] == "brief"]

    wait_for(lambda: "expiry.warning" in brief() and "expiry.expired" in brief(), 60, "the expiry notifications")
    wait_for(lambda: kube.env_gone(namespace, "brief"), 60, "the expired environment deleted")
    ids = [r["id"] for r in receiver.got("/hook")]
    assert len(ids) == len(set(ids)), f"sent twice: {types(receiver.got('/hook'))}"


def test_email_targets_get_every_notification_through_the_alarm_topic(
        kube: Kube, emulator: AwsEmulator, namespace: str, operator: Operator, receiver: Receiver) -> None:
    """Alarms off, an email target and a webhook target: aenv publishes each notification to the alarm topic, which
    emails its subscribers. moto's email subscriptions deliver nothing, so an SQS queue subscribed to the topic
    receives what they would."""
    kube.core.create_namespaced_secret(namespace, client.V1Secret(
        metadata=client.V1ObjectMeta(name="hooks"), string_data={"webhook": f"{receiver.url}/hook"}))
    body = {"tier": "dev", "aws": {"region": "us-east-1"}, "deletionPolicy": "Delete",
            "workloads": [{"name": "api", "image": "example/api:1"}],
            "monitoring": {"alarms": False, "dashboard": False, "notificationTargets": [
                {"email": "oncall@example.com"},
                {"name": "audit", "webhook": {"secretKeyRef": {"name": "hooks", "key": "webhook"}}}]}}
    # The queue must be subscribed before the first notification: the topic is made here, as the plan wants it
    # (its name and tags, which the operator adopts as its own), while the operator is stopped.
    operator.stop()
    created = kube.create_env(namespace, "mailed", body)
    ref = EnvironmentRef(namespace, "mailed", created["metadata"]["uid"])
    topic = next(d for d in monitoring.plan(ref, EnvironmentSpec.model_validate(body)) if d.key == TOPIC_KEY)
    sns, sqs = emulator.client("sns"), emulator.client("sqs")
    topic_arn = sns.create_topic(Name=topic.name, Tags=[{"Key": k, "Value": v} for k, v in topic.tags.items()])[
        "TopicArn"]
    queue = sqs.create_queue(QueueName=f"{namespace}-mail")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=topic_arn, Protocol="sqs", Endpoint=queue_arn)
    operator.start()

    mails: dict[str, list[dict[str, Any]]] = {}  # notification id -> the messages carrying it

    def receive() -> set[str]:
        for m in sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10, WaitTimeSeconds=1).get("Messages", []):
            envelope = json.loads(m["Body"])  # SNS's: Subject, Message
            found = re.search(r"^Notification id: (\w+)$", envelope["Message"], re.MULTILINE)
            mails.setdefault(found.group(1) if found else "", []).append(envelope)
            sqs.delete_message(QueueUrl=queue, ReceiptHandle=m["ReceiptHandle"])
        return set(mails)

    wait_for(lambda: {"environment.ready", "rollout.completed"} <= set(types(receiver.got("/hook"))), 30,
             "readiness and rollout notifications at the webhook")
    wait_for(lambda: {r["id"] for r in receiver.got("/hook")} <= receive(), 30,
             "the same notifications published to the alarm topic")
    env = kube.wait_condition(namespace, "mailed", "NotificationsDelivered", "True", reason="Delivered")
    assert "email.alarm-topic" in kube.condition(env, "NotificationsDelivered")["message"]  # type: ignore[index]
    receive()  # anything sent twice would be here by now
    hooked = {r["id"]: r["type"] for r in receiver.got("/hook")}
    assert set(mails) == set(hooked) and all(len(m) == 1 for m in mails.values()), \
        f"sent twice, not sent or without an id: { {hooked.get(i, i): len(m) for i, m in mails.items()} }"
    ready = next(m for i, (m,) in mails.items() if hooked[i] == "environment.ready")
    assert ready["Subject"] == f"[{namespace}/mailed] environment.ready: Ready"
    assert ready["Message"].startswith(f"[{namespace}/mailed] environment.ready (Ready)")
    assert receiver.url not in json.dumps(mails)
    subscriptions = sns.list_subscriptions_by_topic(TopicArn=topic_arn)["Subscriptions"]
    assert {s["Protocol"] for s in subscriptions} == {"sqs", "email"}  # the email target's own subscription too


ALARM_CHANNEL = "aenv-alarm-test"


@pytest.fixture(scope="module")
def alarm_operator(tmp_path_factory: pytest.TempPathFactory, kubeconfig: Path, kube: Kube,
                   emulator: AwsEmulator) -> Iterator[Operator]:
    """An operator with its own event channel: the suite's other operators consume theirs."""
    with Operator(tmp_path_factory.mktemp("alarm-operator"), kubeconfig, emulator, prefix="aenv-alarm-",
                  env={"AENV_DRIFT_CHANNEL": ALARM_CHANNEL}) as op:
        yield op


@pytest.fixture
def alarm_namespace(kube: Kube, emulator: AwsEmulator, alarm_operator: Operator) -> Iterator[str]:
    emulator.reset()
    yield from fresh_namespace(kube, alarm_operator)


def test_an_alarm_state_change_reaches_the_webhook_through_aenvs_event_rule(
        kube: Kube, emulator: AwsEmulator, alarm_namespace: str, receiver: Receiver) -> None:
    namespace = alarm_namespace
    kube.core.create_namespaced_secret(namespace, client.V1Secret(
        metadata=client.V1ObjectMeta(name="hooks"), string_data={"webhook": f"{receiver.url}/hook"}))
    kube.create_env(namespace, "alarmed", {
        "tier": "dev", "aws": {"region": "us-east-1"}, "deletionPolicy": "Delete", "queues": [{"name": "events"}],
        "monitoring": {"dashboard": False, "notificationTargets": [
            {"name": "audit", "webhook": {"secretKeyRef": {"name": "hooks", "key": "webhook"}}}]}})
    kube.wait_condition(namespace, "alarmed", "Ready")
    events, sqs = emulator.client("events"), emulator.client("sqs")
    wait_for(lambda: ALARM_CHANNEL in [r["Name"] for r in events.list_rules(NamePrefix=ALARM_CHANNEL)["Rules"]]
             and events.list_targets_by_rule(Rule=ALARM_CHANNEL)["Targets"], 30, "aenv's event rule and its queue")
    alarm = f"aenv-{namespace}-alarmed-P1-queue-events-dead-letters"
    change = {"alarmName": alarm, "previousState": {"value": "OK"}, "state": {
        "value": "ALARM", "reason": "Threshold Crossed: 1 datapoint [12.0] was greater than the threshold (10.0).",
        "timestamp": "2026-12-01T12:00:00.000+0000"}}
    # What CloudWatch sends EventBridge (moto's alarms send nothing; a test may send an aws.* source)
    sent = events.put_events(Entries=[{"Source": "aws.cloudwatch", "DetailType": "CloudWatch Alarm State Change",
                                       "Resources": [f"arn:aws:cloudwatch:us-east-1:123456789012:alarm:{alarm}"],
                                       "Detail": json.dumps(change)}])
    assert sent["FailedEntryCount"] == 0

    wait_for(lambda: "alarm.alarm" in types(receiver.got("/hook")), 30, "the alarm at the webhook")
    got = next(r for r in receiver.got("/hook") if r["type"] == "alarm.alarm")
    assert got["reason"] == alarm and "Threshold Crossed" in got["message"]
    assert got["time"] == "2026-12-01T12:00:00Z"
    url = sqs.get_queue_url(QueueName=ALARM_CHANNEL)["QueueUrl"]

    def drained() -> bool:
        attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=[
            "ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"])["Attributes"]
        return all(v == "0" for v in attributes.values())

    wait_for(drained, 30, "the alarm message deleted once its notification was written")
    assert types(receiver.got("/hook")).count("alarm.alarm") == 1
    assert not sqs.list_queues(QueueNamePrefix=f"aenv-{namespace}-alarmed-AlarmEvents").get("QueueUrls")
