"""charts/aenv: its CRD is the generated one, its RBAC has no wildcard and covers the ACK kinds aenv writes, the
namespaced mode grants nothing cluster-wide, the pod runs locked down, and bad values are refused by the schema."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from aenv import ack
from aenv.ack.resource import AckClient
from aenv.api import crd
from aenv.cli import parser

from ..chart import CHART, RBAC_KINDS, of_kind, render, template


def test_chart_crd_is_current() -> None:
    path = CHART / "crds" / crd.CRD_FILE
    assert path.read_text() == crd.render(), "charts/aenv/crds/ is stale: run `make crd`"


def _plural(kind: str) -> str:
    """The CRD plural of an ACK kind: Queue -> queues, Alias -> aliases, Policy -> policies, Key -> keys."""
    lower = kind.lower()
    if lower.endswith("s"):
        return lower + "es"
    if lower.endswith("y") and lower[-2:-1] not in ("a", "e", "i", "o", "u"):
        return lower[:-1] + "ies"
    return lower + "s"


def _subclasses(cls: type[Any]) -> list[type[Any]]:
    out = []
    for sub in cls.__subclasses__():
        out += [sub, *_subclasses(sub)]
    return out


def test_the_ack_rules_cover_every_kind_aenv_writes() -> None:
    assert ack.CLIENTS  # imports every kind's module
    granted = yaml.safe_load((CHART / "files" / "ack-resources.yaml").read_text())
    for client in _subclasses(AckClient):
        kind = getattr(client, "KIND", None)
        if kind is None:
            continue
        assert _plural(kind.kind) in granted.get(kind.service, []), \
            f"charts/aenv/files/ack-resources.yaml grants no rights on {kind.group} {_plural(kind.kind)}"


def _rules(objects: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [r for kind in RBAC_KINDS for o in of_kind(objects, kind) for r in o["rules"]]


@pytest.mark.parametrize("sets", [(), ("watchNamespaces={team-a,team-b}",)], ids=["cluster", "namespaced"])
def test_no_wildcard_in_rbac(sets: tuple[str, ...]) -> None:
    rules = _rules(render(sets=sets))
    assert rules
    for rule in rules:
        for field in ("apiGroups", "resources", "verbs", "resourceNames"):
            assert not any("*" in v for v in rule.get(field, [])), f"a wildcard in {field}: {rule}"
        assert "nonResourceURLs" not in rule, rule


def test_cluster_mode_rule_count() -> None:
    (role,) = of_kind(render(), "ClusterRole")
    print(f"ClusterRole rules: {len(role['rules'])}")
    assert {g for r in role["rules"] for g in r["apiGroups"]} >= {"aenv.dev", "", "apps"}
    assert not any("leases" in r["resources"] for r in role["rules"]), "the Lease is a Role in the release namespace"


@pytest.mark.parametrize("sets", [(), ("watchNamespaces={team-a}",)], ids=["cluster", "namespaced"])
def test_the_verbs_on_what_aenv_writes_without_owning(sets: tuple[str, ...]) -> None:
    """An environment deletes itself when it expires; an HTTPRoute is replaced at the version read. Nothing more:
    tests/integration/test_chart_rbac.py proves these are enough."""
    verbs = {res: rule["verbs"] for rule in _rules(render(sets=sets)) for res in rule["resources"]}
    assert verbs["analyticsenvironments"] == ["get", "list", "watch", "patch", "delete"]
    assert verbs["httproutes"] == ["get", "list", "watch", "update"]


def test_namespaced_mode_grants_only_the_named_namespaces() -> None:
    objects = render(sets=("watchNamespaces={team-a,team-b}",))
    assert not of_kind(objects, "ClusterRole") and not of_kind(objects, "ClusterRoleBinding")
    roles = {(o["metadata"]["namespace"], o["metadata"]["name"]) for o in of_kind(objects, "Role")}
    assert roles == {("team-a", "aenv"), ("team-b", "aenv"), ("aenv-system", "aenv-leader-election")}
    (deployment,) = of_kind(objects, "Deployment")
    args = deployment["spec"]["template"]["spec"]["containers"][0]["args"]
    assert "--namespace=team-a" in args and "--namespace=team-b" in args
    for role in of_kind(objects, "Role"):
        for rule in role["rules"]:
            assert "namespaces" not in rule["resources"] and "customresourcedefinitions" not in rule["resources"]


def test_deployment_defaults() -> None:
    objects = render(sets=("serviceAccount.roleArn=arn:aws:iam::123456789012:role/aenv-operator",))
    (deployment,) = of_kind(objects, "Deployment")
    pod = deployment["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    assert deployment["spec"]["replicas"] == 2
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    sc = container["securityContext"]
    assert sc["readOnlyRootFilesystem"] is True and sc["capabilities"] == {"drop": ["ALL"]}
    assert sc["allowPrivilegeEscalation"] is False and sc["seccompProfile"] == {"type": "RuntimeDefault"}
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert container["resources"]["requests"] and container["resources"]["limits"]
    assert "--leader-elect" in container["args"] and "--lease-namespace=aenv-system" in container["args"]
    assert [v["mountPath"] for v in container["volumeMounts"]] == ["/tmp"]
    assert pod["topologySpreadConstraints"]
    (sa,) = of_kind(objects, "ServiceAccount")
    assert sa["metadata"]["annotations"]["eks.amazonaws.com/role-arn"].endswith(":role/aenv-operator")
    assert of_kind(objects, "PodDisruptionBudget") and of_kind(objects, "Service")
    assert not of_kind(objects, "ServiceMonitor")
    assert of_kind(render(sets=("metrics.serviceMonitor.enabled=true",)), "ServiceMonitor")


def test_the_former_resync_value_still_sets_the_sweep() -> None:
    def sweep(*sets: str) -> str:
        (deployment,) = of_kind(render(sets=sets), "Deployment")
        env = deployment["spec"]["template"]["spec"]["containers"][0]["env"]
        return str(next(v["value"] for v in env if v["name"] == "AENV_SWEEP_SECONDS"))

    assert sweep() == "3600"
    assert sweep("drift.sweepSeconds=900") == "900"
    assert sweep("resyncSeconds=30") == "30"  # an upgrade keeps what the values file asked for


@pytest.mark.parametrize(("flag", "words"), [
    ("replicaCount=0", "/replicaCount"),
    ("serviceAccount.roleArn=my-role", "/serviceAccount/roleArn"),
    ("watchNamespaces={Team_A}", "/watchNamespaces/0"),
    ("logLevel=trace", "/logLevel"),
    ("leaderElection.leaseDurationSeconds=1", "/leaderElection/leaseDurationSeconds"),
    ("replicas=3", "replicas"),
])
def test_schema_rejects_bad_values(flag: str, words: str) -> None:
    done = template("--set", flag)
    assert done.returncode != 0, f"{flag} was accepted"
    assert words in done.stderr, done.stderr


def test_values_file_round_trip(tmp_path: Path) -> None:
    objects = render({"watchNamespaces": ["x"], "leaderElection": {"enabled": False}}, tmp=tmp_path)
    (deployment,) = of_kind(objects, "Deployment")
    assert "--leader-elect" not in deployment["spec"]["template"]["spec"]["containers"][0]["args"]
    assert not [o for o in of_kind(objects, "Role") if "leader" in o["metadata"]["name"]]


@pytest.mark.parametrize("sets", [(), ("watchNamespaces={team-a,team-b}", "logLevel=debug")],
                         ids=["cluster", "namespaced"])
def test_the_deployment_runs_aenv_run_with_its_own_flags(sets: tuple[str, ...]) -> None:
    (deployment,) = of_kind(render(sets=sets), "Deployment")
    args = parser().parse_args(deployment["spec"]["template"]["spec"]["containers"][0]["args"])
    assert args.command == "run" and args.leader_elect and args.health_port == 8080 and args.metrics_port == 9090
    assert (args.lease_duration, args.lease_renew, args.lease_namespace) == (10, 2, "aenv-system")
    assert args.namespace == (["team-a", "team-b"] if sets else None)
    assert args.log_format == "json"
