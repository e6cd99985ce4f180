"""Mode boto3: one module per AWS component, each behind the interface in component.py."""

from .component import AwsTarget, ClientFactory, Registry, ResourceClient
from .sqs_queue import KIND as SQS_QUEUE
from .sqs_queue import SqsQueues

# kind -> client. A kind missing here is a component aenv cannot yet build in this mode.
CLIENTS = Registry({
    SQS_QUEUE: SqsQueues,
})

__all__ = ["CLIENTS", "AwsTarget", "ClientFactory", "Registry", "ResourceClient"]
