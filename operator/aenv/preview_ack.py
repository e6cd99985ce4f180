"""`aenv plan` in mode ack: the ACK custom resources a pass would write, each with its action (create, update with
the fields that change, old -> new, adopt, unchanged, conflict, delete), and offline the ones it would create.

Generic over ack.CLIENTS: an AckClient says how a desired resource becomes a CR (KIND, name_of, spec) and observes
it (Observation.diff: field -> (observed, desired)); an AckClient it holds writes one more CR per desired resource
(the kms Key's Alias). A value that may be a credential is never printed: a Sensitive value, a scalar in a field
named like a credential, and any secret value the pass has read.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from .ack import resource
from .ack.kms_key import KIND as KMS_KEY
from .ack.resource import AckClient
from .ack.sqs_queue import QUEUE
from .ack.sqs_queue_policy import FIELD_MANAGER as POLICY_FIELD_MANAGER
from .ack.sqs_queue_policy import KIND as QUEUE_POLICY
from .ack.sqs_queue_policy import policy_document
from .api import EnvironmentSpec
from .aws.component import Registry
from .aws.errors import AwsError, TransientError
from .naming import EnvironmentRef
from .plan.actions import decide
from .plan.connection import connection_data
from .plan.environment import desired_resources, requested
from .plan.types import Desired, Observation, Sensitive
from .preview import PENDING, SYMBOL, _resolve, _secret_change
from .reconcile import Environment, clients_for, implemented

HIDDEN = "<sensitive>"
SECRET_MIN_LENGTH = 6  # as reconcile's: a shorter value (a port) is no credential and would mask too much
# A scalar in a field whose name ends like this may be a credential; a mapping there is a reference to a
# Kubernetes Secret (ACK's SecretKeyReference: name, key), which is shown.
_SECRET_FIELD = re.compile(r"(password|secret|secretstring|token|credentials?|privatekey|apikey)$", re.IGNORECASE)
_PENDING_NAME = resource.object_name(PENDING)  # the placeholder where a kind names a CR after an output
ACTIONS = {"none": "unchanged", "wait": "unchanged"}
_SYMBOL = {**SYMBOL, "unchanged": "="}


@dataclass(frozen=True)
class AckChange:
    """One object the pass would write (or leave, or delete), and the lines that say how."""

    action: str  # create, update, adopt, unchanged, conflict, delete, retain, missing, error
    api_version: str
    kind: str
    where: str  # namespace/name
    detail: str = ""
    fields: tuple[str, ...] = ()

    @property
    def what(self) -> str:
        return f"{self.api_version} {self.kind}".strip()

    def lines(self, what_width: int = 0, where_width: int = 0) -> list[str]:
        detail = f": {self.detail}" if self.detail else ""
        return [f"  {_SYMBOL[self.action]} {self.what:{what_width}} {self.where:{where_width}} {self.action}{detail}",
                *(f"      {f}" for f in self.fields)]


# The pure part: values, manifests and diffs into lines.

def shown(field: str, value: Any) -> Any:
    """The value as printed: credentials hidden, at any depth."""
    if isinstance(value, Sensitive):
        return HIDDEN
    if isinstance(value, Mapping):
        return {k: shown(str(k), v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [shown(field, v) for v in value]
    if value is not None and not isinstance(value, bool) and _SECRET_FIELD.search(field.rsplit(".", 1)[-1]):
        return HIDDEN
    return value


def text(value: Any) -> str:
    """The value on one line; an output not known yet shows as such, also where a kind made a CR name of it."""
    if value is None:
        return "(unset)"
    out = value if isinstance(value, str) else json.dumps(value, separators=(", ", ": "), default=str)
    return out.replace(_PENDING_NAME, PENDING)


def pending(value: Any) -> bool:
    """Whether the value holds an output of another resource not known before it is made."""
    return PENDING in text(value)


def spec_lines(spec: Mapping[str, Any]) -> tuple[str, ...]:
    """A CR's spec, one line per field."""
    return tuple(f"{field}: {text(shown(field, value))}" for field, value in spec.items())


def diff_lines(diff: Mapping[str, tuple[Any, Any]]) -> tuple[str, ...]:
    """Observation.diff, one line per field: old -> new. A change that only credentials make is named, not shown."""
    out = []
    for field, (old, new) in sorted(diff.items()):
        before, after = text(shown(field, old)), text(shown(field, new))
        out.append(f"{field}: changes (not shown)" if before == after else f"{field}: {before} → {after}")
    return tuple(out)


def secret_values(outputs: Mapping[str, Mapping[str, Any]]) -> list[str]:
    """The credentials among the outputs read so far (Secrets Manager's values are Sensitive)."""
    return sorted({v for out in outputs.values() for v in out.values()
                   if isinstance(v, Sensitive) and len(v) >= SECRET_MIN_LENGTH}, key=len, reverse=True)


