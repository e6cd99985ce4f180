"""`aenv plan -f` shows what would change in AWS and in the cluster, and changes nothing."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

from .conftest import Operator
from .kube import Kube


def plan(operator: Operator, doc: dict[str, Any], tmp_path: Path) -> str:
    path = tmp_path / "env.yaml"
    path.write_text(yaml.safe_dump(doc))
    result = subprocess.run([sys.executable, "-m", "aenv", "plan", "-f", str(path)], env=operator.env,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    return result.stdout


def doc(namespace: str, timeout: int) -> dict[str, Any]:
    return {"apiVersion": "aenv.dev/v1alpha1", "kind": "AnalyticsEnvironment",
            "metadata": {"name": "defi", "namespace": namespace},
            "spec": {"tier": "dev", "aws": {"region": "us-east-1"},
                     "queues": [{"name": "events", "visibilityTimeoutSeconds": timeout}, {"name": "trades"}]}}


def test_plan_changes_nothing(kube: Kube, namespace: str, sqs: Any, operator: Operator, tmp_path: Path) -> None:
    out = plan(operator, doc(namespace, 30), tmp_path)
    p = f"aenv-{namespace}-defi"
    assert "+ sqs.queue" in out and f"{p}-events-dlq" in out
    assert f"+ Secret                       {namespace}/defi-connection" in out
    assert "+ kms.key" in out
    assert "Plan: 6 to create, 0 to change, 0 to delete" in out
    assert "Cost: 1.80 USD/month (prices of " in out  # a KMS key 1.00, two queues at 0.40
    assert sqs.list_queues(QueueNamePrefix=p).get("QueueUrls", []) == []

    kube.create_env(namespace, "defi", doc(namespace, 30)["spec"])
    kube.wait_condition(namespace, "defi", "Ready")
    changed = doc(namespace, 90)
    changed["spec"]["queues"] = changed["spec"]["queues"][:1]  # trades leaves the spec
    out = plan(operator, changed, tmp_path)
    assert f"~ sqs.queue                    {p}-events " in out and "update: VisibilityTimeout" in out
    assert f"- sqs.queue                    {p}-trades " in out and "no longer in the spec" in out
    assert "= Secret" not in out and "update: QUEUE_TRADES_ARN, QUEUE_TRADES_DLQ_URL, QUEUE_TRADES_URL" in out
    assert "Cost: 1.80 -> 1.40 USD/month (prices of " in out and ", -0.40" in out
    assert "  queues             0.80 ->       0.40  -0.40" in out and "encryption" not in out
    url = sqs.get_queue_url(QueueName=f"{p}-events")["QueueUrl"]
    assert sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["VisibilityTimeout"])["Attributes"] == {
        "VisibilityTimeout": "30"}
    assert len(sqs.list_queues(QueueNamePrefix=p)["QueueUrls"]) == 4
