"""CloudTrail events -> the environments and resources they name. Pure.

An event names resources in requestParameters and responseElements under service-specific fields (queueUrl,
topicArn, replicationGroupId, dBInstanceIdentifier, keyId, secretId, apiId, alarmName(s), roleName, groupId,
bucketName, resourceArn, ...). Rather than one parser per service, every string in them is read and reduced to
tokens (the value, and for an ARN or URL its last segment); an Index built from what each environment's last pass
recorded (its resources' names, their ARNs, URLs and generated ids) says which environment and resource a token is.
Only aenv's names (`aenv-...`), full ARNs and URLs, and generated ids are indexed: a generic last segment ("live",
a stage) would name every environment.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

DETAIL_TYPE = "AWS API Call via CloudTrail"
ALARM_DETAIL_TYPE = "CloudWatch Alarm State Change"  # sent by CloudWatch itself, with or without a trail
# The services whose resources aenv manages, as EventBridge sources.
SERVICES = ("sqs", "sns", "elasticache", "rds", "kms", "secretsmanager", "apigateway", "cloudwatch", "iam", "ec2",
            "s3")
SOURCES = tuple(f"aws.{s}" for s in SERVICES)
_STRINGS_MAX = 500  # strings read from one event: a large request (a policy document) does not cost more
_DEPTH_MAX = 8
_ID_FIELDS = ("id", "api_id", "key_id", "group_id", "arn", "url", "queue_url")


def rule_pattern() -> dict[str, list[str]]:
    """The EventBridge event pattern: the CloudTrail management events of the services aenv manages, and the
    alarms' state changes (source aws.cloudwatch) for the notification targets."""
    return {"source": list(SOURCES), "detail-type": [DETAIL_TYPE, ALARM_DETAIL_TYPE]}


@dataclass(frozen=True)
class Event:
    """What aenv reads of one CloudTrail event."""

    source: str
    name: str  # eventName: SetQueueAttributes
    principal: str | None  # userIdentity.arn: who made the call
    tokens: frozenset[str]


def parse(body: str) -> Event | None:
    """The event an EventBridge message carries; None for anything else (not JSON, not a CloudTrail event)."""
    try:
        doc = json.loads(body)
    except ValueError:
        return None
    if not isinstance(doc, dict) or doc.get("detail-type") != DETAIL_TYPE or not isinstance(doc.get("detail"), dict):
        return None
    detail: dict[str, Any] = doc["detail"]
    identity = detail.get("userIdentity")
    principal = identity.get("arn") if isinstance(identity, dict) else None
    found: set[str] = set()
    strings = _strings([detail.get("requestParameters"), detail.get("responseElements"), detail.get("resources"),
                        doc.get("resources")])
    for _, value in zip(range(_STRINGS_MAX), strings, strict=False):
        found |= tokens(value)
    return Event(str(doc.get("source", "")), str(detail.get("eventName", "")),
                 principal if isinstance(principal, str) else None, frozenset(found))


@dataclass(frozen=True)
class AlarmChange:
    """What aenv reads of one CloudWatch alarm state change."""

    id: str  # the EventBridge event's id: the same on every delivery of the one change
    alarm: str
    state: str  # OK, ALARM, INSUFFICIENT_DATA
    reason: str
    time: str  # as CloudWatch writes it: 2026-12-01T12:00:00.000+0000


def parse_alarm(body: str) -> AlarmChange | None:
    """The alarm state change an EventBridge message carries; None for anything else."""
    try:
        doc = json.loads(body)
    except ValueError:
        return None
    if not isinstance(doc, dict) or doc.get("detail-type") != ALARM_DETAIL_TYPE:
        return None
    detail, event_id = doc.get("detail"), doc.get("id")
    state = detail.get("state") if isinstance(detail, dict) else None
    if not isinstance(detail, dict) or not isinstance(state, dict) or not isinstance(event_id, str) \
            or not isinstance(detail.get("alarmName"), str) or not isinstance(state.get("value"), str):
        return None
    return AlarmChange(event_id, detail["alarmName"], state["value"], str(state.get("reason", "")),
                       str(state.get("timestamp", "")))


def _strings(value: Any, depth: int = 0) -> Iterator[str]:
    if depth > _DEPTH_MAX:
        return
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for v in value.values():
            yield from _strings(v, depth + 1)
    elif isinstance(value, list):
        for v in value:
            yield from _strings(v, depth + 1)


def tokens(value: str) -> set[str]:
    """The value, and for an ARN or URL its last segment (a queue URL's name, a role ARN's name, `alias/x`'s x)."""
    value = value.strip()
    if not value:
        return set()
    out = {value}
    last = value.rstrip("/").rsplit("/", 1)[-1]
    if value.startswith("arn:"):
        last = last.rsplit(":", 1)[-1]
    out.add(last)
    return out


ResourceRef = tuple[str, str]  # environment uid, the resource's key in the plan ("queue/events")


@dataclass(frozen=True)
class Recorded:
    """What one environment's last pass recorded: its resources (key, AWS name) and their outputs by key."""

    uid: str
    resources: Iterable[tuple[str, str]]
    outputs: Mapping[str, Mapping[str, Any]]


class Index:
    """Token -> the environments' resources it names."""

    def __init__(self, environments: Iterable[Recorded]) -> None:
        self._by_token: dict[str, set[ResourceRef]] = {}
        for env in environments:
            for key, name in env.resources:
                self._add(name, (env.uid, key), whole=False)
            for key, out in env.outputs.items():
                for field, value in out.items():
                    if field in _ID_FIELDS and isinstance(value, str):
                        self._add(value, (env.uid, key), whole=True)

    def _add(self, value: str, ref: ResourceRef, whole: bool) -> None:
        """aenv's names; and with `whole` the value itself (an ARN, a URL, a generated id)."""
        for token in tokens(value):
            if token.startswith("aenv-") or (whole and token == value):
                self._by_token.setdefault(token, set()).add(ref)

    def owners(self, event: Event) -> dict[str, set[str]]:
        """The environments (by uid) whose resources the event names, with those resources' keys."""
        out: dict[str, set[str]] = {}
        for token in event.tokens:
            for uid, key in self._by_token.get(token, ()):
                out.setdefault(uid, set()).add(key)
        return out

    def named(self, name: str) -> set[str]:
        """The environments (by uid) that own a resource of this AWS name."""
        return {uid for uid, _ in self._by_token.get(name, ())} if name.startswith("aenv-") else set()

    def __len__(self) -> int:
        return len(self._by_token)
