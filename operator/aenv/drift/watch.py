"""The operator's drift channels: per AWS account and region that a mode boto3 environment uses, one thread that
keeps aenv's EventBridge rule and queue (aws/event_channel.py), long-polls the queue and hands each event's
environments the keys of the resources it names (`route`); and the verdict on whether events arrive (health.py),
which sets each environment's sweep interval and its DriftDetection condition. The same queue carries the alarms'
state changes: each goes to the environment owning the alarm (`alarm`), which deletes the message once its
notification is safe (`Watches.delete`)."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from ..aws.component import AwsTarget
from ..aws.errors import AwsError, classify
from ..aws.event_channel import EventChannel, Message, gone
from ..metrics import DRIFT_EVENTS
from .events import AlarmChange, Index, Recorded, parse, parse_alarm
from .health import Health, Verdict
from .settings import Settings

log = logging.getLogger("aenv.drift")
BACKOFF_MAX_SECONDS = 300.0

Route = Callable[[Mapping[str, set[str]]], None]  # environment uid -> the keys of its resources an event names
Changed = Callable[[], None]  # a verdict changed: the environments' conditions follow
# An alarm changed state: (environment uid, the change, the message's receipt) -> whether the environment keeps the
# message, to delete it once its notification is written; a message not kept is deleted at once.
AlarmRoute = Callable[[str, AlarmChange, str], bool]


def _no_alarms(uid: str, change: AlarmChange, receipt: str) -> bool:
    return False


class Channel(threading.Thread):
    """One account and region: the queue consumed, bounded (ten messages a request), each message deleted once
    handled (or found to be no event aenv reads), an alarm's when its environment says so."""

    def __init__(self, target: AwsTarget, settings: Settings, recorded: Callable[[], Iterable[Recorded]],
                 route: Route, changed: Changed, clock: Callable[[], float] = time.monotonic,
                 alarm: AlarmRoute = _no_alarms) -> None:
        super().__init__(name=f"drift-{target.region}", daemon=True)
        self.channel = EventChannel(target, settings.channel)
        self.health = Health(settings, target.region)
        self.recorded, self.route, self.changed, self.clock, self.alarm = recorded, route, changed, clock, alarm
        self.caller: str | None = None
        self.stopping = threading.Event()
        self._lock = threading.Lock()

    def verdict(self) -> Verdict:
        with self._lock:
            return self.health.verdict(self.clock())

    def run(self) -> None:
        backoff = 1.0
        while not self.stopping.is_set():
            before = self.verdict()
            try:
                self._round()
                backoff = 1.0
            except Exception as e:  # noqa: BLE001 - a failing round is logged and tried again, backing off
                if gone(e):  # deleted by hand (or an emulator reset): made again in the next round
                    self.channel.url = None
                    continue
                error = classify(e)
                if isinstance(error, AwsError):
                    with self._lock:
                        self.health.problem = f"{error.code}: {error}"
                log.warning("drift events in %s: %s", self.health.where, error)
                self.stopping.wait(backoff)
                backoff = min(backoff * 2, BACKOFF_MAX_SECONDS)
            after = self.verdict()
            if (after.status, after.reason) != (before.status, before.reason):
                log.info("drift events in %s: %s", self.health.where, after.message)
                self.changed()

    def _round(self) -> None:
        if self.channel.url is None:
            self.channel.ensure()
            self.caller = self.channel.caller()
            with self._lock:
                self.health.problem = None
        if self.health.probe_due(self.clock()):
            self.channel.probe()
            with self._lock:
                self.health.probed_at = self.clock()
        messages = self.channel.receive()
        if messages:
            kept = self._handle(messages)
            self.channel.delete([m.receipt for m in messages if m.receipt not in kept])

    def _handle(self, messages: list[Message]) -> set[str]:
        """Route the events; the receipts of the alarm messages their environments keep."""
        index: Index | None = None
        kept: set[str] = set()
        for m in messages:
            change = parse_alarm(m.body)
            if change is not None:
                index = index or Index(self.recorded())
                alarmed = index.named(change.alarm)
                DRIFT_EVENTS.labels("alarm" if alarmed else "unowned").inc()
                taken = [uid for uid in sorted(alarmed) if self.alarm(uid, change, m.receipt)]
                log.info("alarm %s is %s: %s", change.alarm, change.state,
                         f"notified by {', '.join(taken)}" if taken else "no environment notifies it")
                if taken:
                    kept.add(m.receipt)
                continue
            event = parse(m.body)
            if event is None:
                DRIFT_EVENTS.labels("ignored").inc()
                continue
            with self._lock:
                self.health.event_at = self.clock()
            if self.caller is not None and event.principal == self.caller:
                DRIFT_EVENTS.labels("own").inc()  # aenv's own change: the pass that made it saw the result
                continue
            index = index or Index(self.recorded())
            owners = index.owners(event)
            DRIFT_EVENTS.labels("routed" if owners else "unowned").inc()
            if owners:
                log.info("drift event %s %s names %s", event.source, event.name,
                         ", ".join(f"{uid}: {', '.join(sorted(keys))}" for uid, keys in owners.items()))
                self.route(owners)
        return kept


