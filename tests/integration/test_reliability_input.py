"""Bad and odd input: specs generated from the CRD schema. Invalid ones are refused naming the field they break;
valid odd ones are accepted, aenv's plan builds from them, and those created for real all get a status while the
operator stays up (the full counts: benchmarks/reliability_cases/odd_input.py)."""

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
