"""aenv's reference event processor.

Consumes the environment's SQS queue with long polling in batches, writes each event once to PostgreSQL (keyed
by its id), keeps per-channel aggregates in Redis, publishes each update to the gateway's Redis channel and sends
alerts to the SNS topic. A message it cannot handle is left in the queue: after the queue's maxReceiveCount, SQS
moves it to the dead-letter queue aenv made.
"""

__version__ = "0.1.0"
