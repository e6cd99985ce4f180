"""Bad and odd input: specs generated from the CRD schema. Invalid ones are refused naming the field they break;
valid odd ones are accepted, aenv's plan builds from them, and those created for real all get a status while the
operator stays up (the full counts: benchmarks/reliability_cases/odd_input.py)."""

import json
from collections.abc import Iterator

import pytest

from .conftest import Operator
from .kube import Kube, unserved_namespace
from .reliability_input import created_have_status, examples, invalid_refused, valid_accepted, valid_environments
from .spec_strategies import invalid_specs

INVALID, VALID, CREATED = 100, 60, 8


@pytest.fixture
def admission(kube: Kube) -> Iterator[str]:
    """A namespace no operator serves: dry runs are the API server's alone."""
    yield from unserved_namespace(kube, "aenv-input-")


def test_invalid_specs_are_refused_naming_the_field(kube: Kube, admission: str) -> None:
    tally = invalid_refused(kube.custom, admission, examples(invalid_specs(), INVALID))
    assert tally.tried == INVALID and not tally.failures, "\n".join(tally.failures)
    assert len(tally.kinds) >= 8, tally.kinds  # the ways of breaking a spec are all drawn, not one over and over


def test_valid_odd_specs_are_accepted_and_planned(kube: Kube, admission: str) -> None:
    tally = valid_accepted(kube.custom, admission, valid_environments(VALID))
    assert tally.tried == VALID and not tally.failures, "\n".join(tally.failures)


def test_created_odd_specs_get_a_status_and_the_operator_survives(kube: Kube, namespace: str,
                                                                   operator: Operator) -> None:
    sample = list(dict(valid_environments(CREATED * 3)).items())[-CREATED:]
    tally = created_have_status(kube.custom, namespace, operator, sample)
    assert tally.tried == CREATED and not tally.failures, "\n".join(tally.failures)


def test_a_spec_larger_than_the_annotations_may_hold_is_handled_and_its_changes_too(kube: Kube, namespace: str,
                                                                                    operator: Operator) -> None:
    """All of an object's annotations may hold 256 KiB, kopf's record of the last handled spec among them."""
    values = [{"name": f"SETTING_{i}", "value": f"{i}" * 30000} for i in range(10)]
    spec = {"tier": "dev", "aws": {"region": "us-east-1"}, "queues": [{"name": "events"}],
            "workloads": [{"name": "api", "image": "registry.example/api:1", "env": values}]}
    created = kube.create_env(namespace, "large", spec)
    assert len(json.dumps(created["spec"])) > 256 * 1024
    kube.wait_condition(namespace, "large", "Ready")

    spec["queues"].append({"name": "more"})
    changed = kube.replace_spec(namespace, "large", spec)
    env = kube.wait_condition(namespace, "large", "Ready", generation=changed["metadata"]["generation"])
    assert [q["name"] for q in env["status"]["queues"]] == ["events", "more"]
    assert len(env["metadata"]["annotations"]["aenv.dev/last-handled-configuration"]) < 4096