def render(changes: Iterable[AckChange], secrets: Iterable[str] = ()) -> list[str]:
    """Every change's lines, with any known secret value masked wherever it would appear."""
    hidden, changes = list(secrets), list(changes)
    widths = (max((len(c.what) for c in changes), default=0), max((len(c.where) for c in changes), default=0))
    lines = []
    for change in changes:
        for line in change.lines(*widths):
            for s in hidden:
                line = line.replace(s, "***")
            lines.append(line)
    return lines


def summary(changes: Iterable[AckChange]) -> str:
    counted = {"adopt": "update", "retain": "delete"}
    counts = {a: 0 for a in ("create", "update", "delete", "conflict")}
    for c in changes:
        action = counted.get(c.action, c.action)
        if action in counts:
            counts[action] += 1
    return (f"Plan: {counts['create']} to create, {counts['update']} to change, {counts['delete']} to delete, "
            f"{counts['conflict']} in conflict. Nothing was changed.")


# What the clients write.

@dataclass(frozen=True)
class Written:
    """One object a desired resource makes a client write: the CR, or only some of its fields (`note` says which)."""

    api_version: str
    kind: str
    namespace: str
    name: str
    spec: Mapping[str, Any] | None = None  # None: not asked for, or not known before its dependencies are made
    note: str = ""
    error: str = ""

    @property
    def where(self) -> str:
        return f"{self.namespace}/{self.name}"


@dataclass(frozen=True)
class Partial:
    """A client that writes fields of another kind's CR, not a CR of its own (the queue policy: the Queue's)."""

    kind: resource.AckKind
    note: str
    spec: Callable[[Desired], Mapping[str, Any]]


PARTIAL = {QUEUE_POLICY: Partial(QUEUE, f"only spec.policy, field manager {POLICY_FIELD_MANAGER}",
                                 lambda d: {"policy": policy_document(d)})}


def _kms_alias(keys: Any, d: Desired) -> list[tuple[AckClient, Desired]]:
    return [(keys.aliases, d)]


# Kinds whose client writes more CRs than its own, each observed by the client that writes it: aenv kind -> the
# (AckClient, Desired) pairs after the kind's own. `d` may be a lookup without params (what left the spec).
PARTS: dict[str, Callable[[Any, Desired], list[tuple[AckClient, Desired]]]] = {KMS_KEY: _kms_alias}


def parts(kind: str, client: AckClient, d: Desired) -> list[tuple[AckClient, Desired]]:
    """The CRs a client writes for `d`: its own, and those PARTS lists for its kind (the kms Key's Alias)."""
    return [(client, d), *(PARTS[kind](client, d) if kind in PARTS else [])]


def unlisted(client: AckClient, listed: list[tuple[AckClient, Desired]]) -> list[str]:
    """Kinds of the AckClients a client holds that PARTS does not list: it writes them with its own object, whose
    fields show their changes."""
    kinds = {c.KIND for c, _ in listed}
    return sorted({c.KIND.kind for c in vars(client).values() if isinstance(c, AckClient) and c.KIND not in kinds})


def _spec(build: Callable[[], Mapping[str, Any]], d: Desired) -> tuple[Mapping[str, Any] | None, str]:
    """The spec, or None while it needs outputs not known yet, or the error that building it meets."""
    try:
        return build(), ""
    except Exception as e:  # a spec built over placeholders may fail any way
        if any(pending(v) for v in d.params.values()):
            return None, ""
        if isinstance(e, AwsError | TransientError):
            return None, str(e)
        raise


def written(kind: str, client: object, d: Desired, env: EnvironmentRef,
            with_spec: bool = True) -> list[tuple[Written, Any, Desired]]:
    """Every object the client writes for `d`, with the client that observes it and the desired resource it
    observes it with. A client of no ACK kind this module knows is named by the kind of its Cluster, or aenv's."""
    name = resource.object_name(d.name)
    if kind in PARTIAL:
        p = PARTIAL[kind]
        spec, error = _spec(lambda: p.spec(d), d) if with_spec else (None, "")
        return [(Written(p.kind.api_version, p.kind.kind, env.namespace, name, spec, p.note, error), client, d)]
    if isinstance(client, AckClient):
        listed = parts(kind, client, d)
        also = unlisted(client, listed)
        out = []
        for i, (w, wd) in enumerate(listed):
            spec, error = _spec(lambda w=w, wd=wd: w.spec(wd, env), wd) if with_spec else (None, "")  # type: ignore[misc]
            note = f"written with its {', '.join(also)}" if also and i == 0 else ""
            out.append((Written(w.KIND.api_version, w.KIND.kind, env.namespace, w.name_of(wd), spec, note, error),
                        w, wd))
        return out
    cluster = getattr(client, "cluster", None)
    ack = cluster.kind if isinstance(cluster, resource.Cluster) else resource.AckKind("", kind)
    return [(Written(ack.api_version if ack.service else "", ack.kind, env.namespace, name, note="fields not shown"),
             client, d)]


def _created(w: Written, also: str = "") -> AckChange:
    if w.error:
        return AckChange("error", w.api_version, w.kind, w.where, w.error)
    if w.spec is None and not w.note:
        also = "; ".join(x for x in (also, "spec known after apply") if x)
    detail = "; ".join(x for x in (w.note, also) if x)
    return AckChange("create", w.api_version, w.kind, w.where, detail, spec_lines(w.spec or {}))


