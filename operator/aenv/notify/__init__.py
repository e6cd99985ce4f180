"""Notifications to the environment's Slack, webhook and (mode boto3) email targets, delivered in the background.

One module per target kind: Slack and webhook behind one interface (channel.py), email a publish to the alarm
topic (email.py); the sender (sender.py) delivers what the status's outbox holds and records each delivery in the
environment's ledger ConfigMap (ledger.py). Delivery is at least once: a crash between a target's answer and the
ledger write sends that notification again after the restart (with the same `id`, by which a webhook receiver can
drop it); nothing else is sent twice.
"""
