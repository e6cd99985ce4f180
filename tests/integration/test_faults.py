"""AWS misbehaving: throttling converges, permission errors are reported with their code, and a failure
in one environment does not hold up another."""

from __future__ import annotations

from typing import Any

from aenv.local.emulator import AwsEmulator

from .faults import Fault, fault_proxy
from .kube import Kube


def spec(endpoint: str, **extra: Any) -> dict[str, Any]:
    return {"tier": "dev", "aws": {"region": "us-east-1", "endpoint": endpoint},
            "queues": [{"name": "events"}, {"name": "trades"}], **extra}


def queues(sqs: Any, prefix: str) -> list[str]:
    return sorted(u.rsplit("/", 1)[-1] for u in sqs.list_queues(QueueNamePrefix=prefix).get("QueueUrls", []))


def test_throttling_converges_without_duplicates(kube: Kube, namespace: str, emulator: AwsEmulator,
                                                 sqs: Any) -> None:
    throttled = [Fault("CreateQueue", "ThrottlingException", times=12),
                 Fault("GetQueueAttributes", "ThrottlingException", every=3, times=15),
                 Fault("ListQueues", "RequestThrottled", status=503, times=6)]
    with fault_proxy(emulator.url, *throttled) as proxy:
        kube.create_env(namespace, "defi", spec(proxy.url))
        kube.wait_condition(namespace, "defi", "Ready", timeout=120)
        assert proxy.failed("CreateQueue") == 12 and proxy.failed("GetQueueAttributes") > 0
        p = f"aenv-{namespace}-defi"
        assert queues(sqs, p) == sorted([f"{p}-events", f"{p}-events-dlq", f"{p}-trades", f"{p}-trades-dlq"])
        kube.delete_all_environments(namespace)


def test_permission_error_is_reported_and_others_keep_going(kube: Kube, namespace: str, emulator: AwsEmulator,
                                                            sqs: Any) -> None:
    with fault_proxy(emulator.url, Fault("CreateQueue", "AccessDenied", status=403)) as denied:
        kube.create_env(namespace, "locked", spec(denied.url))
        kube.create_env(namespace, "open", spec(emulator.url))
        env = kube.wait_condition(namespace, "locked", "QueuesReady", "False", reason="AccessDenied")
        message = kube.condition(env, "QueuesReady")["message"]  # type: ignore[index]
        assert "AccessDenied" in message and "grant the operator's IAM role this permission" in message
        assert kube.condition(env, "Stalled")["status"] == "True"  # type: ignore[index]
        assert kube.wait_event(namespace, "locked", "AccessDenied").type == "Warning"
        kube.wait_condition(namespace, "open", "Ready")
        assert queues(sqs, f"aenv-{namespace}-locked") == []

        denied.faults.clear()  # the permission is granted: the next pass converges
        kube.wait_condition(namespace, "locked", "Ready", timeout=90)
        kube.delete_all_environments(namespace)


def test_one_failing_component_does_not_block_the_others(kube: Kube, namespace: str, emulator: AwsEmulator,
                                                         sqs: Any) -> None:
    with fault_proxy(emulator.url, Fault("CreateTopic", "AuthorizationError", status=403)) as denied:
        kube.create_env(namespace, "defi", spec(denied.url, topics=[{"name": "alerts", "subscribers": ["events"]}]))
        env = kube.wait_condition(namespace, "defi", "TopicsReady", "False", reason="AuthorizationError")
        assert kube.condition(env, "QueuesReady")["status"] == "True"  # type: ignore[index]
        assert kube.condition(env, "EncryptionReady")["status"] == "True"  # type: ignore[index]
        assert kube.condition(env, "Ready")["reason"] == "ComponentFailed"  # type: ignore[index]
        assert "failing: topics" in kube.condition(env, "Ready")["message"]  # type: ignore[index]
        p = f"aenv-{namespace}-defi"
        assert len(queues(sqs, p)) == 4
        denied.faults.clear()
        kube.wait_condition(namespace, "defi", "Ready", timeout=90)
        kube.delete_all_environments(namespace)
