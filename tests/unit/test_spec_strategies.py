"""The spec strategies the odd-input tests draw from (tests/integration/spec_strategies.py), checked without a
cluster: what they call valid the models read and every CEL rule of the CRD holds for (what they call invalid, the
API server judges: tests/integration/test_reliability_input.py)."""

import re

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aenv.api import EnvironmentSpec, effective
from aenv.api.spec import ENVIRONMENT_NAME_MAX
from tests.integration.spec_strategies import (
    environment_names,
    path_text,
    rules_of,
    sites,
    spec_schema,
    valid_specs,
)

FEW = settings(max_examples=25, derandomize=True, database=None, deadline=None,
               suppress_health_check=list(HealthCheck))
SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")


def test_paths_read_as_the_api_server_writes_them() -> None:
    assert path_text(("spec", "queues", 0, "deadLetter", "maxReceiveCount")) == \
        "spec.queues[0].deadLetter.maxReceiveCount"


def test_exactly_one_rules_are_read_as_groups() -> None:
    migrations = spec_schema()["properties"]["database"]["properties"]["migrations"]
    assert [r.group() for r in rules_of(migrations)] == [["configMap", "job"]]


@FEW
@given(valid_specs())
def test_valid_specs_are_read_by_the_models_and_hold_every_rule(spec: dict[str, object]) -> None:
    effective(EnvironmentSpec.model_validate(spec))
    for path, node, value in sites(spec, spec_schema()):
        for rule in rules_of(node):
            assert rule.holds(value), f"{path_text(path)}: {rule.message}"


@FEW
@given(st.one_of(environment_names(), environment_names(ENVIRONMENT_NAME_MAX + 1, 253)))
def test_environment_names_are_dns_subdomains(name: str) -> None:
    assert SUBDOMAIN.match(name) and 1 <= len(name) <= 253, name

