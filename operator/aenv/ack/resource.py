"""The generic ACK client: one ACK custom resource kind behind the same interface as mode boto3's clients.

aenv writes the custom resource (CR) and ACK's controller makes the AWS calls. A CR lives in the environment's
namespace, is named from the AWS name (a valid Kubernetes name, shortened with a stable hash when needed), carries
the label `app.kubernetes.io/managed-by: aenv` and the annotations `aenv.dev/environment` and `aenv.dev/uid` (who
owns it, read back by observe), is owned by the environment (ownerReferences, so deletion cascades), and is
written by server-side apply with the field manager "aenv". AWS names and tags are the same as mode boto3's.

Readiness is not ACK.ResourceSynced alone: the kind's own status must be usable too (an ARN or URL present, a key
enabled). ACK.Terminal becomes an AwsError (the spec must change); ACK.Recoverable and unresolved references are
"not ready" with ACK's message. A kind the cluster does not serve is an AwsError naming the controller to install.

ACK corrects drift on the AWS side itself (every resync of its controller). aenv corrects drift of the CR: when a
field aenv sets differs from what the CR holds, observe reports it and update applies the manifest again.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, ClassVar

from kubernetes.client.exceptions import ApiException
from kubernetes.dynamic.exceptions import NotFoundError, ResourceNotFoundError

from ..api.spec import DeletionPolicy
from ..aws.component import AwsTarget, Classified
from ..aws.errors import AwsError, TransientError
from ..aws.sqs_queue_policy import _canonical as canonical_policy
from ..kube import apply
from ..naming import OBJECT_NAME_MAX, TAG_ENVIRONMENT, TAG_RELEASED, TAG_UID, EnvironmentRef
from ..plan.types import Desired, Observation

MANAGED_BY = "app.kubernetes.io/managed-by"
MANAGED = {MANAGED_BY: "aenv"}
MANAGED_SELECTOR = f"{MANAGED_BY}=aenv"
ANNOTATION_ENVIRONMENT = TAG_ENVIRONMENT  # "<namespace>/<name>": not a valid label value, so an annotation
ANNOTATION_UID = TAG_UID
DELETION_POLICY = "services.k8s.aws/deletion-policy"  # delete | retain
ADOPTION_POLICY = "services.k8s.aws/adoption-policy"
ADOPTION_FIELDS = "services.k8s.aws/adoption-fields"
RELEASED_AT = "aenv.dev/released-at"  # when aenv asked ACK to tag the resource released, before retaining it
DELETING_MANAGER = "aenv-deletion"  # the field manager of what aenv changes in a CR to delete or retain it
ADOPTING_MANAGER = "aenv-adoption"  # ... and of the fields ACK had filled in on a CR that a Retain left
REGION = "services.k8s.aws/region"
ENVIRONMENT_API_VERSION = "aenv.dev/v1alpha1"
ENVIRONMENT_KIND = "AnalyticsEnvironment"

SYNCED = "ACK.ResourceSynced"
TERMINAL = "ACK.Terminal"
RECOVERABLE = "ACK.Recoverable"
REFERENCES_RESOLVED = "ACK.ReferencesResolved"
TERMINAL_HINT = "change the spec so that ACK can apply it; aenv writes the change and ACK retries"

_INVALID_NAME = re.compile(r"[^a-z0-9.-]+")


@dataclass(frozen=True)
class AckKind:
    """One kind of ACK resource: sqs Queue is AckKind("sqs", "Queue")."""

    service: str
    kind: str
    version: str = "v1alpha1"

    @property
    def group(self) -> str:
        return f"{self.service}.services.k8s.aws"

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}"

    @property
    def controller(self) -> str:
        return f"{self.service}-controller"


class AckError(AwsError):
    """An AwsError whose hint is ACK's, not the AWS one (which speaks of the operator's own credentials)."""

    def __init__(self, code: str, message: str, hint: str) -> None:
        Exception.__init__(self, f"{code}: {message} ({hint})")
        self.code = code


CONTROLLER_MISSING = "ACKControllerMissing"


def controller_missing(kind: AckKind) -> AckError:
    return AckError(CONTROLLER_MISSING, f"the cluster does not serve {kind.kind} ({kind.api_version})",
                    f"install the ACK {kind.controller}")


def object_name(aws_name: str, max_length: int = OBJECT_NAME_MAX) -> str:
    """The CR name for an AWS name: the same when it is a valid Kubernetes name, else lower-cased with the invalid
    characters replaced and a stable hash of the whole AWS name appended, so that two AWS names never meet."""
    cleaned = _INVALID_NAME.sub("-", aws_name.lower()).strip("-.")
    if cleaned == aws_name and len(cleaned) <= max_length:
        return cleaned
    digest = hashlib.sha256(aws_name.encode()).hexdigest()[:8]
    return cleaned[: max_length - len(digest) - 1].rstrip("-.") + "-" + digest


def environment_of(tags: Mapping[str, str]) -> EnvironmentRef | None:
    """The environment that a desired resource's tags name (aenv.dev/environment `<namespace>/<name>`, aenv.dev/uid)."""
    key, uid = tags.get(TAG_ENVIRONMENT), tags.get(TAG_UID)
    if not key or not uid or "/" not in key:
        return None
    namespace, name = key.split("/", 1)
    return EnvironmentRef(namespace, name, uid)


