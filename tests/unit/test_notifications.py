"""Which transitions become notifications, their ids, the outbox; the payloads of each target kind."""

from aenv.api import EnvironmentSpec
from aenv.api.status import NotificationRecord
from aenv.notify.channel import Notification
from aenv.notify.sender import Retry, targets_of
from aenv.notify.slack import Slack
from aenv.notify.webhook import Webhook
from aenv.plan.conditions import Transition
from aenv.plan.notifications import OUTBOX_MAX, hook_targets, record

NOW = "2026-12-01T12:00:00Z"


def test_rollout_transitions_and_expiry_warnings_are_notified_other_events_are_not() -> None:
    events = [Transition(False, "RolloutStarted", "api: rolling out revision abc"),
              Transition(False, "ScaledDown", "api: scaled"),
              Transition(True, "AbortedByUser", "api: aborted by the user"),
              Transition(True, "ExpiresSoon", "expires at ...")]
    out = record(None, "uid", "Provisioning", "", events, NOW)
    assert [(n.type, n.reason) for n in out.outbox] == [
        ("rollout.started", "RolloutStarted"), ("rollout.aborted", "AbortedByUser"), ("expiry.warning", "ExpiresSoon")]
    assert out.health is None


def test_ready_and_failed_are_notified_when_they_change_not_every_rollout() -> None:
    ready = record(None, "uid", "Ready", "ready: queues", [], NOW)
    assert [(n.type, n.reason, n.message) for n in ready.outbox] == [("environment.ready", "Ready", "ready: queues")]
    rolling = record(ready, "uid", "Provisioning", "in progress: workloads", [], "2026-12-01T12:01:00Z")
    back = record(rolling, "uid", "Ready", "ready: queues", [], "2026-12-01T12:02:00Z")
    assert back == ready  # Ready -> Provisioning (a rollout) -> Ready is no news
    failed = record(back, "uid", "Failed", "failing: queues", [], "2026-12-01T12:03:00Z")
    recovered = record(failed, "uid", "Ready", "ready: queues", [], "2026-12-01T12:04:00Z")
    assert [(n.type, n.reason) for n in recovered.outbox] == [
        ("environment.ready", "Ready"), ("environment.failed", "Failed"), ("environment.ready", "Recovered")]


def test_ids_are_stable_and_the_outbox_is_bounded() -> None:
    event = [Transition(False, "RolloutCompleted", "api: done")]
    a, b = record(None, "uid", None, "", event, NOW), record(None, "uid", None, "", event, NOW)
    assert a.outbox[0].id == b.outbox[0].id
    assert record(None, "other", None, "", event, NOW).outbox[0].id != a.outbox[0].id
    out = None
    for i in range(OUTBOX_MAX + 5):
        out = record(out, "uid", None, "", event, f"2026-12-01T12:00:{i:02d}Z")
    assert out is not None and len(out.outbox) == OUTBOX_MAX and out.outbox[-1].time == "2026-12-01T12:00:54Z"


def test_targets_name_the_field_of_their_secret() -> None:
    spec = EnvironmentSpec.model_validate({"tier": "dev", "aws": {"region": "us-east-1"}, "monitoring": {
        "notificationTargets": [{"email": "ops@example.com"},
                                {"name": "team", "slack": {"secretKeyRef": {"name": "hooks", "key": "slack"}}},
                                {"name": "audit", "webhook": {"secretKeyRef": {"name": "hooks", "key": "url"}}}]}})
    assert [t.name for t in hook_targets(spec)] == ["team", "audit"]
    team, audit = targets_of(spec)
    assert (team.kind, team.secret, team.key) == ("slack", "hooks", "slack")
    assert audit.field == "spec.monitoring.notificationTargets[2].webhook.secretKeyRef"


def test_payloads() -> None:
    n = Notification("team-a", "defi", NotificationRecord(id="abc", type="rollout.completed", reason="RolloutCompleted",
                                                          message="api: revision 1 is stable", time=NOW))
    text = "[team-a/defi] rollout.completed (RolloutCompleted): api: revision 1 is stable"
    assert Slack().payload(n) == {"text": text}
    assert Webhook().payload(n) == {"id": "abc", "environment": {"namespace": "team-a", "name": "defi"},
                                    "type": "rollout.completed", "reason": "RolloutCompleted",
                                    "message": "api: revision 1 is stable", "time": NOW}


def test_backoff_doubles_up_to_its_cap() -> None:
    r = Retry(attempts=6, base_seconds=1, max_seconds=10)
    assert all(0.9 * min(10, 2 ** i) <= r.delay(i) <= 1.1 * min(10, 2 ** i) for i in range(8))


def test_alarm_documents_become_notifications_with_the_message_id_in_their_id() -> None:
    from aenv.notify.alarms import notification_of

    body = ('{"AlarmName": "aenv-team-a-defi-P1-queue-events-dead-letters", "NewStateValue": "ALARM", '
            '"NewStateReason": "Threshold Crossed: 1 datapoint [12.0] was greater than 10.0", '
            '"StateChangeTime": "2026-12-01T12:00:00.000+0000"}')
    n = notification_of("m-1", body)
    assert n is not None and (n.type, n.reason, n.time) == (
        "alarm.alarm", "aenv-team-a-defi-P1-queue-events-dead-letters", "2026-12-01T12:00:00Z")
    assert "Threshold Crossed" in n.message and n.id == notification_of("m-1", body).id  # type: ignore[union-attr]
    assert notification_of("m-2", body).id != n.id  # type: ignore[union-attr]
    assert notification_of("m-3", "not json") is None and notification_of("m-4", '{"Type": "x"}') is None
    once = record(None, "uid", None, "", [], NOW, [n])
    assert [x.type for x in once.outbox] == ["alarm.alarm"]
    assert record(once, "uid", None, "", [], NOW, [n]) == once  # read again after a crash: still one


def test_the_alarm_topic_feeds_a_queue_only_for_slack_and_webhook_targets() -> None:
    from aenv.naming import EnvironmentRef
    from aenv.plan import monitoring

    env = EnvironmentRef("team-a", "defi", "uid")
    base = {"tier": "dev", "aws": {"region": "us-east-1"}, "queues": [{"name": "events"}]}
    emails = EnvironmentSpec.model_validate({**base, "monitoring": {"notificationTargets": [
        {"email": "ops@example.com"}]}})
    assert not [d for d in monitoring.plan(env, emails) if d.key.startswith(monitoring.ALARM_EVENTS)]
    hooks = EnvironmentSpec.model_validate({**base, "monitoring": {"notificationTargets": [
        {"name": "audit", "webhook": {"secretKeyRef": {"name": "hooks", "key": "url"}}}]}})
    planned = {d.key: d for d in monitoring.plan(env, hooks)}
    queue = planned[monitoring.ALARM_EVENTS]
    assert queue.kind == "sqs.queue" and queue.name == "aenv-team-a-defi-AlarmEvents"
    subscription = planned["monitoring/topic/subscription/alarm-events"]
    assert subscription.params["raw_message_delivery"] is True
    assert planned[f"{monitoring.ALARM_EVENTS}/policy"].params["source_arn/alarms"].key == "monitoring/topic"
