"""Drift on events: CloudTrail's management events, through an EventBridge rule into an SQS queue aenv owns, wake
the environment whose resource an event names; a rare sweep observes everything else (see README, "Drift")."""
