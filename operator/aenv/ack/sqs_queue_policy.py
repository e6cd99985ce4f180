"""The Policy of an SQS queue that lets aenv's SNS topics deliver to it, in mode ack (kind sqs.queue_policy).

In ACK the policy is a field of the queue itself (Queue.spec.policy). This client writes only that field of the
queue's CR, by server-side apply with its own field manager ("aenv-queue-policy"): the queue's client (manager
"aenv") never sets it, so neither undoes the other. The policy exists while the CR's spec.policy is set; deleting it
sets it empty, which ACK applies as "no policy" (the queue stays). The document is mode boto3's.
"""

from __future__ import annotations

import json
from typing import Any

from ..api.spec import DeletionPolicy
from ..aws.component import AwsTarget, Classified
from ..aws.sqs_queue_policy import SOURCE, document
from ..plan.types import Desired, Observation
from .resource import TERMINAL_HINT, AckError, Cluster, environment_of_object, object_name, readiness, same
from .sqs_queue import QUEUE

KIND = "sqs.queue_policy"
FIELD_MANAGER = "aenv-queue-policy"


def policy_patch(namespace: str, name: str, policy: str) -> dict[str, Any]:
    """The only fields this client applies to the queue's CR."""
    return {"apiVersion": QUEUE.api_version, "kind": QUEUE.kind, "metadata": {"name": name, "namespace": namespace},
            "spec": {"policy": policy}}


def policy_document(desired: Desired) -> str:
    sources = [v for k, v in desired.params.items() if k.startswith(SOURCE)]
    return json.dumps(document(desired.params["queue_arn"], sources), separators=(",", ":"))


class SqsQueuePolicies(Classified):
    """One GET of the queue's CR (by name, in any namespace: the policy carries no tags) per observe."""

    def __init__(self, target: AwsTarget) -> None:
        self.cluster = Cluster(QUEUE)

    def _queue(self, desired: Desired) -> dict[str, Any] | None:
        return self.cluster.find(object_name(desired.name))

    def observe(self, desired: Desired) -> Observation:
        obj = self._queue(desired)
        policy = ((obj or {}).get("spec") or {}).get("policy")
        owner = environment_of_object(obj) if obj is not None else None
        if obj is None or owner is None or not policy:
            return Observation.absent()
        diff: dict[str, tuple[Any, Any]] = {}
        if desired.params:
            want = policy_document(desired)
            if not same(policy, want):
                diff["Policy"] = (policy, want)
        status = readiness(obj, QUEUE.controller, None)
        if status.terminal is not None and not diff and desired.params:
            raise AckError("ACK.Terminal", f"ACK cannot apply the policy of Queue {obj['metadata']['name']}: "
                                           f"{status.terminal}", TERMINAL_HINT)
        return Observation(
            exists=True, ready=status.ready, up_to_date=not diff, diff=diff,
            outputs={"queue_url": desired.params.get("queue_url") or (obj.get("status") or {}).get("queueURL")},
            owner=owner.uid, owner_environment=owner.key, state=status.state,
        )

    def _put(self, desired: Desired, policy: str) -> Observation:
        obj = self._queue(desired)
        if obj is None:  # the queue's CR comes first (the policy refers to its outputs): it was deleted since
            return Observation.absent()
        meta = obj["metadata"]
        self.cluster.apply(policy_patch(meta["namespace"], meta["name"], policy), FIELD_MANAGER)
        return self.observe(desired)

    def create(self, desired: Desired) -> Observation:
        return self._put(desired, policy_document(desired))

    def update(self, desired: Desired, observed: Observation) -> Observation:
        return self.create(desired)

    def delete(self, desired: Desired, observed: Observation, policy: DeletionPolicy) -> None:
        if policy == "Retain":
            return  # the policy stays with its queue, which ACK leaves in AWS
        self._put(desired, "")
