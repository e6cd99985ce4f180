"""Which transitions become notifications, their ids, the outbox; the payloads of each target kind."""

import json

from aenv.api import EnvironmentSpec
from aenv.api.status import NotificationRecord
from aenv.notify import email
from aenv.notify.channel import Notification
from aenv.notify.sender import Retry, targets_of
from aenv.notify.slack import Slack
from aenv.notify.webhook import Webhook
from aenv.plan.conditions import Transition
from aenv.plan.notifications import EMAIL_TARGET, OUTBOX_MAX, delivery_targets, emails_published, hook_targets, record

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
    team, audit, emails = targets_of(spec)
    assert (team.kind, team.secret, team.key) == ("slack", "hooks", "slack")
    assert audit.field == "spec.monitoring.notificationTargets[2].webhook.secretKeyRef"
    assert (emails.name, emails.kind) == (EMAIL_TARGET, "email")  # one publish to the alarm topic for all emails
    assert delivery_targets(spec) == ["team", "audit", EMAIL_TARGET]


def test_email_targets_are_published_to_in_mode_boto3_only() -> None:
    emails = {"notificationTargets": [{"email": "ops@example.com"}, {"topicArn": "arn:aws:sns:us-east-1:1:oncall"}]}
    boto3 = EnvironmentSpec.model_validate({"tier": "dev", "aws": {"region": "us-east-1"}, "monitoring": emails})
    assert emails_published(boto3) and [t.kind for t in targets_of(boto3)] == ["email"]
    ack = EnvironmentSpec.model_validate({"tier": "dev", "monitoring": emails, "aws": {
        "region": "us-east-1", "mode": "ack", "vpcId": "vpc-0a1b2c3d",
        "subnetIds": ["subnet-0a1b2c3d", "subnet-1a2b3c4d"]}})
    assert not emails_published(ack) and targets_of(ack) == [] and delivery_targets(ack) == []


def test_payloads() -> None:
    n = Notification("team-a", "defi", NotificationRecord(id="abc", type="rollout.completed", reason="RolloutCompleted",
                                                          message="api: revision 1 is stable", time=NOW))
    text = "[team-a/defi] rollout.completed (RolloutCompleted): api: revision 1 is stable"
    assert Slack().payload(n) == {"text": text}
    assert Webhook().payload(n) == {"id": "abc", "environment": {"namespace": "team-a", "name": "defi"},
                                    "type": "rollout.completed", "reason": "RolloutCompleted",
                                    "message": "api: revision 1 is stable", "time": NOW}


def test_an_email_reads_as_the_slack_text_with_a_short_subject() -> None:
    n = Notification("team-a", "defi", NotificationRecord(id="abc", type="rollout.completed", reason="RolloutCompleted",
                                                          message="api: revision 1 is stable", time=NOW))
    assert email.subject(n) == "[team-a/defi] rollout.completed: RolloutCompleted"
    assert email.message(n) == ("[team-a/defi] rollout.completed (RolloutCompleted): api: revision 1 is stable\n\n"
                                f"Time: {NOW}\nNotification id: abc\n")
    long = Notification("team-a", "defi", NotificationRecord(id="x", type="alarm.alarm", reason="é\n" + "a" * 200,
                                                             message="", time=NOW))
    subject = email.subject(long)  # SNS: ASCII without line breaks, under 100 characters
    assert len(subject) < 100 and subject.isascii() and subject.isprintable() and subject.endswith("...")
    assert "alarm.alarm: ??aaa" in subject
    assert not email.takes(long.record) and email.takes(n.record)  # CloudWatch emails the alarms itself


def test_backoff_doubles_up_to_its_cap() -> None:
    r = Retry(attempts=6, base_seconds=1, max_seconds=10)
    assert all(0.9 * min(10, 2 ** i) <= r.delay(i) <= 1.1 * min(10, 2 ** i) for i in range(8))


ALARM_EVENT = {
    "version": "0", "id": "e-1", "detail-type": "CloudWatch Alarm State Change", "source": "aws.cloudwatch",
    "resources": ["arn:aws:cloudwatch:us-east-1:123456789012:alarm:aenv-team-a-defi-P1-queue-events-dead-letters"],
    "detail": {"alarmName": "aenv-team-a-defi-P1-queue-events-dead-letters",
               "state": {"value": "ALARM", "reason": "Threshold Crossed: 1 datapoint [12.0] was greater than 10.0",
                         "timestamp": "2026-12-01T12:00:00.000+0000"},
               "previousState": {"value": "OK"}}}


def test_alarm_state_changes_become_notifications_with_the_event_id_in_their_id() -> None:
    from aenv.drift.events import parse_alarm
    from aenv.notify.alarms import notification_of

    change = parse_alarm(json.dumps(ALARM_EVENT))
    assert change is not None
    n = notification_of(change)
    assert (n.type, n.reason, n.time) == (
        "alarm.alarm", "aenv-team-a-defi-P1-queue-events-dead-letters", "2026-12-01T12:00:00Z")
    assert "Threshold Crossed" in n.message and n.id == notification_of(change).id
    again = parse_alarm(json.dumps({**ALARM_EVENT, "id": "e-2"}))
    assert again is not None and notification_of(again).id != n.id
    assert parse_alarm("not json") is None and parse_alarm('{"detail-type": "AWS API Call via CloudTrail"}') is None
    assert parse_alarm(json.dumps({**ALARM_EVENT, "detail": {"alarmName": "x"}})) is None
    once = record(None, "uid", None, "", [], NOW, [n])
    assert [x.type for x in once.outbox] == ["alarm.alarm"]
    assert record(once, "uid", None, "", [], NOW, [n]) == once  # read again after a crash: still one


def test_an_alarm_state_change_goes_to_the_environment_owning_the_alarm() -> None:
    from aenv.drift.events import Index, Recorded

    index = Index([Recorded("uid-1", [("monitoring/alarm/queue/events/dead-letters",
                                       "aenv-team-a-defi-P1-queue-events-dead-letters")], {}),
                   Recorded("uid-2", [("queue/events", "aenv-team-a-other-events")], {})])
    assert index.named("aenv-team-a-defi-P1-queue-events-dead-letters") == {"uid-1"}
    assert index.named("aenv-team-a-gone-P1-queue-events-depth") == set()
