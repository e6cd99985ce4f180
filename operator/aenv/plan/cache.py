"""The cache: one ElastiCache replication group (Redis or Valkey, cluster mode disabled)."""

from __future__ import annotations

import hashlib
import re

from ..api.spec import EnvironmentSpec
from ..naming import EnvironmentRef, aws_name
from .types import Desired, Ref

ELASTICACHE_ID_MAX = 40


def identifier(env: EnvironmentRef, component: str, *, max_length: int) -> str:
    """An ElastiCache or RDS identifier: letters, digits and single hyphens, starting with a letter.

    Kubernetes names may hold "--", which these services reject: runs are collapsed, and a hash of the
    uncollapsed name keeps "a--b" and "a-b" apart.
    """
    name = aws_name(env, component, max_length=max_length, invalid=r"[^a-z0-9-]")
    if "--" not in name:
        return name
    digest = hashlib.sha256(name.encode()).hexdigest()[:8]
    collapsed = re.sub(r"-{2,}", "-", name)[: max_length - len(digest) - 1].rstrip("-")
    return f"{collapsed}-{digest}"


def plan(env: EnvironmentRef, spec: EnvironmentSpec) -> list[Desired]:
    """The replication group; multiAZ with zero replicas is left for the client to report (AWS rejects it)."""
    cache = spec.cache
    if cache is None:
        return []
    params: dict[str, object] = {
        "engine": cache.engine,
        "engine_version": cache.engine_version,
        "node_type": cache.node_type,
        "replicas": cache.replicas,
        "multi_az": cache.multi_az,
        "transit_encryption": cache.transit_encryption,
        "at_rest_encryption": cache.at_rest_encryption,
        "snapshot_retention_days": cache.snapshot_retention_days,
        "security_group_id": Ref("network/sg/cache", "id"),
        "subnet_group": Ref("network/subnets/cache", "name"),
    }
    if cache.at_rest_encryption:
        params["kms_key_arn"] = Ref("kms/key", "arn")
    if cache.transit_encryption:  # ElastiCache accepts an AUTH token only over TLS
        params["auth_token"] = Ref("secret/cache-auth", "value")
        params["auth_token_version"] = Ref("secret/cache-auth", "version")
    return [Desired(
        kind="elasticache.replication_group", key="cache/replication-group", component="cache",
        name=identifier(env, "cache", max_length=ELASTICACHE_ID_MAX), params=params, tags=env.tags("cache"),
    )]
