"""How aenv tells AWS errors apart: retry it, or tell the user what to fix."""

from __future__ import annotations

from botocore.exceptions import BotoCoreError, ClientError, ConnectionError, HTTPClientError, ReadTimeoutError
from botocore.parsers import ResponseParserError

THROTTLING = {
    "Throttling", "ThrottlingException", "ThrottledException", "RequestThrottled", "RequestLimitExceeded",
    "TooManyRequestsException", "RequestThrottledException", "SlowDown", "PriorRequestNotComplete",
    "ProvisionedThroughputExceededException", "EC2ThrottledException", "BandwidthLimitExceeded",
}

HINTS = {
    "AccessDenied": "grant the operator's IAM role this permission",
    "AccessDeniedException": "grant the operator's IAM role this permission",
    "UnauthorizedOperation": "grant the operator's IAM role this permission",
    "InvalidClientTokenId": "check the operator's AWS credentials",
    "ExpiredToken": "refresh the operator's AWS credentials",
    "LimitExceeded": "raise the service quota or remove unused resources",
    "LimitExceededException": "raise the service quota or remove unused resources",
    "OverLimit": "raise the service quota or remove unused resources",
    "OidcIssuerMissing": "set AENV_OIDC_ISSUER on the operator to the cluster's OIDC issuer",
    "QueueDeletedRecently": "wait 60 seconds after deleting a queue before creating one with its name",
    "DBSnapshotNotFound": "`aws rds describe-db-snapshots` lists the snapshots there are; name one of them",
}


class AwsError(Exception):
    """An AWS error a user must act on: it carries the AWS error code and what to do."""

    def __init__(self, code: str, message: str) -> None:
        hint = HINTS.get(code, "fix the spec or the AWS account, then aenv retries")
        super().__init__(f"{code}: {message} ({hint})")
        self.code = code


class TransientError(Exception):
    """Throttling, a 5xx or a lost connection: retried with backoff, not reported as a failure."""


def classify(error: Exception) -> Exception:
    """The aenv error for a botocore error; other errors are returned as they are."""
    if isinstance(error, ClientError):
        code = error.response.get("Error", {}).get("Code", "Unknown")
        status = int(error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0))
        message = error.response.get("Error", {}).get("Message", "")
        if code in THROTTLING or status >= 500:
            return TransientError(f"{code} (HTTP {status}): {message}")
        return AwsError(code, message)
    # ResponseParserError: a 5xx without a body; HTTPClientError: the connection closed before the answer came
    if isinstance(error, ConnectionError | ReadTimeoutError | ResponseParserError | HTTPClientError):
        return TransientError(str(error))
    if isinstance(error, BotoCoreError):
        return AwsError(type(error).__name__, str(error))
    return error


def error_code(error: ClientError) -> str:
    """The AWS error code of a botocore ClientError, for the handlers that turn one code into behaviour."""
    return str(error.response.get("Error", {}).get("Code", ""))
