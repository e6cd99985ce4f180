"""Secrets Manager secrets in mode ack (kind secretsmanager.secret): a secretsmanager Secret CR whose value comes
from a Kubernetes Secret that aenv generates and owns.

The value is mode boto3's (aws/secretsmanager_secret.generate: the cache AUTH token, the database login as JSON, the
JWT key, an API key), written once into the Kubernetes Secret `<secret>-v<n>` (key `value`, and `password` for a
database login, which the DBInstance CR refers to; owned by the environment, labelled managed-by aenv); the CR's
secretString points at it and ACK puts it in Secrets Manager, encrypted with the environment's key (kmsKeyRef).
Outputs are mode boto3's: arn, version, and value, or username and password; they are Sensitive and are read from
the Kubernetes Secret, never from a log, status or event.

Rotation: ACK does not re-read a changed value in the same Secret, so aenv never changes one. When the value is
older than its period (the annotation aenv.dev/rotated-at of its Secret) or unusable (edited or deleted by hand),
update writes the next version `<secret>-v<n+1>` and points the CR at it. Pointing at another Secret is not enough
for ACK (it compares the CR with what AWS describes, which has no value): the description names the version as
well (`...; value v<n>`), and that difference makes ACK call UpdateSecret, which sends the new value. The
version before stays until the next rotation (ACK may still be applying the change); older ones are deleted. The
output "version" is the Secret's name, so consumers see each new value.

Deletion: ACK deletes the secret with Secrets Manager's default recovery window (30 days; ACK cannot force a
deletion without recovery), for Delete and Snapshot alike; Retain leaves it. The Kubernetes Secrets go with the
environment (owner references), or when the secret leaves the spec.
"""

from __future__ import annotations

import base64
import contextlib
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from kubernetes.client.exceptions import ApiException
from kubernetes.dynamic.exceptions import NotFoundError

from ..api.spec import DeletionPolicy
from ..aws.component import AwsTarget
from ..aws.secretsmanager_secret import REDACTED, TAG_ROTATED_AT, _outputs, _requested, _stamp, _utcnow, generate
from ..kube import apply
from ..naming import EnvironmentRef
from ..plan import encryption
from ..plan.types import Desired, Observation, Sensitive
from .kms_key import key_name
from .resource import (
    ENVIRONMENT_API_VERSION,
    ENVIRONMENT_KIND,
    MANAGED,
    AckClient,
    AckKind,
    environment_of_object,
    object_name,
    reference,
)

KIND = "secretsmanager.secret"
VALUE_KEY = "value"
PASSWORD_KEY = "password"  # a database login's password alone, for the DBInstance CR's masterUserPassword
ANNOTATION_VERSION = "aenv.dev/secret-version"
_TIME_FORMAT = "%Y-%m-%dT%H:%M:%SZ"


def value_secret_name(desired: Desired, version: int) -> str:
    """The Kubernetes Secret holding version `version` of the desired secret's value."""
    return object_name(f"{desired.name}-v{version}")


def description(desired: Desired, version: int) -> str:
    """Mode boto3's description, naming the value's version from the second on. ACK compares the CR with what
    AWS describes, and Secrets Manager never describes the value: a new secretString alone makes no difference
    ACK acts on. A new description does, and ACK's UpdateSecret then sends the value the CR points at too."""
    text: str = desired.params["description"]
    return text if version <= 1 else f"{text}; value v{version}"


def value_secret(desired: Desired, env: EnvironmentRef, version: int, value: str, now: datetime) -> dict[str, Any]:
    """The Kubernetes Secret of one value: written once, never changed (a rotation writes the next version)."""
    return {
        "apiVersion": "v1", "kind": "Secret", "type": "Opaque",
        "metadata": {
            "name": value_secret_name(desired, version), "namespace": env.namespace, "labels": dict(MANAGED),
            "annotations": {ANNOTATION_VERSION: str(version), TAG_ROTATED_AT: now.strftime(_TIME_FORMAT)},
            "ownerReferences": [{"apiVersion": ENVIRONMENT_API_VERSION, "kind": ENVIRONMENT_KIND, "name": env.name,
                                 "uid": env.uid, "controller": True}],
        },
        "data": {key: base64.b64encode(v.encode()).decode() for key, v in _keys(desired, value).items()},
    }


