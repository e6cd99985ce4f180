"""SNS topics in mode ack (kind sns.topic): an sns Topic CR, encrypted with the environment's key through
kmsMasterKeyRef. Outputs are mode boto3's: arn."""

from __future__ import annotations

from typing import Any

from ..naming import EnvironmentRef
from ..plan import encryption
from ..plan.types import Desired
from .kms_key import key_name
from .resource import AckClient, AckKind, reference

KIND = "sns.topic"
TOPIC = AckKind("sns", "Topic")


class SnsTopics(AckClient):
    KIND = TOPIC
    ADOPTED_BY = (("arn", "status.ackResourceMetadata.arn"),)

    def spec(self, desired: Desired, env: EnvironmentRef) -> dict[str, Any]:
        p = desired.params
        spec: dict[str, Any] = {"name": desired.name, "tags": [{"key": k, "value": v} for k, v in desired.tags.items()]}
        if p.get("fifo"):
            spec["fifoTopic"] = "true"
        if p.get("kms_key_id"):
            spec["kmsMasterKeyRef"] = reference(key_name(encryption.alias(env)))
        return spec
