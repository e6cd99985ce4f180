"""Notifications to the environment's Slack and webhook targets, delivered in the background.

One module per target kind behind one interface (channel.py); the sender (sender.py) delivers what the status's
outbox holds and records each delivery in the environment's ledger ConfigMap (ledger.py). Delivery is at least
once: a crash between a target's answer and the ledger write sends that notification again after the restart
(with the same `id`, by which a webhook receiver can drop it); nothing else is sent twice.
"""
