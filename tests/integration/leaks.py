"""Secrets never leak, checked over a whole run: the credential values aenv generated or rotated are collected as
they appear (every version of every aenv secret in the emulator, read before each reset; the credential keys of
every Secret aenv writes, from a watch), and so is where they must never appear: Events, statuses and annotations
of every object of the kinds aenv writes or reads (one watch per kind, every version seen), the operators' logs,
aenv's own log records in this process, and every metric label. `scan()` names each place a value was found and
the value's source, never the value."""

from __future__ import annotations

import base64
import copy
import json
import logging
import threading
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError
from kubernetes import client
from kubernetes.watch.watch import iter_resp_lines
from prometheus_client.parser import text_string_to_metric_families

from aenv.api import GROUP, PLURAL, VERSION
from aenv.local.emulator import AwsEmulator

from ..leak_scan import Index

MANAGED = "app.kubernetes.io/managed-by=aenv"
# The keys of the Secrets aenv writes that hold a credential (the connection Secret's; mode ack's value Secrets').
CREDENTIAL_KEYS = ("CACHE_AUTH_TOKEN", "DATABASE_PASSWORD", "JWT_SECRET", "API_KEY_", "value", "password")
# Where a leak could be: cluster-wide lists, every object's annotations and status (an Event's words too).
WATCHED = {
    "Event": "/api/v1/events", "AnalyticsEnvironment": f"/apis/{GROUP}/{VERSION}/{PLURAL}",
    "Secret": "/api/v1/secrets", "Service": "/api/v1/services", "ServiceAccount": "/api/v1/serviceaccounts",
    "ConfigMap": "/api/v1/configmaps", "ReplicaSet": "/apis/apps/v1/replicasets",
    "Deployment": "/apis/apps/v1/deployments", "Job": "/apis/batch/v1/jobs",
    "Ingress": "/apis/networking.k8s.io/v1/ingresses", "HTTPRoute": "/apis/gateway.networking.k8s.io/v1/httproutes",
    "Lease": "/apis/coordination.k8s.io/v1/leases",
}
EVENT_FIELDS = ("message", "reason", "note", "action")


