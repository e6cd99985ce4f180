"""`aenv plan` in mode ack, its pure part: manifests and diffs into lines, credentials masked, the action of an
observed object, and the objects a first pass would create (offline: no cluster)."""

from __future__ import annotations

from typing import Any

from aenv.api import EnvironmentSpec, effective
from aenv.naming import EnvironmentRef
from aenv.plan.types import Desired, Observation, Sensitive
from aenv.preview import PENDING
from aenv.preview_ack import (
    HIDDEN,
    AckChange,
    Written,
    _observed,
    diff_lines,
    offline,
    render,
    secret_values,
    shown,
    spec_lines,
    summary,
)
from aenv.reconcile import Environment

ENV = EnvironmentRef("team-a", "defi", "u-1")
QUEUE = Written("sqs.services.k8s.aws/v1alpha1", "Queue", "team-a", "aenv-team-a-defi-events")


def queue(**params: Any) -> Desired:
    return Desired(kind="sqs.queue", key="queue/events", component="queues", name="aenv-team-a-defi-events",
                   params=params, tags=ENV.tags("queues"))


def observed(diff: dict[str, tuple[Any, Any]], owner: EnvironmentRef | None = ENV, ready: bool = True) -> Observation:
    return Observation(exists=True, up_to_date=not diff, ready=ready, diff=diff, state="available" if ready else "x",
                       owner=owner.uid if owner else None, owner_environment=owner.key if owner else None)


def test_a_manifest_is_one_line_per_field_with_documents_and_lists_on_one_line() -> None:
    assert spec_lines({"queueName": "q", "visibilityTimeout": "30", "fifoQueue": None,
                       "kmsMasterKeyRef": {"from": {"name": "k"}}, "tags": [{"key": "a", "value": "b"}]}) == (
        "queueName: q", "visibilityTimeout: 30", "fifoQueue: (unset)", 'kmsMasterKeyRef: {"from": {"name": "k"}}',
        'tags: [{"key": "a", "value": "b"}]')


def test_a_diff_is_old_to_new_sorted_by_field() -> None:
    assert diff_lines({"visibilityTimeout": ("30", "90"), "redrivePolicy": (None, '{"a":1}')}) == (
        'redrivePolicy: (unset) → {"a":1}', "visibilityTimeout: 30 → 90")


def test_credentials_are_never_shown() -> None:
    # By type, at any depth; by the field's name when a scalar; a reference to a Kubernetes Secret is shown.
    assert shown("description", Sensitive("s3cr3t-value")) == HIDDEN
    assert shown("spec", {"masterUserPassword": "hunter22", "authToken": {"name": "s", "key": "value"},
                          "nested": [{"apiKey": "k-123456"}], "port": 6379, "tokenEnabled": True}) == {
        "masterUserPassword": HIDDEN, "authToken": {"name": "s", "key": "value"},
        "nested": [{"apiKey": HIDDEN}], "port": 6379, "tokenEnabled": True}
    assert spec_lines({"secretString": "plain", "password": 1234}) == (f"secretString: {HIDDEN}", f"password: {HIDDEN}")
    # A change that only the credential makes is named, never shown (both sides masked look the same).
    assert diff_lines({"password": ("old-pass", "new-pass"), "value": ("<redacted>", "<redacted>")}) == (
        "password: changes (not shown)", "value: changes (not shown)")


def test_secret_values_read_on_the_way_are_masked_in_every_line() -> None:
    outputs = {"secret/api": {"arn": "arn:x", "value": Sensitive("k3y-value-123")}, "kms/key": {"id": "abc"},
               "secret/short": {"value": Sensitive("abc")}}
    secrets = secret_values(outputs)
    assert secrets == ["k3y-value-123"]  # shorter ones would mask ordinary words
    change = AckChange("update", "apigatewayv2.services.k8s.aws/v1alpha1", "Stage", "team-a/live", "",
                       ('stageVariables: {"k": "old"} → {"k": "k3y-value-123"}',))
    lines = render([change], secrets)
    assert "k3y-value-123" not in "\n".join(lines) and lines[1].endswith('{"k": "***"}')