class Watches:
    """Every channel of the operator, by target; none until start() (a process that is no operator has none). A
    channel runs while an environment it serves exists: the last one deleted (or moved to another region) stops
    it. The rule and queue stay in AWS, shared by the account's operators."""

    def __init__(self) -> None:
        self.settings = Settings()
        self._channels: dict[AwsTarget, Channel] = {}
        self._served: dict[str, AwsTarget] = {}  # environment uid -> the target it is served through
        self._lock = threading.Lock()
        self._started = False
        self._recorded: Callable[[], Iterable[Recorded]] = list
        self._route: Route = lambda _: None
        self._changed: Changed = lambda: None
        self._alarm: AlarmRoute = _no_alarms

    def start(self, settings: Settings, recorded: Callable[[], Iterable[Recorded]], route: Route,
              changed: Changed, alarm: AlarmRoute = _no_alarms) -> None:
        with self._lock:
            self.settings, self._recorded, self._route, self._changed = settings, recorded, route, changed
            self._alarm = alarm
            self._started = True

    def stop(self) -> None:
        with self._lock:
            for channel in self._channels.values():
                channel.stopping.set()
            self._channels.clear()
            self._served.clear()
            self._started = False

    def serve(self, uid: str, spec: Mapping[str, Any]) -> None:
        """Start the channel of the environment's account and region (mode boto3) if it has none yet; stop the one
        it was served through before, when it moved and no other environment uses that one."""
        target = boto3_target(spec) if self.settings.events else None
        with self._lock:
            before = self._served.pop(uid, None)
            if target is not None and self._started:
                self._served[uid] = target
                if target not in self._channels:
                    channel = Channel(target, self.settings, self._recorded, self._route, self._changed,
                                      alarm=self._alarm)
                    self._channels[target] = channel
                    channel.start()
            if before is not None and before != target:
                self._retire(before)

    def release(self, uid: str) -> None:
        """The environment is gone: stop its channel if no other environment uses it."""
        with self._lock:
            before = self._served.pop(uid, None)
            if before is not None:
                self._retire(before)

    def serving(self) -> set[AwsTarget]:
        """The targets whose channels run."""
        with self._lock:
            return set(self._channels)

    def _retire(self, target: AwsTarget) -> None:
        if target not in self._served.values():
            channel = self._channels.pop(target, None)
            if channel is not None:
                channel.stopping.set()

    def delete(self, target: AwsTarget, receipts: list[str]) -> None:
        """Delete messages an environment kept (alarm state changes whose notifications are written)."""
        with self._lock:
            channel = self._channels.get(target)
        if channel is not None:
            channel.channel.delete(receipts)

    def verdict(self, spec: Mapping[str, Any]) -> Verdict | None:
        """Whether events arrive for the environment's account and region; None when aenv does not watch them
        (mode ack: the ACK controllers correct drift in AWS; or no operator runs in this process)."""
        target = boto3_target(spec)
        if target is None or not self._started:
            return None
        with self._lock:
            channel = self._channels.get(target)
        if channel is None:
            return Health(self.settings, target.region).verdict(0.0) if not self.settings.events else None
        return channel.verdict()

    def sweep_seconds(self, spec: Mapping[str, Any]) -> float:
        verdict = self.verdict(spec)
        return self.settings.sweep_seconds if verdict is None else verdict.sweep_seconds


def boto3_target(spec: Mapping[str, Any]) -> AwsTarget | None:
    """The account and region of an environment's raw spec in mode boto3; None in mode ack or without a region."""
    aws = spec.get("aws") or {}
    if aws.get("mode", "boto3") != "boto3" or not aws.get("region"):
        return None
    return AwsTarget(aws["region"], aws.get("endpoint"))


def recorded(memories: Iterable[Any]) -> list[Recorded]:
    """What each environment's last pass recorded (memory.py): its resources from the status, its outputs."""
    out = []
    for m in memories:
        resources = [(r["key"], r["name"]) for r in (m.latest or {}).get("resources", [])
                     if isinstance(r, dict) and "key" in r and "name" in r]
        out.append(Recorded(m.uid, resources, dict(m.outputs or {})))
    return out


watches = Watches()
