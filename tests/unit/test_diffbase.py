"""kopf's memory of the last handled spec fits the annotations whatever the spec's size (aenv.kube.diffbase)."""

from __future__ import annotations

import json
from typing import Any

import kopf
from kopf._cogs.structs import diffs

from aenv.kube.diffbase import DIGEST, SPEC_LIMIT, CompactDiffBaseStorage

KEY = "aenv.dev/last-handled-configuration"
ANNOTATIONS_LIMIT = 256 * 1024  # the API server's limit for all of an object's annotations together


def body(spec: dict[str, Any], annotations: dict[str, str] | None = None) -> kopf.Body:
    return kopf.Body({"apiVersion": "aenv.dev/v1alpha1", "kind": "AnalyticsEnvironment",
                      "metadata": {"name": "orders", "namespace": "team", "annotations": annotations or {}},
                      "spec": spec, "status": {"phase": "Ready"}})


def large(route: str) -> dict[str, Any]:
    """A spec of about 300 KiB: more than the annotations may hold."""
    return {"tier": "dev", "gateway": {"routes": [f"{route}{i:05d}" + "x" * 100 for i in range(3000)]}}


def stored(storage: CompactDiffBaseStorage, b: kopf.Body) -> kopf.Body:
    """The body as kopf sees it after it stored its essence."""
    patch = kopf.Patch()
    storage.store(body=b, patch=patch, essence=storage.build(body=b))
    annotations = {**b["metadata"]["annotations"], **patch["metadata"]["annotations"]}
    return body(dict(b["spec"]), annotations)


def test_a_small_spec_is_kept_whole() -> None:
    storage = CompactDiffBaseStorage(prefix="aenv.dev", key="last-handled-configuration")
    spec = {"tier": "dev", "queues": [{"name": "events"}]}
    assert storage.build(body=body(spec))["spec"] == spec
    assert storage.fetch(body=stored(storage, body(spec)))["spec"] == spec  # type: ignore[index]


def test_a_large_spec_is_kept_as_its_digest_and_fits_the_annotations() -> None:
    storage = CompactDiffBaseStorage(prefix="aenv.dev", key="last-handled-configuration")
    first = body(large("a"))
    assert len(json.dumps(first["spec"])) > ANNOTATIONS_LIMIT > SPEC_LIMIT
    handled = stored(storage, first)
    assert len(handled["metadata"]["annotations"][KEY]) < 1024
    assert list(storage.fetch(body=handled)["spec"]) == [DIGEST]  # type: ignore[index]

    assert not diffs.diff(storage.fetch(body=handled), storage.build(body=handled)), "unchanged: nothing to do"
    changed = body(large("b"), handled["metadata"]["annotations"])
    assert [d.field for d in diffs.diff(storage.fetch(body=changed), storage.build(body=changed))] == \
        [("spec", DIGEST)], "a change to a large spec is a change to the spec"


def test_a_spec_that_grows_past_the_limit_or_shrinks_below_it_is_a_change() -> None:
    storage = CompactDiffBaseStorage(prefix="aenv.dev", key="last-handled-configuration")
    small, big = {"tier": "dev"}, large("a")
    grown = body(big, stored(storage, body(small))["metadata"]["annotations"])
    assert diffs.diff(storage.fetch(body=grown), storage.build(body=grown))
    shrunk = body(small, stored(storage, body(big))["metadata"]["annotations"])
    assert diffs.diff(storage.fetch(body=shrunk), storage.build(body=shrunk))
