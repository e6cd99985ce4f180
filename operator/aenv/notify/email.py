"""Email targets (mode boto3): each notification published to the environment's alarm topic, whose email
subscriptions are the targets, so one publish reaches them all. Alarm state changes are not published: CloudWatch
sends those to the topic itself."""

from __future__ import annotations

import re
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from ..api.status import NotificationRecord
from ..aws.errors import error_code
from .channel import DeliveryError, Notification
from .slack import text

KIND = "email"
SUBJECT_MAX = 99  # SNS: ASCII, no line breaks or control characters, under 100 characters


def takes(record: NotificationRecord) -> bool:
    return not record.type.startswith("alarm.")


def subject(n: Notification) -> str:
    """`[<namespace>/<name>] <type>: <reason>`."""
    r = n.record
    line = re.sub(r"[^\x20-\x7e]", "?", f"[{n.namespace}/{n.name}] {r.type}: {r.reason}")
    return line if len(line) <= SUBJECT_MAX else line[:SUBJECT_MAX - 3] + "..."


def message(n: Notification) -> str:
    """The Slack text, then the time and the id (a copy sent again after a restart has the same id)."""
    r = n.record
    return f"{text(n)}\n\nTime: {r.time}\nNotification id: {r.id}\n"


def publish(sns: Any, topic_arn: str, n: Notification) -> None:
    try:
        sns.publish(TopicArn=topic_arn, Subject=subject(n), Message=message(n))
    except ClientError as e:
        raise DeliveryError(f"SNS Publish: {error_code(e)}: "
                            f"{e.response.get('Error', {}).get('Message', '')}"[:300]) from None
    except BotoCoreError as e:
        raise DeliveryError(f"SNS Publish: {type(e).__name__}") from None
