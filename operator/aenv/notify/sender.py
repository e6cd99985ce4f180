"""The background sender: passes hand it their environment (submit, which never blocks), a dispatcher thread reads
what the API server holds, and one worker thread per target delivers that target's undelivered notifications in
order, with exponential backoff, recording each in the ledger as soon as the target took it.

Only notifications the API server holds are sent: a pass's outbox reaches the API server after the pass (kopf
writes a handler's status patch when it returns), so the dispatcher reads the environment until the outbox it was
given is there. A pass whose write was lost is made again by the next pass, under a new id.

The verdict per target goes to the environment's memory (delivery), and a change wakes the environment so that a
pass writes the NotificationsDelivered condition: the passes stay the status's only writer.
"""

from __future__ import annotations

import base64
import logging
import os
import queue
import random
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError
from kubernetes import client
from kubernetes.client.exceptions import ApiException
from pydantic import ValidationError

from ..api import GROUP, PLURAL, VERSION
from ..api.spec import EnvironmentSpec
from ..api.status import NotificationRecord, NotificationsStatus
from ..aws import session
from ..aws.component import AwsTarget
from ..aws.sns_topic import list_topics
from ..memory import Memories
from ..naming import EnvironmentRef
from ..plan.monitoring import TOPIC_KEY, topic_name
from ..plan.notifications import EMAIL_TARGET, emails_published, hook_targets
from . import email, ledger
from .alarms import Alarms, Delete
from .channel import Channel, DeliveryError, Notification, post_json
from .slack import Slack
from .webhook import Webhook

CHANNELS: dict[str, Channel] = {"slack": Slack(), "webhook": Webhook()}
PERSIST_WAIT_SECONDS = 5.0
GONE_KEPT = 64  # forgotten environments whose state a job still queued for them may need
log = logging.getLogger("aenv.notify")


@dataclass(frozen=True)
class Retry:
    attempts: int = 6
    base_seconds: float = 1.0
    max_seconds: float = 60.0

    @classmethod
    def from_environ(cls) -> Retry:
        return cls(int(os.environ.get("AENV_NOTIFY_ATTEMPTS", "6")),
                   float(os.environ.get("AENV_NOTIFY_RETRY_SECONDS", "1")))

    def delay(self, attempt: int) -> float:
        """Before attempt `attempt` + 1: base, 2 base, 4 base ... up to max, with 10% jitter."""
        return float(min(self.max_seconds, self.base_seconds * 2 ** attempt) * random.uniform(0.9, 1.1))


@dataclass(frozen=True)
class Target:
    name: str
    kind: str  # slack | webhook | email (one for all email targets: they subscribe to the alarm topic)
    secret: str = ""
    key: str = ""
    field: str = ""  # spec.monitoring.notificationTargets[i].<kind>.secretKeyRef


def targets_of(spec: EnvironmentSpec) -> list[Target]:
    all_targets = spec.monitoring.notification_targets if spec.monitoring else []
    out = []
    for t in hook_targets(spec):
        kind, ref = ("slack", t.slack) if t.slack else ("webhook", t.webhook)
        assert ref is not None and t.name is not None  # hook_targets and the model guarantee both
        path = f"spec.monitoring.notificationTargets[{all_targets.index(t)}].{kind}.secretKeyRef"
        out.append(Target(t.name, kind, ref.secret_key_ref.name, ref.secret_key_ref.key, path))
    if emails_published(spec):
        out.append(Target(EMAIL_TARGET, email.KIND))
    return out


@dataclass
class _Env:
    ref: EnvironmentRef
    aws: AwsTarget | None = None
    targets: list[Target] = field(default_factory=list)
    outbox: list[NotificationRecord] = field(default_factory=list)
    ledger: dict[str, set[str]] | None = None  # None until read from the ConfigMap
    workers: dict[str, threading.Thread] = field(default_factory=dict)


@dataclass(frozen=True)
class _Job:
    ref: EnvironmentRef
    spec: Mapping[str, Any]
    status: Mapping[str, Any]
    persisted: bool


