"""A Kubernetes API server that does not answer is a reason to retry, not a failure to report."""

from kubernetes.client.exceptions import ApiException
from urllib3.exceptions import MaxRetryError, NewConnectionError, ProtocolError

from aenv.reconcile import api_unavailable


def test_no_answer_and_server_errors_are_unavailability() -> None:
    refused = NewConnectionError(None, "Connection refused")  # type: ignore[arg-type]
    assert api_unavailable(MaxRetryError(None, "/apis", refused))  # type: ignore[arg-type]
    assert api_unavailable(ProtocolError("Connection aborted."))
    assert api_unavailable(ApiException(status=503, reason="Service Unavailable"))
    assert api_unavailable(ApiException(status=429, reason="Too Many Requests"))


def test_refusals_and_bugs_are_not() -> None:
    assert not api_unavailable(ApiException(status=422, reason="Unprocessable Entity"))
    assert not api_unavailable(ApiException(status=403, reason="Forbidden"))
    assert not api_unavailable(ApiException(status=500, reason="Internal error occurred: failed calling webhook"))
    assert not api_unavailable(KeyError("spec"))