def environment_of_object(obj: Mapping[str, Any]) -> EnvironmentRef | None:
    """The environment a CR aenv wrote belongs to, from its annotations."""
    annotations = (obj.get("metadata") or {}).get("annotations") or {}
    return environment_of({TAG_ENVIRONMENT: annotations.get(ANNOTATION_ENVIRONMENT, ""),
                           TAG_UID: annotations.get(ANNOTATION_UID, "")})


def manifest(kind: AckKind, name: str, env: EnvironmentRef, region: str, spec: Mapping[str, Any]) -> dict[str, Any]:
    """The whole CR as aenv applies it."""
    return {
        "apiVersion": kind.api_version,
        "kind": kind.kind,
        "metadata": {
            "name": name,
            "namespace": env.namespace,
            "labels": dict(MANAGED),
            "annotations": {ANNOTATION_ENVIRONMENT: env.key, ANNOTATION_UID: env.uid, REGION: region},
            "ownerReferences": [{"apiVersion": ENVIRONMENT_API_VERSION, "kind": ENVIRONMENT_KIND, "name": env.name,
                                 "uid": env.uid, "controller": True}],
        },
        "spec": dict(spec),
    }


def reference(name: str) -> dict[str, Any]:
    """An ACK reference field's value: the CR of that name in the same namespace."""
    return {"from": {"name": name}}


def conditions(obj: Mapping[str, Any]) -> dict[str, Mapping[str, Any]]:
    return {str(c.get("type")): c for c in ((obj.get("status") or {}).get("conditions") or [])}


def _true(condition: Mapping[str, Any] | None) -> bool:
    return condition is not None and condition.get("status") == "True"


@dataclass(frozen=True)
class Readiness:
    """What a CR's status says: usable or not, in a few words, and ACK's message when the spec must change."""

    ready: bool
    state: str
    terminal: str | None = None


def readiness(obj: Mapping[str, Any], controller: str, unusable: str | None) -> Readiness:
    """Classify a CR from its status. `unusable` is the kind's own verdict on its status (None: usable)."""
    if (obj.get("metadata") or {}).get("deletionTimestamp"):
        return Readiness(False, "deleting")
    found = conditions(obj)
    if _true(found.get(TERMINAL)):
        return Readiness(False, "terminal", str(found[TERMINAL].get("message") or "ACK.Terminal"))
    if _true(found.get(RECOVERABLE)):
        return Readiness(False, f"retried by ACK: {found[RECOVERABLE].get('message') or 'recoverable error'}")
    resolved = found.get(REFERENCES_RESOLVED)
    if resolved is not None and resolved.get("status") == "False":
        return Readiness(False, f"waiting for its references: {resolved.get('message') or ''}".rstrip(": "))
    synced = found.get(SYNCED)
    if synced is None:
        return Readiness(False, f"waiting for the ACK {controller} to sync it")
    if not _true(synced):
        return Readiness(False, f"not synced yet: {synced.get('message') or synced.get('reason') or ''}".rstrip(": "))
    if unusable is not None:
        return Readiness(False, unusable)
    return Readiness(True, "available")


def synced_since(obj: Mapping[str, Any], stamp: str) -> bool:
    """Whether ACK has synced the CR at or after `stamp` (RFC 3339, seconds): ACK stamps the condition's
    lastTransitionTime each time it sets it, which tells a sync of a change aenv made from one before it."""
    synced = conditions(obj).get(SYNCED)
    return _true(synced) and str((synced or {}).get("lastTransitionTime") or "") >= stamp


