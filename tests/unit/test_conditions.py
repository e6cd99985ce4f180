"""Component results -> kstatus conditions, phase and Events."""

from aenv.api.status import Condition
from aenv.plan.conditions import MESSAGE_MAX, ComponentResult, conditions, phase, results_from, transitions


def by_type(cs: list[Condition]) -> dict[str, Condition]:
    return {c.type: c for c in cs}


READY = ComponentResult("queues", "ready", "Provisioned", "queues provisioned")
TODO = ComponentResult("cache", "not-implemented", "NotImplemented", "not yet")


def test_ready_counts_only_implemented_components() -> None:
    cs = by_type(conditions([TODO, READY], [], 3, "t0"))
    assert cs["Ready"].status == "True"
    assert "not counted: cache" in cs["Ready"].message
    assert cs["CacheReady"].status == "Unknown"
    assert cs["Reconciling"].status == "False" and cs["Stalled"].status == "False"
    assert all(c.observed_generation == 3 for c in cs.values())
    assert phase([TODO, READY]) == "Ready"


def test_progressing_and_failing() -> None:
    waiting = ComponentResult("queues", "progressing", "Provisioning", "dlq is creating")
    cs = by_type(conditions([waiting], [], 1, "t0"))
    assert (cs["Ready"].status, cs["Reconciling"].status) == ("False", "True")
    assert phase([waiting]) == "Provisioning"
    failed = ComponentResult("queues", "failed", "AccessDenied", "AccessDenied: no")
    cs = by_type(conditions([failed, TODO], [], 1, "t0"))
    assert cs["Ready"].reason == "ComponentFailed"
    assert (cs["Stalled"].status, cs["Stalled"].reason) == ("True", "AccessDenied")
    assert phase([failed]) == "Failed"


def test_transition_time_moves_only_when_status_changes() -> None:
    first = conditions([READY], [], 1, "t0")
    again = conditions([READY], first, 2, "t1")
    assert by_type(again)["Ready"].last_transition_time == "t0"
    broken = conditions([ComponentResult("queues", "failed", "Throttled", "x")], again, 2, "t2")
    assert by_type(broken)["Ready"].last_transition_time == "t2"


def test_events_only_for_changes() -> None:
    first = conditions([TODO, READY], [], 1, "t0")
    events = transitions([], first)
    assert [e.reason for e in events] == ["AllComponentsReady", "Provisioned"]  # no noise for Unknown or all-clear
    assert transitions(first, conditions([TODO, READY], first, 1, "t1")) == []
    failed = conditions([TODO, ComponentResult("queues", "failed", "AccessDenied", "denied")], first, 1, "t2")
    warnings = [e for e in transitions(first, failed) if e.warning]
    assert {e.reason for e in warnings} == {"ComponentFailed", "AccessDenied"}


def test_deleting() -> None:
    gone = ComponentResult("queues", "deleting", "Deleted", "deleted")
    cs = by_type(conditions([gone], [], 1, "t0", deleting=True))
    assert (cs["Ready"].status, cs["Ready"].reason) == ("False", "Deleting")
    assert phase([gone], deleting=True) == "Deleting"


def test_invalid_spec_fails_ready_without_a_component_condition() -> None:
    bad = ComponentResult("spec", "failed", "InvalidSpec", "spec.tier: bad", has_condition=False)
    cs = by_type(conditions([bad], [], 1, "t0"))
    assert (cs["Ready"].reason, cs["Ready"].message) == ("InvalidSpec", "spec.tier: bad")
    assert "SpecReady" not in cs


def test_a_pass_that_does_not_observe_keeps_what_the_last_one_found() -> None:
    failed = ComponentResult("cache", "failed", "AccessDenied", "denied")
    waiting = ComponentResult("database", "progressing", "Provisioning", "creating")
    todo = ComponentResult("gateway", "not-implemented", "NotImplemented", "not yet")
    previous = conditions([READY, failed, waiting, todo], [], 1, "t0")
    again = results_from(previous, ["queues", "cache", "database", "gateway", "topics"])
    assert [(r.component, r.state, r.reason) for r in again] == [
        ("queues", "ready", "Provisioned"), ("cache", "failed", "AccessDenied"),
        ("database", "progressing", "Provisioning"), ("gateway", "not-implemented", "NotImplemented"),
        ("topics", "progressing", "Provisioning")]
    same = results_from(previous, ["queues", "cache", "database", "gateway"])
    assert conditions(same, previous, 1, "t1") == previous  # nothing changed, nothing to write


def test_a_message_longer_than_a_condition_takes_is_cut() -> None:
    # One AWS error per subscription of a big environment once added up to more than a condition holds, and the
    # pass failed on its own status.
    waiting = ComponentResult("topics", "progressing", "Provisioning", "; ".join(["x" * 1000] * 40))
    cs = by_type(conditions([waiting], [], 1, "t0"))
    assert len(cs["TopicsReady"].message) == MESSAGE_MAX and cs["TopicsReady"].message.endswith("...")
