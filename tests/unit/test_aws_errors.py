"""How aenv classifies what botocore raises: what is retried quietly and what a user must fix."""

from __future__ import annotations

from botocore.exceptions import ClientError, ConnectionClosedError, EndpointConnectionError

from aenv.aws.errors import AwsError, TransientError, classify


def test_a_connection_closed_before_the_answer_is_transient() -> None:
    assert isinstance(classify(ConnectionClosedError(endpoint_url="https://kms.us-east-1.amazonaws.com")),
                      TransientError)
    assert isinstance(classify(EndpointConnectionError(endpoint_url="https://sqs.us-east-1.amazonaws.com")),
                      TransientError)


def test_throttling_and_5xx_are_transient_and_a_denial_is_for_the_user() -> None:
    def error(code: str, status: int) -> ClientError:
        return ClientError({"Error": {"Code": code, "Message": "m"}, "ResponseMetadata": {"HTTPStatusCode": status}},
                           "CreateKey")

    assert isinstance(classify(error("ThrottlingException", 400)), TransientError)
    assert isinstance(classify(error("ServiceUnavailable", 503)), TransientError)
    denied = classify(error("AccessDeniedException", 400))
    assert isinstance(denied, AwsError) and denied.code == "AccessDeniedException"
    assert "grant the operator's IAM role this permission" in str(denied)