def _parsed(value: Any) -> Any:
    """JSON documents held as strings parsed, numbers as strings (SQS answers maxReceiveCount as either)."""
    if isinstance(value, str):
        try:
            parsed = json.loads(value)
        except ValueError:
            return value
        return _parsed(parsed) if isinstance(parsed, dict | list) else value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    if isinstance(value, dict):
        return {k: _parsed(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_parsed(v) for v in value]
    return value


def same(observed: Any, desired: Any) -> bool:
    """Whether the CR holds the value aenv wants, as AWS reads it: documents parsed, a one-element list the element,
    list order and number types ignored."""
    return bool(observed == desired or canonical_policy(_parsed(observed)) == canonical_policy(_parsed(desired)))


def spec_diff(observed: Mapping[str, Any], desired: Mapping[str, Any], tag_field: str | None = None,
              ) -> dict[str, tuple[Any, Any]]:
    """The fields aenv sets whose value the CR does not hold. Fields that ACK or others set are not compared; the
    tags must include aenv's, and may include others (ACK adds its own)."""
    diff: dict[str, tuple[Any, Any]] = {}
    for field, want in desired.items():
        got = observed.get(field)
        if field == tag_field:
            have = tag_map(got)
            if any(have.get(k) != v for k, v in tag_map(want).items()):
                diff[field] = (got, want)
        elif not same(got, want):
            diff[field] = (got, want)
    return diff


def tag_map(tags: Any) -> dict[str, str]:
    """ACK's tags as a mapping, whichever form the kind uses: a map, [{key, value}] or [{tagKey, tagValue}]."""
    if isinstance(tags, Mapping):
        return {str(k): str(v) for k, v in tags.items()}
    out = {}
    for t in tags or []:
        key, value = t.get("key", t.get("tagKey")), t.get("value", t.get("tagValue"))
        if key is not None:
            out[str(key)] = str(value or "")
    return out


def with_tag(tags: Any, key: str, value: str) -> Any:
    """ACK's tags with one more, in the form the kind uses (a map, or a list of {key, value} or {tagKey,
    tagValue})."""
    if isinstance(tags, Mapping):
        return {**tags, key: value}
    listed = [t for t in tags or [] if t.get("key", t.get("tagKey")) != key]
    names = ("tagKey", "tagValue") if listed and "tagKey" in listed[0] else ("key", "value")
    return [*listed, {names[0]: key, names[1]: value}]


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _at(obj: Mapping[str, Any], path: str) -> Any:
    """A value in a CR by its dotted path, e.g. "status.ackResourceMetadata.arn"."""
    value: Any = obj
    for part in path.split("."):
        value = (value or {}).get(part) if isinstance(value, Mapping) else None
    return value


class Retained:
    """What a Retain left in AWS, per environment name: a ConfigMap `aenv-retained-<name>` in its namespace (not
    owned by the environment, which is gone) with, per CR, the fields ACK adopts the AWS resource by. A new
    environment of the same name writes those CRs with ACK's adoption annotations, so ACK adopts what is there
    instead of creating it again; only what aenv itself retained is adopted, never a resource of someone else
    that happens to have the name."""

    def __init__(self, namespace: str, environment: str) -> None:
        self.namespace, self.name = namespace, object_name(f"aenv-retained-{environment}")

    @staticmethod
    def entry(kind: AckKind, name: str) -> str:
        return object_name(f"{kind.service}.{kind.kind.lower()}.{name}")

    def _resource(self) -> Any:
        return apply.dynamic().resources.get(api_version="v1", kind="ConfigMap")

    def _data(self) -> dict[str, str]:
        try:
            found = self._resource().get(name=self.name, namespace=self.namespace).to_dict()
        except NotFoundError:
            return {}
        return dict(found.get("data") or {})

    def get(self, kind: AckKind, name: str) -> dict[str, Any] | None:
        raw = self._data().get(self.entry(kind, name))
        return dict(json.loads(raw)) if raw else None

    def put(self, kind: AckKind, name: str, record: Mapping[str, Any]) -> None:
        self._resource().server_side_apply(body={
            "apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": self.name, "namespace": self.namespace, "labels": dict(MANAGED)},
            "data": {self.entry(kind, name): json.dumps(record, sort_keys=True)},
        }, name=self.name, namespace=self.namespace, field_manager=f"aenv-{self.entry(kind, name)}"[:128],
            force_conflicts=True)

    def drop(self, kind: AckKind, name: str) -> None:
        data = self._data()
        if self.entry(kind, name) not in data:
            return
        with contextlib.suppress(NotFoundError):
            if set(data) == {self.entry(kind, name)}:
                self._resource().delete(name=self.name, namespace=self.namespace)
            else:
                self._resource().patch(name=self.name, namespace=self.namespace,
                                       body={"data": {self.entry(kind, name): None}},
                                       content_type="application/merge-patch+json")