def _keys(desired: Desired, value: str) -> dict[str, str]:
    """The Secret's keys: the value, and for a database login its password on its own as well."""
    keys = {VALUE_KEY: value}
    login = _outputs(desired, "", "", value) if desired.params["value"] in ("database", "database-login") else None
    if login is not None:
        keys[PASSWORD_KEY] = str(login["password"])
    return keys


def version_of(secret_name: str) -> int:
    """The version of the value a Kubernetes Secret `<secret>-v<n>` holds (0: not such a name)."""
    suffix = secret_name.rsplit("-v", 1)[-1] if "-v" in secret_name else ""
    return int(suffix) if suffix.isdigit() else 0


def pointed_version(obj: Mapping[str, Any] | None) -> int:
    """The version of the value the CR points at (0: none yet)."""
    return version_of(str((((obj or {}).get("spec") or {}).get("secretString") or {}).get("name") or ""))


class ValueSecrets:
    """The Kubernetes Secrets holding the values, through aenv's dynamic client."""

    def resource(self) -> Any:
        return apply.dynamic().resources.get(api_version="v1", kind="Secret")

    def get(self, namespace: str, name: str) -> dict[str, Any] | None:
        try:
            found: dict[str, Any] = self.resource().get(name=name, namespace=namespace).to_dict()
        except NotFoundError:
            return None
        return found

    def create(self, body: Mapping[str, Any]) -> None:
        """Create it unless it exists: a value once written is never replaced (a crash between writing it and
        pointing the CR at it leaves it to be used)."""
        try:
            self.resource().create(body=dict(body), namespace=body["metadata"]["namespace"])
        except ApiException as e:
            if e.status != 409:
                raise

    def delete(self, namespace: str, name: str) -> None:
        with contextlib.suppress(NotFoundError):
            self.resource().delete(name=name, namespace=namespace)

    def orphan(self, namespace: str, name: str) -> None:
        """No longer owned by the environment: the value of a retained secret outlives it, for the next
        environment of the same name to adopt the secret with the value it holds."""
        with contextlib.suppress(NotFoundError):
            self.resource().patch(name=name, namespace=namespace, body={"metadata": {"ownerReferences": None}},
                                  content_type="application/merge-patch+json")


def _value(secret: Mapping[str, Any] | None) -> Sensitive | None:
    raw = ((secret or {}).get("data") or {}).get(VALUE_KEY)
    if not raw:
        return None
    try:
        return Sensitive(base64.b64decode(raw).decode())
    except ValueError:
        return None


def _rotated_at(secret: Mapping[str, Any]) -> datetime:
    stamp = ((secret.get("metadata") or {}).get("annotations") or {}).get(TAG_ROTATED_AT, "")
    try:
        return datetime.strptime(stamp, _TIME_FORMAT).replace(tzinfo=UTC)
    except ValueError:
        return datetime.min.replace(tzinfo=UTC)  # no date: due now


