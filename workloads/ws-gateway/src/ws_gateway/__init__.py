"""aenv's reference WebSocket gateway.

Clients connect with a JWT signed with the connection Secret's JWT_SECRET and send JSON frames routed by their
"action" (the API's route selection expression $request.body.action): subscribe, unsubscribe, ping. Updates that
the event processor publishes to Redis reach every replica's subscribers of the channel.
"""

__version__ = "0.1.0"
