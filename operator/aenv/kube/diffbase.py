"""What kopf keeps of an environment to tell what changed since it was last handled.

kopf keeps the environment's essence (its spec, labels and annotations) in the annotation
aenv.dev/last-handled-configuration. The API server allows 256 KiB for all of an object's annotations together,
and a valid spec may be larger than that; kopf could then no longer mark the environment handled, and it would get
no status. A spec whose JSON is over SPEC_LIMIT bytes is kept as its SHA-256 instead. Nothing in aenv reads the old
spec from kopf's diff (any change to the spec means a whole pass), so the digest tells kopf all it needs: whether
the spec changed. Smaller specs are kept whole, as before.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from typing import Any, cast

import kopf

SPEC_LIMIT = 32 * 1024
DIGEST = "aenv.dev/sha256"


def compact_spec(spec: Any) -> Any:
    """`spec` itself, or {DIGEST: its SHA-256} when its JSON is over SPEC_LIMIT bytes."""
    encoded = json.dumps(spec, separators=(",", ":"), sort_keys=True).encode()
    return {DIGEST: hashlib.sha256(encoded).hexdigest()} if len(encoded) > SPEC_LIMIT else spec


class CompactDiffBaseStorage(kopf.AnnotationsDiffBaseStorage):
    """kopf's annotation storage, with a large spec kept as its digest."""

    def build(self, *, body: kopf.Body, extra_fields: Iterable[Any] | None = None) -> kopf.BodyEssence:
        essence = cast(dict[str, Any], super().build(body=body, extra_fields=extra_fields))
        if "spec" in essence:
            essence["spec"] = compact_spec(essence["spec"])
        return cast(kopf.BodyEssence, essence)