class SecretsManagerSecrets(AckClient):
    KIND = AckKind("secretsmanager", "Secret")
    ADOPTED_BY = (("name", "spec.name"), ("id", "status.id"))

    def __init__(self, target: AwsTarget, now: Callable[[], datetime] = _utcnow) -> None:
        super().__init__(target)
        self.values = ValueSecrets()
        self.now = now

    def _spec(self, desired: Desired, env: EnvironmentRef, version: int) -> dict[str, Any]:
        spec: dict[str, Any] = {
            "name": desired.name,
            "description": description(desired, version),
            "secretString": {"name": value_secret_name(desired, version), "key": VALUE_KEY,
                             "namespace": env.namespace},
            "tags": [{"key": k, "value": v} for k, v in desired.tags.items()],
        }
        if desired.params.get("kms_key_id"):
            spec["kmsKeyRef"] = reference(key_name(encryption.alias(env)))
        return spec

    def spec(self, desired: Desired, env: EnvironmentRef) -> dict[str, Any]:
        return self._spec(desired, env, 1)

    def wanted(self, desired: Desired, obj: Mapping[str, Any]) -> dict[str, Any]:
        env = self.environment(desired)
        assert env is not None  # observation() compares only what has params, hence tags naming the environment
        return self._spec(desired, env, max(pointed_version(obj), 1))

    def observe(self, desired: Desired) -> Observation:
        obj = self.find(desired)
        if obj is None:
            return Observation.absent()
        seen = self.observation(desired, obj)
        owner = environment_of_object(obj)
        if not desired.params or owner is None or owner.key != (self.environment(desired) or owner).key:
            return seen  # a lookup to delete it, or someone else's: its value is not aenv's to read
        version = pointed_version(obj)
        secret = self.values.get(owner.namespace, value_secret_name(desired, version)) if version else None
        value = _value(secret)
        arn = (seen.outputs or {}).get("arn")
        outputs = _outputs(desired, arn or "", value_secret_name(desired, version), value) if value else None
        diff = dict(seen.diff)
        if outputs is None:
            diff["value"] = (REDACTED, REDACTED)
        elif secret is not None and _rotated_at(secret) + timedelta(days=desired.params["rotation_days"]) <= self.now():
            diff["rotation"] = (_rotated_at(secret).strftime(_TIME_FORMAT),
                                f"every {desired.params['rotation_days']} days")
        elif secret is not None and (asked := _requested(desired)) is not None and _rotated_at(secret) <= asked:
            diff["rotation"] = (_rotated_at(secret).strftime(_TIME_FORMAT), f"asked at {asked.strftime(_TIME_FORMAT)}")
        ready = seen.ready and outputs is not None
        return Observation(
            exists=True, ready=ready, up_to_date=not diff, diff=diff, outputs=outputs if ready and outputs else {},
            owner=seen.owner, owner_environment=seen.owner_environment,
            state=seen.state if not seen.ready or outputs else "without a usable value",
        )

    def _write(self, desired: Desired, version: int, retained: Mapping[str, Any] | None = None,
               previous_username: str | None = None) -> Observation:
        """Write the value's Secret of this version (unless there), then point the CR at it."""
        env = self.environment(desired)
        if env is None:
            return self.observe(desired)  # manifest() raises the same way: the environment is not known yet
        self.values.create(value_secret(desired, env, version, generate(desired, previous_username),
                                       _stamp(desired, self.now())))
        body = self._manifest(desired, env, version)
        if retained is None:
            self.cluster.apply(body)
        else:
            self.adopt(body, retained)
        if version > 2:  # the one before stays while ACK applies the change
            self.values.delete(env.namespace, value_secret_name(desired, version - 2))
        return self.observe(desired)

    def _manifest(self, desired: Desired, env: EnvironmentRef, version: int) -> dict[str, Any]:
        body = self.manifest(desired)
        body["spec"] = self._spec(desired, env, version)
        return body

    def create(self, desired: Desired) -> Observation:
        """The first version; or, adopting a secret an environment of this name retained, the version it left."""
        retained = self.retained(self.manifest(desired))
        return self._write(desired, int((retained or {}).get("version") or 1), retained)

    def record(self, obj: Mapping[str, Any]) -> dict[str, Any]:
        return {**super().record(obj), "version": pointed_version(obj)}

    def update(self, desired: Desired, observed: Observation) -> Observation:
        version = max(pointed_version(self.find(desired)), 1)
        if "value" in observed.diff or "rotation" in observed.diff:
            version += 1
        return self._write(desired, version, previous_username=observed.outputs.get("username"))

    def delete(self, desired: Desired, observed: Observation, policy: DeletionPolicy) -> None:
        obj = self.find(desired)
        if obj is not None and policy == "Retain":
            self.values.orphan(obj["metadata"]["namespace"], value_secret_name(desired, pointed_version(obj)))
        super().delete(desired, observed, policy)
        if obj is not None and policy != "Retain":
            version = pointed_version(obj)
            namespace = obj["metadata"]["namespace"]
            for v in (version - 1, version):
                if v > 0:
                    self.values.delete(namespace, value_secret_name(desired, v))