class Sender:
    def __init__(self, memories: Memories, core: Callable[[], client.CoreV1Api],
                 custom: Callable[[], client.CustomObjectsApi], retry: Retry | None = None,
                 delete_alarm_messages: Delete = lambda target, receipts: None) -> None:
        self._memories, self._core, self._custom = memories, core, custom
        self._retry = retry or Retry.from_environ()
        self._envs: dict[str, _Env] = {}
        self._gone: OrderedDict[str, _Env] = OrderedDict()
        self._lock = threading.Lock()
        self._jobs: queue.Queue[_Job | None] = queue.Queue()
        self._stopped = threading.Event()
        self._dispatcher = threading.Thread(target=self._dispatch, name="aenv-notify", daemon=True)
        self._dispatcher.start()
        self.alarms = Alarms(memories, delete_alarm_messages)

    def stop(self) -> None:
        self._stopped.set()
        self._jobs.put(None)

    def forget(self, uid: str) -> None:
        """The environment is gone: workers still delivering its last notifications finish them. A job still queued
        for it (its expiry's, its deletion's) takes up the same state: a fresh ledger, read before those workers
        wrote, would send what they are sending again."""
        with self._lock:
            env = self._envs.pop(uid, None)
            if env is not None:
                self._gone[uid] = env
                while len(self._gone) > GONE_KEPT:
                    self._gone.popitem(last=False)
        self.alarms.watch(uid, None)

    def submit(self, ref: EnvironmentRef, spec: Mapping[str, Any], status: Mapping[str, Any],
               persisted: bool = False) -> None:
        """After a pass: deliver what its outbox holds. Costs nothing when everything was delivered."""
        try:
            parsed = EnvironmentSpec.model_validate(spec)
        except ValidationError:
            return
        targets = targets_of(parsed)
        # Email targets get the alarms from CloudWatch through the topic: only Slack and webhook targets need them.
        alarms = bool(hook_targets(parsed)) and parsed.aws.mode == "boto3" and parsed.monitoring is not None and \
            parsed.monitoring.alarms
        self.alarms.watch(ref.uid, AwsTarget(parsed.aws.region, parsed.aws.endpoint) if alarms else None)
        memory = self._memories.find(ref.uid)
        if not targets:
            if memory is not None:
                memory.delivery.clear()
            return
        outbox = _outbox(status)
        with self._lock:
            known = self._envs.get(ref.uid)
            failing = memory is not None and (any(memory.delivery.get(t.name) for t in targets)
                                              or bool(memory.alarm_events))
            sent = known.ledger if known is not None else None
            if (sent is not None and not failing and known is not None and known.targets == targets
                    and all(r.id in sent.get(t.name, ()) for t in targets for r in outbox)):
                return
        self._jobs.put(_Job(ref, dict(spec), dict(status), persisted))

    def _dispatch(self) -> None:
        while not self._stopped.is_set():
            job = self._jobs.get()
            if job is None:
                return
            try:
                self._take(job)
            except Exception:  # the next pass submits again
                log.exception("%s: notifications", job.ref.key)

    def _take(self, job: _Job) -> None:
        spec, status = (job.spec, job.status) if job.persisted else self._persisted(job)
        try:
            parsed = EnvironmentSpec.model_validate(spec)
        except ValidationError:
            return
        targets = targets_of(parsed)
        with self._lock:
            env = self._envs.get(job.ref.uid) or self._gone.get(job.ref.uid) or self._envs.setdefault(
                job.ref.uid, _Env(job.ref))
            need_ledger = env.ledger is None
        loaded = ledger.load(self._core(), job.ref) if need_ledger else None
        outbox = _outbox(status)
        self.alarms.settle(job.ref.uid, [r.id for r in outbox])
        with self._lock:
            if env.ledger is None:
                env.ledger = loaded or {}
            env.targets, env.outbox = targets, outbox
            env.aws = AwsTarget(parsed.aws.region, parsed.aws.endpoint)
            for t in targets:
                worker = env.workers.get(t.name)
                if worker is None or not worker.is_alive():
                    worker = env.workers[t.name] = threading.Thread(
                        target=self._work, args=(env, t), name=f"aenv-notify-{t.name}", daemon=True)
                    worker.start()

    def _persisted(self, job: _Job) -> tuple[Mapping[str, Any], Mapping[str, Any]]:
        """The environment as the API server holds it, once it holds the outbox the pass made (kopf writes it when
        the handler returns); the job's own when the environment is gone (deleted since: send what it had)."""
        wanted = {r.id for r in _outbox(job.status)}
        deadline = time.monotonic() + PERSIST_WAIT_SECONDS
        while True:
            try:
                obj: dict[str, Any] = self._custom().get_namespaced_custom_object(  # type: ignore[assignment]
                    GROUP, VERSION, job.ref.namespace, PLURAL, job.ref.name)
            except ApiException as e:
                if e.status == 404:
                    return job.spec, job.status
                raise
            if obj["metadata"]["uid"] != job.ref.uid:
                return job.spec, job.status
            stored = obj.get("status") or {}
            if wanted <= {r.id for r in _outbox(stored)} or time.monotonic() > deadline:
                return obj.get("spec") or {}, stored
            time.sleep(0.2)

    def _work(self, env: _Env, target: Target) -> None:
        """Deliver the target's undelivered notifications in order; stop at the first that fails for good."""
        while not self._stopped.is_set():
            with self._lock:
                if target not in env.targets:
                    return
                if env.ledger is None:  # _take reads it before it starts a worker
                    return
                sent = env.ledger.setdefault(target.name, set())
                pending = next((r for r in env.outbox if r.id not in sent), None)
                outbox_ids = {r.id for r in env.outbox}
            try:
                send = self._sender(env, target)
            except DeliveryError as e:
                self._verdict(env.ref, target, str(e))
                return
            if pending is None:
                self._verdict(env.ref, target, None)
                return
            if target.kind != email.KIND or email.takes(pending):  # else recorded as done, never sent
                try:
                    self._attempts(send, Notification(env.ref.namespace, env.ref.name, pending))
                except DeliveryError as e:
                    self._verdict(env.ref, target, f"{pending.type} not delivered after {self._retry.attempts} "
                                                   f"attempts: {e}")
                    return
            with self._lock:
                sent.add(pending.id)
                sent &= outbox_ids | {pending.id}
                record = set(sent)
            log.info("%s: %s delivered to %s (%s)", env.ref.key, pending.type, target.name, pending.id)
            try:
                ledger.store(self._core(), env.ref, target.name, record)
            except ApiException as e:  # kept in memory: only a restart before the next write could send it again
                log.warning("%s: the notification ledger was not written: HTTP %s", env.ref.key, e.status)

    def _attempts(self, send: Callable[[Notification], None], n: Notification) -> None:
        for attempt in range(self._retry.attempts):
            try:
                send(n)
                return
            except DeliveryError:
                if attempt == self._retry.attempts - 1 or self._stopped.wait(self._retry.delay(attempt)):
                    raise

    def _sender(self, env: _Env, target: Target) -> Callable[[Notification], None]:
        """How one notification reaches the target: a POST to the URL its Secret holds, or a publish to the alarm
        topic."""
        if target.kind == email.KIND:
            assert env.aws is not None  # set by _take before it starts a worker
            sns = session.client("sns", env.aws.region, env.aws.endpoint)
            arn = self._topic_arn(env.ref, sns)
            return lambda n: email.publish(sns, arn, n)
        url, channel = self._url(env.ref, target), CHANNELS[target.kind]
        return lambda n: post_json(url, channel.payload(n))

    def _topic_arn(self, ref: EnvironmentRef, sns: Any) -> str:
        """From the last AWS pass's outputs, else (a restarted operator whose pass has not done AWS yet) listed."""
        memory = self._memories.find(ref.uid)
        arn = ((memory.outputs or {}).get(TOPIC_KEY) or {}).get("arn") if memory is not None else None
        if arn:
            return str(arn)
        name = topic_name(ref)
        try:
            arn = list_topics(sns).get(name)
        except (ClientError, BotoCoreError) as e:
            raise DeliveryError(f"the alarm topic {name} cannot be listed: {type(e).__name__}") from None
        if arn is None:
            raise DeliveryError(f"the alarm topic {name} does not exist yet")
        return str(arn)

    def _url(self, ref: EnvironmentRef, target: Target) -> str:
        try:
            secret = self._core().read_namespaced_secret(target.secret, ref.namespace)
        except ApiException as e:
            if e.status == 404:
                raise DeliveryError(f"{target.field}.name: there is no Secret {target.secret} in "
                                    f"{ref.namespace}") from None
            raise DeliveryError(f"{target.field}: the Secret {target.secret} cannot be read: HTTP {e.status}") from None
        value = (secret.data or {}).get(target.key)
        if not value:
            raise DeliveryError(f"{target.field}.key: the Secret {target.secret} has no key {target.key}")
        return base64.b64decode(value).decode().strip()

    def _verdict(self, ref: EnvironmentRef, target: Target, failure: str | None) -> None:
        memory = self._memories.find(ref.uid)
        if memory is None:
            return
        if memory.delivery.get(target.name, "") != failure:
            memory.delivery[target.name] = failure
            memory.wake()
        if failure:
            log.warning("%s: notifications to %s: %s", ref.key, target.name, failure)


def _outbox(status: Mapping[str, Any]) -> list[NotificationRecord]:
    raw = status.get("notifications") or {}
    try:
        return NotificationsStatus.model_validate(raw).outbox
    except ValidationError:
        return []
