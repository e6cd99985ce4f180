"""spec -> desired resources, and desired + observed -> action."""

from aenv.api import EnvironmentSpec, effective
from aenv.naming import TAG_COMPONENT, TAG_ENVIRONMENT, TAG_UID, EnvironmentRef
from aenv.plan.actions import decide
from aenv.plan.environment import desired_resources, requested
from aenv.plan.types import Desired, Observation, Ref

ENV = EnvironmentRef("analytics", "defi", "uid-1")


def plan(**sections: object) -> list[Desired]:
    spec = effective(EnvironmentSpec.model_validate({"tier": "staging", "aws": {"region": "us-east-1"}, **sections}))
    return desired_resources(ENV, spec, ["queues"])


def test_requested_lists_only_sections_that_are_set() -> None:
    spec = EnvironmentSpec.model_validate({"tier": "dev", "aws": {"region": "us-east-1"}, "cache": {},
                                           "queues": [{"name": "q"}], "topics": []})
    assert requested(spec) == ["network", "encryption", "secrets", "cache", "queues"]
    only_queues = spec.model_copy(update={"cache": None})
    assert requested(only_queues) == ["encryption", "queues"]


def test_each_queue_follows_its_dead_letter_queue() -> None:
    resources = plan(queues=[{"name": "events", "deadLetter": {"maxReceiveCount": 3}},
                             {"name": "trades", "fifo": True}])
    assert [d.key for d in resources] == [
        "queue/events/dead-letter", "queue/events", "queue/trades/dead-letter", "queue/trades"]
    events = resources[1]
    assert events.params["dead_letter_arn"] == Ref("queue/events/dead-letter", "arn")
    assert events.params["max_receive_count"] == 3
    assert events.params["kms_key_id"] == Ref("kms/key", "id")
    assert set(events.depends_on) == {"queue/events/dead-letter", "kms/key"}
    assert resources[3].name == "aenv-analytics-defi-trades.fifo"
    assert resources[2].name == "aenv-analytics-defi-trades-dlq.fifo"
    assert events.tags == {TAG_ENVIRONMENT: "analytics/defi", TAG_UID: "uid-1", TAG_COMPONENT: "queues"}


def test_dead_letter_queue_can_be_turned_off() -> None:
    resources = plan(queues=[{"name": "events", "deadLetter": {"enabled": False}}])
    assert [d.key for d in resources] == ["queue/events"]
    assert "dead_letter_arn" not in resources[0].params


def test_resolve_waits_for_dependencies_then_substitutes() -> None:
    events = plan(queues=[{"name": "events"}])[1]
    assert events.resolve({}) is None
    resolved = events.resolve({"queue/events/dead-letter": {"arn": "arn:aws:sqs:us-east-1:1:dlq"},
                               "kms/key": {"id": "key-1"}})
    assert resolved is not None and resolved.params["dead_letter_arn"] == "arn:aws:sqs:us-east-1:1:dlq"


D = Desired(kind="sqs.queue", key="queue/q", component="queues", name="aenv-analytics-defi-q")


def observed(**kw: object) -> Observation:
    base: dict[str, object] = dict(exists=True, up_to_date=True, ready=True, owner="uid-1",
                                   owner_environment="analytics/defi")
    return Observation(**{**base, **kw})  # type: ignore[arg-type]


def test_decide() -> None:
    assert decide(ENV, D, Observation.absent()).kind == "create"
    assert decide(ENV, D, observed()).kind == "none"
    assert decide(ENV, D, observed(up_to_date=False, diff={"VisibilityTimeout": ("30", "60")})).kind == "update"
    assert decide(ENV, D, observed(ready=False, state="creating")).kind == "wait"
    assert decide(ENV, D, observed(owner="uid-0")).kind == "adopt"


def test_never_touches_what_belongs_to_someone_else() -> None:
    foreign = decide(ENV, D, observed(owner="x", owner_environment="other/env"))
    assert foreign.kind == "conflict" and "belongs to other/env" in foreign.message
    unmanaged = decide(ENV, D, observed(owner=None, owner_environment=None))
    assert unmanaged.kind == "conflict" and "not managed by aenv" in unmanaged.message


def test_immutable_change_is_a_conflict_not_a_replacement() -> None:
    action = decide(ENV, D, observed(immutable=("fifo",), up_to_date=False))
    assert action.kind == "conflict" and "fifo cannot change in place" in action.message