def strings(value: Any) -> Iterator[str]:
    """Every string in a JSON value."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, Mapping):
        for v in value.values():
            yield from strings(v)
    elif isinstance(value, list):
        for v in value:
            yield from strings(v)


def credentials_of_secret_string(text: str) -> list[str]:
    """A Secrets Manager value: the password of a login ({"username", "password"}), else the value itself."""
    try:
        doc = json.loads(text)
    except ValueError:
        return [text]
    if isinstance(doc, dict):
        return [v for k, v in doc.items() if k == "password" and isinstance(v, str)]
    return [text]


@dataclass
class Collector:
    credentials: dict[str, str] = field(default_factory=dict)  # value -> where it came from
    places: dict[str, str] = field(default_factory=dict)  # a text a leak could be in -> where it was seen
    logs: set[Path] = field(default_factory=set)
    lock: threading.Lock = field(default_factory=threading.Lock)
    stopped: threading.Event = field(default_factory=threading.Event)
    api: client.ApiClient | None = None  # the watches' own
    emulators: list[AwsEmulator] = field(default_factory=list)  # read before each reset, stop and cleanup
    unread: list[str] = field(default_factory=list)  # harvests that failed

    # what must not leak
    def credential(self, value: str, source: str) -> None:
        with self.lock:
            self.credentials.setdefault(value, source)

    def harvest(self, emulator: AwsEmulator) -> int:
        """Every version of every aenv secret in the emulator; returns how many values were read."""
        sm, count = emulator.client("secretsmanager"), 0
        for page in sm.get_paginator("list_secrets").paginate(IncludePlannedDeletion=True):
            for entry in page.get("SecretList", []):
                if not entry["Name"].startswith("aenv-"):
                    continue
                versions = sm.list_secret_version_ids(SecretId=entry["ARN"], IncludeDeprecated=True)["Versions"]
                for v in versions:
                    try:
                        got = sm.get_secret_value(SecretId=entry["ARN"], VersionId=v["VersionId"])
                    except ClientError:  # gone, or scheduled for deletion (its values were read before, if ever)
                        continue
                    for value in credentials_of_secret_string(got.get("SecretString", "")):
                        self.credential(value, f"Secrets Manager {entry['Name']} version {v['VersionId']}")
                        count += 1
        return count

    def harvest_emulators(self) -> None:
        for emulator in self.emulators:
            self.harvest_safely(emulator)

    def harvest_safely(self, emulator: AwsEmulator) -> None:
        """Harvest a running emulator; a failure is reported at the end of the run, never fails the test."""
        if not emulator.healthy():
            return
        try:
            self.harvest(emulator)
        except Exception as e:  # noqa: BLE001 - reported, with the values it could not read
            self.unread.append(f"{emulator.url}: {type(e).__name__}: {e}")

    def secret_object(self, obj: Mapping[str, Any]) -> None:
        meta = obj.get("metadata") or {}
        if (meta.get("labels") or {}).get("app.kubernetes.io/managed-by") != "aenv":
            return
        for key, encoded in (obj.get("data") or {}).items():
            if not key.startswith(CREDENTIAL_KEYS):
                continue
            text = base64.b64decode(encoded).decode(errors="replace")
            for value in credentials_of_secret_string(text) if key == "value" else [text]:
                self.credential(value, f"Secret {meta.get('namespace')}/{meta.get('name')} key {key}")

    # where it must not appear
    def place(self, text: str, where: str) -> None:
        if len(text) >= 8:
            with self.lock:
                self.places.setdefault(text, where)

    def kube_object(self, kind: str, obj: Mapping[str, Any]) -> None:
        meta = obj.get("metadata") or {}
        where = f"{kind} {meta.get('namespace', '')}/{meta.get('name')}"
        for key, value in (meta.get("annotations") or {}).items():
            self.place(value, f"annotation {key} of {where}")
        for value in strings(obj.get("status") or {}):
            self.place(value, f"status of {where}")
        if kind == "Event":
            for f in EVENT_FIELDS:
                if isinstance(obj.get(f), str):
                    self.place(obj[f], f"{where} ({obj.get('reason')})")
        template = ((obj.get("spec") or {}).get("template") or {}).get("metadata") or {}
        for key, value in (template.get("annotations") or {}).items():
            self.place(value, f"pod template annotation {key} of {where}")
        if kind == "Secret":
            self.secret_object(obj)

    def metrics(self, text: str, where: str) -> None:
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                for label, value in sample.labels.items():
                    self.place(value, f"metric {sample.name} label {label} ({where})")

    # the watches
    def watch(self, api: client.ApiClient) -> None:
        """One thread per kind, on a client of their own with a connection for each."""
        configuration = copy.copy(api.configuration)
        configuration.connection_pool_maxsize = len(WATCHED) + 2
        self.api = client.ApiClient(configuration)
        for kind, path in WATCHED.items():
            threading.Thread(target=self._watch, args=(kind, path), daemon=True, name=f"leaks-{kind}").start()

    def _get(self, path: str, query: list[tuple[str, str]], timeout: float) -> Any:
        """A raw GET (a watch's stream or a list), status checked."""
        assert self.api is not None
        params = self.api.param_serialize("GET", path, query_params=query, auth_settings=["BearerToken"])
        resp = self.api.call_api(*params, _request_timeout=timeout)
        if resp.status != 200:
            resp.response.release_conn()
            raise OSError(f"GET {path}: HTTP {resp.status}")
        return resp

    def _watch(self, kind: str, path: str) -> None:
        version: str | None = None
        while not self.stopped.is_set():
            query = [("watch", "true"), ("timeoutSeconds", "20"), ("allowWatchBookmarks", "true")]
            try:
                raw = self._get(path, query + ([("resourceVersion", version)] if version else []), 30).response
                for line in iter_resp_lines(raw):
                    event = json.loads(line)
                    obj = event.get("object") or {}
                    if event.get("type") == "ERROR":
                        version = None  # expired: start again from now (the current objects are sent first)
                        break
                    version = (obj.get("metadata") or {}).get("resourceVersion") or version
                    if event.get("type") != "BOOKMARK":
                        self.kube_object(kind, obj)
                    if self.stopped.is_set():
                        break
                raw.release_conn()
            except Exception:  # noqa: BLE001 - a kind not served (yet), a restarting API server: look again
                version = None
                self.stopped.wait(2)

    def stop_watching(self) -> None:
        """Stop the watches, after one last list of each kind (what a watch had not delivered yet)."""
        self.stopped.set()
        if self.api is None:
            return
        for kind, path in WATCHED.items():
            try:
                items = json.loads(self._get(path, [], 10).read()).get("items", [])
            except Exception:  # noqa: BLE001 - a kind not served
                continue
            for obj in items:
                self.kube_object(kind, obj)

    # the verdict
    def scan(self) -> list[str]:
        """Each place a credential was found, with the credential's source; [] when none leaked."""
        index = Index(self.credentials.items())
        found: list[str] = []
        with self.lock:
            places = list(self.places.items())
        for text, where in places:
            found += [f"{where}: holds the credential of {label}" for label in index.find(text)]
        for path in sorted(self.logs):
            found += self.scan_log(index, path)
        return found

    @staticmethod
    def scan_log(index: Index, path: Path) -> list[str]:
        if not path.exists():
            return []
        out = []
        with path.open(errors="replace") as f:
            for number, line in enumerate(f, 1):
                out += [f"{path} line {number}: holds the credential of {label}" for label in index.find(line)]
        return out


class RecordsHandler(logging.Handler):
    """aenv's log records made in this process (the tests that call its clients directly), as places."""

    def __init__(self, collector: Collector) -> None:
        super().__init__(logging.DEBUG)
        self.collector = collector

    def emit(self, record: logging.LogRecord) -> None:
        try:
            text = record.getMessage()
        except Exception:  # noqa: BLE001 - a record that cannot format is not ours to fail on
            return
        self.collector.place(text, f"log record of {record.name} in the test process")


class HarvestedEmulator(AwsEmulator):
    """The emulator whose aenv secrets are read into the collector before each reset, before it stops, and before
    a test's namespace is cleaned up (conftest's fresh_namespace)."""

    def __init__(self, state_dir: Path, data_plane: bool = False) -> None:
        super().__init__(state_dir, data_plane)
        COLLECTOR.emulators.append(self)

    def reset(self) -> None:
        self._harvest()
        super().reset()

    def stop(self) -> None:
        self._harvest()
        super().stop()

    def _harvest(self) -> None:
        COLLECTOR.harvest_safely(self)


def running_emulator(state_dir: Path, data_plane: bool = False) -> Iterator[AwsEmulator]:
    """A fixture's emulator: started, yielded, stopped."""
    moto = HarvestedEmulator(state_dir, data_plane)
    moto.start()
    try:
        yield moto
    finally:
        moto.stop()


COLLECTOR = Collector()


def install_log_handler(names: Iterable[str] = ("aenv",)) -> None:
    for name in names:
        logging.getLogger(name).addHandler(RecordsHandler(COLLECTOR))