class Cluster:
    """The few API calls on ACK resources, through aenv's dynamic client."""

    def __init__(self, kind: AckKind) -> None:
        self.kind = kind

    def resource(self) -> Any:
        client = apply.dynamic()
        try:
            return client.resources.get(api_version=self.kind.api_version, kind=self.kind.kind)
        except ResourceNotFoundError:
            pass
        try:  # served since discovery was cached (the controller was installed after aenv started)?
            client.request("GET", f"/apis/{self.kind.api_version}")
        except NotFoundError:
            raise controller_missing(self.kind) from None
        client.resources.invalidate_cache()
        try:
            return client.resources.get(api_version=self.kind.api_version, kind=self.kind.kind)
        except ResourceNotFoundError:
            raise controller_missing(self.kind) from None

    def still_served(self) -> bool:
        """After a 404 on the kind's collection: whether the cluster still serves the kind (its CRD may have been
        removed since discovery was cached)."""
        client = apply.dynamic()
        client.resources.invalidate_cache()
        try:
            client.resources.get(api_version=self.kind.api_version, kind=self.kind.kind)
        except ResourceNotFoundError:
            return False
        return True

    def served(self) -> Any | None:
        """The kind's resource, or None when the cluster does not serve it: then no CR of it exists, so a read
        finds nothing (and an environment can be deleted without the controller); writing names the controller."""
        try:
            return self.resource()
        except AckError as e:
            if e.code != CONTROLLER_MISSING:
                raise
            return None

    def get(self, namespace: str, name: str) -> dict[str, Any] | None:
        resource = self.served()
        if resource is None:
            return None
        try:
            found: dict[str, Any] = resource.get(name=name, namespace=namespace).to_dict()
        except NotFoundError:
            return None
        return found

    def find(self, name: str) -> dict[str, Any] | None:
        """A CR aenv wrote, by name, in any namespace: a deletion knows the AWS name, not the environment."""
        resource = self.served()
        if resource is None:
            return None
        try:
            items = resource.get(field_selector=f"metadata.name={name}", label_selector=MANAGED_SELECTOR).items
        except NotFoundError:
            if self.still_served():
                raise
            return None
        return items[0].to_dict() if items else None

    def apply(self, body: Mapping[str, Any], field_manager: str = apply.FIELD_MANAGER) -> dict[str, Any]:
        meta = body["metadata"]
        try:
            result = self.resource().server_side_apply(body=dict(body), name=meta["name"],
                                                       namespace=meta["namespace"], field_manager=field_manager,
                                                       force_conflicts=True)
        except ApiException as e:
            if e.status == 409:  # a concurrent write (ACK updating the CR): retried on the next pass
                raise TransientError(f"{self.kind.kind} {meta['name']} changed while aenv wrote it") from e
            if e.status == 404 and not self.still_served():
                raise controller_missing(self.kind) from None
            raise
        out: dict[str, Any] = result.to_dict()
        return out

    def annotate(self, namespace: str, name: str, annotations: Mapping[str, str]) -> None:
        self.resource().patch(name=name, namespace=namespace, body={"metadata": {"annotations": dict(annotations)}},
                              content_type="application/merge-patch+json")

    def delete(self, namespace: str, name: str) -> None:
        with contextlib.suppress(NotFoundError):  # gone already
            self.resource().delete(name=name, namespace=namespace)