def test_render_aligns_columns_and_summary_counts_objects() -> None:
    changes = [AckChange("create", "sqs.services.k8s.aws/v1alpha1", "Queue", "ns/a", "", ("queueName: a",)),
               AckChange("update", "kms.services.k8s.aws/v1alpha1", "Alias", "ns/longer-name", "", ("name: x → y",)),
               AckChange("unchanged", "v1", "Secret", "ns/c"), AckChange("retain", "sns.x/v1", "Topic", "ns/t"),
               AckChange("missing", "", "cloudwatch.alarm", "n", "not built in mode ack")]
    lines = render(changes)
    assert lines[0] == "  + sqs.services.k8s.aws/v1alpha1 Queue ns/a           create"
    assert lines[1] == "      queueName: a"
    assert lines[2] == "  ~ kms.services.k8s.aws/v1alpha1 Alias ns/longer-name update"
    assert lines[5] == "  - sns.x/v1 Topic                      ns/t           retain"
    assert lines[6] == "  ? cloudwatch.alarm                    n              missing: not built in mode ack"
    assert summary(changes) == "Plan: 1 to create, 1 to change, 1 to delete, 0 in conflict. Nothing was changed."


def test_an_observed_object_becomes_update_with_its_fields_or_unchanged_or_conflict() -> None:
    d = queue(visibility_timeout_seconds=90)
    update = _observed(ENV, d, QUEUE, observed({"visibilityTimeout": ("30", "90")}))
    assert (update.action, update.fields) == ("update", ("visibilityTimeout: 30 → 90",))
    assert _observed(ENV, d, QUEUE, observed({})).action == "unchanged"
    waiting = _observed(ENV, d, QUEUE, observed({}, ready=False))
    assert (waiting.action, waiting.detail) == ("unchanged", "x")
    other = _observed(ENV, d, QUEUE, observed({"tags": ({}, {"a": "b"})}, owner=EnvironmentRef("b", "other", "u-9")))
    assert (other.action, other.fields) == ("conflict", ())
    assert "belongs to b/other" in other.detail
    foreign = _observed(ENV, d, QUEUE, Observation(exists=True, state="not written by aenv"))
    assert foreign.action == "conflict" and "not managed by aenv" in foreign.detail
    earlier = _observed(ENV, d, QUEUE, observed({}, owner=EnvironmentRef("team-a", "defi", "u-0")))
    assert earlier.action == "adopt"


def test_a_field_that_waits_for_another_resource_is_marked_not_counted() -> None:
    d = queue(dead_letter_arn=PENDING)
    redrive = f'{{"deadLetterTargetArn":"{PENDING}","maxReceiveCount":5}}'
    change = _observed(ENV, d, QUEUE, observed({"redrivePolicy": ('{"deadLetterTargetArn":"arn:q"}', redrive)}))
    assert change.action == "unchanged" and change.detail == "redrivePolicy known after apply"
    assert change.fields == (f'redrivePolicy: {{"deadLetterTargetArn":"arn:q"}} → {redrive}',)


def spec(**sections: Any) -> EnvironmentSpec:
    return effective(EnvironmentSpec.model_validate({"tier": "dev", "aws": {"region": "us-east-1", "mode": "ack"},
                                                     **sections}))


def test_offline_lists_the_objects_a_first_pass_creates_with_unresolved_fields_marked() -> None:
    env = Environment("team-a", "defi", "<new>", 0, {}, {})
    changes = offline(env, spec(queues=[{"name": "events"}], topics=[{"name": "alerts", "subscribers": ["events"]}]))
    by_what = [(c.action, c.kind, c.where) for c in changes]
    p = "team-a/aenv-team-a-defi"
    assert by_what[:7] == [
        ("create", "Key", p), ("create", "Alias", p), ("create", "Queue", f"{p}-events-dlq"),
        ("create", "Queue", f"{p}-events"), ("create", "Topic", f"{p}-alerts"), ("create", "Queue", f"{p}-events"),
        ("create", "Subscription", changes[6].where)]
    assert {c.api_version for c in changes} == {
        "kms.services.k8s.aws/v1alpha1", "sqs.services.k8s.aws/v1alpha1", "sns.services.k8s.aws/v1alpha1"}
    events = changes[3]
    assert "visibilityTimeout: 30" in events.fields
    assert f'redrivePolicy: {{"deadLetterTargetArn":"{PENDING}","maxReceiveCount":5}}' in events.fields
    assert changes[5].detail == "only spec.policy, field manager aenv-queue-policy"
    assert f"endpoint: {PENDING}" in changes[6].fields


def test_offline_says_what_mode_ack_does_not_build() -> None:
    from aenv.preview_ack import _missing
    from aenv.reconcile import MODES

    ack = MODES["ack"]
    desired = [Desired(kind="nowhere.kind", key="x/1", component="monitoring", name="aenv-x"),
               Desired(kind="sqs.queue", key="x/2", component="monitoring", name="aenv-y")]
    assert [(c.action, c.kind, c.detail) for c in _missing(desired, ack)] == [
        ("missing", "nowhere.kind", "not built in mode ack"),
        ("missing", "sqs.queue", "not built in mode ack: monitoring also needs nowhere.kind")]
