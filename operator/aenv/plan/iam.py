"""The workloads' IAM role: trusted by IRSA for one service account, allowed only this environment's resources.

Least privilege per spec: the inline policy names the ARNs of what some workload lists in `uses` (a queue with
its dead-letter queue, a topic; cache, database and secrets for their Secrets Manager secrets), plus the KMS key
that encrypts them, and the gateway stage's connections (execute-api:ManageConnections) when a workload is the
gateway's backend. The cache and the database themselves are reached over the network with a password, so they need
no IAM permission.
"""

from __future__ import annotations

from ..api.spec import EnvironmentSpec
from ..naming import EnvironmentRef, aws_name
from . import gateway, secrets
from .types import Desired, Ref

ROLE_NAME_MAX = 64
ROLE_INVALID = r"[^a-zA-Z0-9+=,.@_-]"
# Which `uses` entry grants a secret.
SECRET_USE = {"secret/cache-auth": "cache", "secret/database": "database", "secret/database-login": "database"}


def service_account(env: EnvironmentRef) -> str:
    """The workloads' ServiceAccount: the IAM role's IRSA trust names exactly this one."""
    return env.object_name("aenv-", "-workloads")


def plan(env: EnvironmentRef, spec: EnvironmentSpec) -> list[Desired]:
    if not spec.workloads:
        return []
    uses = {u for w in spec.workloads for u in w.uses}
    grants = []
    for q in spec.queues:
        if q.name in uses:
            grants.append(f"queue/{q.name}")
            if q.dead_letter.enabled:
                grants.append(f"queue/{q.name}/dead-letter")
    grants += [f"topic/{t.name}" for t in spec.topics if t.name in uses]
    grants += [d.key for d in secrets.plan(env, spec) if SECRET_USE.get(d.key, "secrets") in uses]
    if grants and _encrypted(spec):
        grants.append("kms/key")
    params: dict[str, object] = {
        "subject": f"system:serviceaccount:{env.namespace}:{service_account(env)}",
        "description": f"aenv {env.key}: the workloads' role (IRSA)",
        **{key: Ref(key, "arn") for key in grants},
    }
    if gateway.integration_uri(env, spec) is not None:  # the gateway's workload posts to its clients' connections
        params["gateway/stage"] = Ref("gateway/stage", "connections")
    return [Desired(
        kind="iam.role", key="iam/role", component="iam",
        name=aws_name(env, "workloads", max_length=ROLE_NAME_MAX, invalid=ROLE_INVALID),
        params=params, tags=env.tags("iam"),
    )]


def _encrypted(spec: EnvironmentSpec) -> bool:
    """Whether the environment has the KMS key "kms/key"."""
    from .environment import requested  # here, not above: plan.environment imports this module

    return "encryption" in requested(spec)
