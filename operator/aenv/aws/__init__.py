"""Mode boto3: one module per AWS component, each behind the interface in component.py."""

from .component import AwsTarget, ClientFactory, ResourceClient
from .sqs_queue import KIND as SQS_QUEUE
from .sqs_queue import SqsQueues

# kind -> client factory. A kind missing here is a component aenv cannot yet build in this mode.
CLIENTS: dict[str, ClientFactory] = {
    SQS_QUEUE: SqsQueues,
}

__all__ = ["CLIENTS", "AwsTarget", "ClientFactory", "ResourceClient"]
