"""What the operator keeps stays bounded: an environment's memory and metric series go with it, and boto3 clients
share one session's parsed service models."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from collections import OrderedDict
from pathlib import Path

import pytest
from botocore.exceptions import ParamValidationError
from prometheus_client import REGISTRY

import aenv
from aenv import allocator, metrics
from aenv.aws import session
from aenv.memory import Memories


def test_a_forgotten_environment_leaves_no_memory_even_for_a_late_pass() -> None:
    memories = Memories()
    memories("uid-1").latest = {"phase": "Ready"}
    memories("uid-2")
    memories.forget("uid-1")
    assert len(memories) == 1 and memories.find("uid-1") is None
    late = memories("uid-1")  # a daemon's pass that started before the deletion
    assert late.latest is None and memories.find("uid-1") is None and len(memories) == 1


def test_the_uids_remembered_as_gone_are_bounded() -> None:
    memories = Memories()
    for i in range(Memories.GONE_KEPT + 10):
        memories.forget(f"uid-{i}")
    assert len(memories._gone) == Memories.GONE_KEPT
    memories("uid-0")  # forgotten long ago: a new environment with that uid would be kept again
    assert memories.find("uid-0") is not None


def test_a_deleted_environments_metric_series_are_dropped() -> None:
    metrics.BACKUP_TIMESTAMP.labels("ns", "gone").set(1.0)
    metrics.DRILL_SUCCESS.labels("ns", "gone").set(1.0)
    metrics.BACKUP_TIMESTAMP.labels("ns", "kept").set(2.0)
    metrics.forget("ns", "gone")
    metrics.forget("ns", "never-backed-up")
    labels = {"namespace": "ns", "name": "gone"}
    assert REGISTRY.get_sample_value("aenv_backup_last_success_timestamp_seconds", labels) is None
    assert REGISTRY.get_sample_value("aenv_restore_drill_success", labels) is None
    assert REGISTRY.get_sample_value("aenv_backup_last_success_timestamp_seconds",
                                     {"namespace": "ns", "name": "kept"}) == 2.0


def test_clients_are_shared_per_service_region_and_endpoint_and_parse_each_model_once() -> None:
    sqs = session.client("sqs", "us-east-1", "http://127.0.0.1:9")
    assert session.client("sqs", "us-east-1", "http://127.0.0.1:9") is sqs
    elsewhere = session.client("sqs", "eu-west-1", "http://127.0.0.1:9")
    assert elsewhere is not sqs
    # One session: the second client reuses the model the first one parsed instead of holding its own copy.
    assert elsewhere.meta.service_model._service_description is sqs.meta.service_model._service_description


def test_parsed_models_are_plain_dicts_without_documentation_and_still_serve_calls() -> None:
    s3 = session.client("s3", "us-east-1", "http://127.0.0.1:9")
    model = s3.meta.service_model
    description = model._service_description

    def kinds(node: object) -> set[type]:
        found = {type(node)}
        for child in node.values() if isinstance(node, dict) else node if isinstance(node, list) else ():
            found |= kinds(child)
        return found

    assert OrderedDict not in kinds(description)
    put = model.operation_model("PutObject")
    assert put.documentation == "" and put.input_shape.members["Bucket"].documentation == ""
    assert model.client_context_parameters  # their documentation, which botocore indexes, is kept
    assert s3.get_paginator("list_objects_v2").paginate(Bucket="b") is not None
    with pytest.raises(ParamValidationError, match="Bucket"):
        s3.put_object(Key="k")


def test_the_operator_limits_malloc_arenas_unless_told_otherwise(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MALLOC_ARENA_MAX", raising=False)
    assert allocator.limit_arenas()  # glibc, as in the operator's image
    monkeypatch.setenv("MALLOC_ARENA_MAX", "4")
    assert not allocator.limit_arenas()


def test_free_memory_is_trimmed_until_stopped() -> None:
    assert isinstance(allocator.trim(), bool)
    stop = threading.Event()
    thread = allocator.trim_every(0.01, stop)
    stop.set()
    thread.join(timeout=5)
    assert not thread.is_alive()


def test_the_operator_loads_the_data_plane_and_cel_libraries_only_when_used() -> None:
    """psycopg, redis and cel-python take about 22 MB resident together: an operator whose environments have no
    database, no cache check and no analysis never loads them."""
    code = ("import sys, aenv.cli, aenv.handlers; "
            "print(sorted(m for m in ('psycopg', 'redis', 'celpy', 'lark') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env={**os.environ, "PYTHONPATH": str(Path(aenv.__file__).parent.parent)})
    assert out.stdout.strip() == "[]"