class AckClient(Classified):
    """A ResourceClient over one ACK kind. A kind's module sets KIND and says how its desired resource becomes a
    spec (`spec`), when its status is usable (`unusable`) and what it outputs (`outputs`): the same output keys as
    mode boto3's client of the same kind, since other components and the connection Secret read them."""

    KIND: ClassVar[AckKind]
    TAG_FIELD: ClassVar[str | None] = "tags"  # the spec field holding AWS tags, if the kind has one
    # ACK's adoption fields and where in the CR they are, for a kind whose spec does not name the AWS resource
    # (it is known by an id or ARN in the status); a kind named by its spec is adopted from its spec.
    ADOPTED_BY: ClassVar[tuple[tuple[str, str], ...]] = ()

    def __init__(self, target: AwsTarget) -> None:
        self.region = target.region
        self.cluster = Cluster(self.KIND)

    # What a kind says about itself.

    def name_of(self, desired: Desired) -> str:
        return object_name(desired.name)

    def spec(self, desired: Desired, env: EnvironmentRef) -> dict[str, Any]:
        raise NotImplementedError

    def unusable(self, obj: Mapping[str, Any]) -> str | None:
        """Why the status is not usable yet, or None. By default: it must name the AWS resource's ARN."""
        return None if arn(obj) else "synced, but without an ARN yet"

    def outputs(self, obj: Mapping[str, Any]) -> dict[str, Any]:
        return {"arn": arn(obj)}

    def deletion_policy(self, policy: DeletionPolicy) -> str:
        """ACK's deletion policy for aenv's: Retain leaves the AWS resource, Delete and Snapshot delete it."""
        return "retain" if policy == "Retain" else "delete"

    def environment(self, desired: Desired) -> EnvironmentRef | None:
        """Whose resource this is: from the desired resource's tags; None for a lookup (a deletion)."""
        return environment_of(desired.tags)

    def wanted(self, desired: Desired, obj: Mapping[str, Any]) -> dict[str, Any]:
        """The spec the CR `obj` should hold: by default the manifest's; a kind whose spec depends on what the CR
        points at now (a secret's current value) says so here."""
        spec: dict[str, Any] = self.manifest(desired)["spec"]
        return spec

    # The interface.

    def manifest(self, desired: Desired) -> dict[str, Any]:
        env = self.environment(desired)
        if env is None:
            raise TransientError(f"{desired.name}: the environment it belongs to is not known yet")
        return manifest(self.KIND, self.name_of(desired), env, self.region, self.spec(desired, env))

    def find(self, desired: Desired) -> dict[str, Any] | None:
        env = self.environment(desired)
        name = self.name_of(desired)
        return self.cluster.get(env.namespace, name) if env is not None else self.cluster.find(name)

    def observe(self, desired: Desired) -> Observation:
        obj = self.find(desired)
        if obj is None:
            return Observation.absent()
        return self.observation(desired, obj)

    def observation(self, desired: Desired, obj: Mapping[str, Any]) -> Observation:
        owner = environment_of_object(obj)
        labels = (obj.get("metadata") or {}).get("labels") or {}
        if owner is None or labels.get(MANAGED_BY) != "aenv":  # a CR someone else wrote, with the same name
            return Observation(exists=True, state="not written by aenv")
        diff: dict[str, tuple[Any, Any]] = {}
        if desired.params:  # a lookup (deleting) has nothing to compare
            diff = spec_diff(obj.get("spec") or {}, self.wanted(desired, obj), self.TAG_FIELD)
        status = readiness(obj, self.KIND.controller, self.unusable(obj))
        if status.terminal is not None and not diff and desired.params:
            raise AckError("ACK.Terminal", f"ACK cannot apply {self.KIND.kind} {self.name_of(desired)}: "
                                           f"{status.terminal}", TERMINAL_HINT)
        return Observation(
            exists=True, ready=status.ready, up_to_date=not diff, diff=diff,
            outputs=self.outputs(obj) if status.ready else {},
            owner=owner.uid, owner_environment=owner.key, state=status.state,
        )

    def create(self, desired: Desired) -> Observation:
        body = self.manifest(desired)
        record = self.retained(body)
        if record is None:
            return self.observation(desired, self.cluster.apply(body))
        return self.observation(desired, self.adopt(body, record))

    def adopt(self, body: dict[str, Any], record: Mapping[str, Any]) -> dict[str, Any]:
        """Write the CR of a retained resource for ACK to adopt. The spec fields ACK had filled in on the retained
        CR (late-initialized from AWS: a key's origin and policy...) go back in under their own field manager: ACK
        does not fill them in for an adopted resource, and would otherwise see them differ from AWS forever."""
        obj = self.cluster.apply(self.adopting(body, record))
        kept = {k: v for k, v in (record.get("spec") or {}).items() if k not in body["spec"]}
        if not kept:
            return obj
        meta = body["metadata"]
        return self.cluster.apply({"apiVersion": body["apiVersion"], "kind": body["kind"],
                                   "metadata": {"name": meta["name"], "namespace": meta["namespace"]},
                                   "spec": kept}, field_manager=ADOPTING_MANAGER)

    def retained(self, body: Mapping[str, Any]) -> dict[str, Any] | None:
        """What a Retain of an earlier environment of this name recorded for the CR `body`, if anything."""
        env = environment_of_object(body)
        return Retained(env.namespace, env.name).get(self.KIND, body["metadata"]["name"]) if env else None

    def adopting(self, body: dict[str, Any], record: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """The CR with ACK's adoption annotations when an earlier environment of this name retained its AWS
        resource: ACK then adopts it (by the recorded fields, or by the spec) instead of creating another."""
        record = record if record is not None else self.retained(body)
        if record is not None:
            annotations = body["metadata"].setdefault("annotations", {})
            annotations[ADOPTION_POLICY] = "adopt-or-create"
            if record.get("fields"):
                annotations[ADOPTION_FIELDS] = json.dumps(record["fields"], sort_keys=True)
        return body

    def record(self, obj: Mapping[str, Any]) -> dict[str, Any]:
        """What to record of a retained CR for a later environment to adopt it: ACK's adoption fields, and the
        spec as ACK left it, whose fields aenv does not set are written back on adoption."""
        spec = obj.get("spec") or {}
        return {"fields": {field: str(_at(obj, path)) for field, path in self.ADOPTED_BY if _at(obj, path)},
                "spec": {k: v for k, v in spec.items() if k != self.TAG_FIELD and not k.endswith(("Ref", "Refs"))}}

    def update(self, desired: Desired, observed: Observation) -> Observation:
        return self.create(desired)

    def before_delete(self, obj: Mapping[str, Any], policy: DeletionPolicy) -> bool:
        """Whether the CR may be deleted now. A kind that must first change something in AWS (take a final
        snapshot, turn deletion protection off) starts that and says False; a later pass deletes the CR."""
        return True

    def delete_annotations(self, obj: Mapping[str, Any], policy: DeletionPolicy) -> dict[str, str]:
        """The annotations that tell ACK how to delete: its deletion policy, and what a kind adds."""
        return {DELETION_POLICY: self.deletion_policy(policy)}

    def delete(self, desired: Desired, observed: Observation, policy: DeletionPolicy) -> None:
        obj = self.find(desired)
        if obj is not None:
            self.remove(obj, policy)

    def remove(self, obj: Mapping[str, Any], policy: DeletionPolicy) -> None:
        """Delete the CR `obj`, first telling ACK whether to delete or keep the AWS resource. What ACK keeps is
        first tagged released (as mode boto3 tags it), and what a Retain keeps is recorded for adoption."""
        meta = obj["metadata"]
        keep = self.deletion_policy(policy) == "retain"
        if not meta.get("deletionTimestamp"):
            if keep and not self._released(obj):  # a kept resource counts as retired at once: say it is not yet
                raise TransientError(f"{meta['name']}: waiting for ACK to tag it released before keeping it")
            if not keep and not self.before_delete(obj, policy):
                return
        wanted = self.delete_annotations(obj, policy)
        have = meta.get("annotations") or {}
        if any(have.get(k) != v for k, v in wanted.items()):
            self.cluster.annotate(meta["namespace"], meta["name"], wanted)
        env = environment_of_object(obj)
        if env is not None:
            retained = Retained(env.namespace, env.name)
            if policy == "Retain":
                retained.put(self.KIND, meta["name"], self.record(obj))
            else:
                retained.drop(self.KIND, meta["name"])
        self.cluster.delete(meta["namespace"], meta["name"])

    def _released(self, obj: Mapping[str, Any]) -> bool:
        """Whether AWS has the resource tagged aenv.dev/released=true; if not yet asked, ask ACK to tag it."""
        if self.TAG_FIELD is None:
            return True
        meta, spec = obj["metadata"], obj.get("spec") or {}
        if tag_map(spec.get(self.TAG_FIELD)).get(TAG_RELEASED) == "true":
            asked = (meta.get("annotations") or {}).get(RELEASED_AT)
            return asked is None or synced_since(obj, str(asked))
        self.cluster.apply({
            "apiVersion": self.KIND.api_version, "kind": self.KIND.kind,
            "metadata": {"name": meta["name"], "namespace": meta["namespace"], "annotations": {RELEASED_AT: _now()}},
            "spec": {self.TAG_FIELD: with_tag(spec.get(self.TAG_FIELD), TAG_RELEASED, "true")},
        }, field_manager=DELETING_MANAGER)
        return False


def arn(obj: Mapping[str, Any]) -> str | None:
    value = ((obj.get("status") or {}).get("ackResourceMetadata") or {}).get("arn")
    return str(value) if value else None