def _observed(env: EnvironmentRef, d: Desired, w: Written, observed: Observation) -> AckChange:
    """An existing object's change: the fields whose new value is known, and those marked known after apply."""
    known = {f: v for f, v in observed.diff.items() if not pending(v[1])}
    later = {f: v for f, v in observed.diff.items() if pending(v[1])}
    action = decide(env, d, replace(observed, diff=known, up_to_date=not known))
    kind = ACTIONS.get(action.kind, action.kind)
    detail = action.message if action.kind in ("conflict", "adopt", "wait") else w.note
    if later:
        detail = "; ".join(x for x in (detail, f"{', '.join(sorted(later))} known after apply") if x)
    fields = () if kind == "conflict" else diff_lines(known) + diff_lines(later)
    return AckChange(kind, w.api_version, w.kind, w.where, detail, fields)


def without(observed: Observation, kinds: Iterable[str]) -> Observation:
    """The first object's observation without what its client reports of the parts listed after it
    (`alias`, `alias.<field>`): they have lines of their own."""
    names = {k.lower() for k in kinds}
    diff = {f: v for f, v in observed.diff.items() if re.split(r"[. ]", f, maxsplit=1)[0].lower() not in names}
    return replace(observed, diff=diff, up_to_date=not diff)


def _missing(desired: list[Desired], clients: Registry) -> list[AckChange]:
    out = []
    for d in desired:
        if implemented(d.component, desired, clients):
            continue
        absent = sorted({x.kind for x in desired if x.component == d.component and x.kind not in clients})
        why = "not built in mode ack" if d.kind not in clients else \
            f"not built in mode ack: {d.component} also needs {', '.join(absent)}"
        out.append(AckChange("missing", "", d.kind, d.name, why))
    return out


def offline(env: Environment, spec: EnvironmentSpec) -> list[AckChange]:
    """The objects a first pass would create, from the file alone."""
    clients, target = clients_for(spec)
    desired = desired_resources(env.ref, spec, requested(spec))
    changes = _missing(desired, clients)
    for d in desired:
        if implemented(d.component, desired, clients):
            changes += [_created(w) for w, _, _ in written(d.kind, clients.get(d.kind, target), _resolve(d, {}),
                                                           env.ref)]
    return changes


def preview(env: Environment, spec: EnvironmentSpec) -> tuple[list[AckChange], list[str]]:
    """Each object's change, read from the cluster (the CRs and the connection Secret); writes nothing. Also the
    secret values read on the way, to mask."""
    clients, target = clients_for(spec)
    desired = desired_resources(env.ref, spec, requested(spec))
    outputs: dict[str, Mapping[str, Any]] = {}
    changes = _missing(desired, clients)
    for d in desired:
        if not implemented(d.component, desired, clients):
            continue
        objects = written(d.kind, clients.get(d.kind, target), _resolve(d, outputs), env.ref)
        for i, (w, observer, wd) in enumerate(objects):
            try:
                observed = observer.observe(wd)
            except (AwsError, TransientError) as e:
                changes.append(AckChange("error", w.api_version, w.kind, w.where, str(e)))
                continue
            if i == 0:
                if observed.exists:
                    outputs[d.key] = observed.outputs
                observed = without(observed, [o.kind for o, _, _ in objects[1:]])
            changes.append(_observed(env.ref, wd, w, observed) if observed.exists else
                           _created(w, _unserved(observer)))
    changes += _retired(env, spec, {d.key for d in desired}, clients)
    secret = _secret_change(env, connection_data(spec, outputs))
    changes.append(AckChange(ACTIONS.get(secret.action, secret.action), "v1", "Secret", secret.name, secret.detail))
    return changes, secret_values(outputs)


def _unserved(client: object) -> str:
    cluster = getattr(client, "cluster", None)
    if isinstance(cluster, resource.Cluster) and cluster.served() is None:
        return f"the cluster does not serve it: install the ACK {cluster.kind.controller}"
    return ""


def _retired(env: Environment, spec: EnvironmentSpec, wanted: set[str], clients: Registry) -> list[AckChange]:
    """What left the spec: its objects are deleted (with Retain, ACK leaves the AWS resource)."""
    _, target = clients_for(spec)
    action = "retain" if spec.deletion_policy == "Retain" else "delete"
    out = []
    for r in env.status.resources:
        if r.key in wanted:
            continue
        if r.kind not in clients:
            out.append(AckChange("missing", "", r.kind, r.name, "no longer in the spec; not built in mode ack"))
            continue
        lookup = Desired(kind=r.kind, key=r.key, component=r.component, name=r.name)
        for w, _, _ in written(r.kind, clients.get(r.kind, target), lookup, env.ref, with_spec=False):
            detail = "; ".join(x for x in ("no longer in the spec", w.note) if x)
            out.append(AckChange(action, w.api_version, w.kind, w.where, detail))
    return out
