"""CloudWatch over the Smithy RPC v2 CBOR protocol, answered by moto's CloudWatch.

aws-sdk-go-v2's service/cloudwatch speaks Smithy RPC v2 CBOR since v1.53.0, and ACK's cloudwatch controller cannot be
built with an older release (its MetricAlarm uses fields that v1.56.0 added); moto serves CloudWatch over the JSON
and query protocols only. This WSGI middleware in front of moto's server takes such a request (POST
/service/GraniteServiceVersion20100801/operation/<Op>, header smithy-protocol: rpc-v2-cbor), makes of its input the
AWS JSON 1.0 request that boto3 sends for the same call (botocore's serializer, with botocore's model of the
service), hands that to moto, and answers with moto's output (botocore's parser) encoded in CBOR by the output
shape: timestamps as epoch seconds under tag 1, numbers as the shape's type, errors as {"__type", "message"} with
moto's x-amzn-query-error header, from which the Go SDK takes the error code.
"""

from __future__ import annotations

import functools
import io
import re
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from http import HTTPStatus
from typing import Any, cast

import botocore.session
import cbor2
from botocore.model import OperationModel, ServiceModel, Shape
from botocore.parsers import JSONParser
from botocore.serialize import JSONSerializer

# The service ids in CBOR paths (the JSON protocol's target prefix) of the services translated: botocore's names.
SERVICES = {"GraniteServiceVersion20100801": "cloudwatch"}
PROTOCOL = "rpc-v2-cbor"
_PATH = re.compile(r"^/service/(?P<service>[A-Za-z0-9]+)/operation/(?P<operation>[A-Za-z0-9]+)$")
_EPOCH = 1  # the CBOR tag of a timestamp in epoch seconds
QUERY_ERROR = "x-amzn-query-error"

StartResponse = Callable[..., Callable[[bytes], object]]
WsgiApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]


@functools.cache
def _model(service: str) -> ServiceModel:
    return botocore.session.get_session().get_service_model(service)


def operation_of(method: str, path: str, headers: Mapping[str, str]) -> OperationModel | None:
    """The operation a CBOR request calls, or None for any other request (moto answers those)."""
    found = _PATH.match(path)
    if method != "POST" or headers.get("smithy-protocol") != PROTOCOL or found is None:
        return None
    service = SERVICES.get(found["service"])
    if service is None:
        return None
    model = _model(service)
    return model.operation_model(found["operation"]) if found["operation"] in model.operation_names else None


def json_request(operation: OperationModel, payload: bytes) -> tuple[dict[str, str], bytes]:
    """The headers and body of the JSON request that asks moto what the CBOR payload asks."""
    params = cbor2.loads(payload) if payload else {}
    if not isinstance(params, dict):
        raise ValueError(f"the input of {operation.name} is not a CBOR map")
    request = JSONSerializer().serialize_to_request(params, operation)
    return dict(request["headers"]), bytes(request["body"])


def by_shape(value: Any, shape: Shape | None) -> Any:
    """A parsed value as the CBOR that the Go SDK decodes for its shape."""
    if shape is None or value is None:
        return value
    kind = shape.type_name
    if kind == "structure" and isinstance(value, Mapping):
        members = shape.members  # type: ignore[attr-defined]
        return {k: by_shape(v, members.get(k)) for k, v in value.items() if k in members}
    if kind == "list" and isinstance(value, list):
        return [by_shape(v, shape.member) for v in value]  # type: ignore[attr-defined]
    if kind == "map" and isinstance(value, Mapping):
        return {k: by_shape(v, shape.value) for k, v in value.items()}  # type: ignore[attr-defined]
    if kind == "timestamp" and isinstance(value, datetime):
        return cbor2.CBORTag(_EPOCH, value.timestamp())
    if kind in ("double", "float") and isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    if kind in ("integer", "long", "short", "byte") and isinstance(value, int | float) and not isinstance(value, bool):
        return int(value)
    return value


def cbor_response(operation: OperationModel, status: int, headers: Mapping[str, str], body: bytes,
                  ) -> tuple[int, list[tuple[str, str]], bytes]:
    """moto's JSON answer as the CBOR answer: status, headers and body."""
    lowered = {k.lower(): v for k, v in headers.items()}
    response = {"status_code": status, "headers": lowered, "body": body}
    parsed = JSONParser().parse(response, cast(Shape, operation.output_shape))  # None: an operation without output
    out = [("Content-Type", "application/cbor"), ("smithy-protocol", PROTOCOL)]
    if status < 300:
        shape = operation.output_shape
        content: dict[str, Any] = by_shape(parsed, shape) if shape is not None else {}
    else:
        error = parsed.get("Error") or {}
        code = str(error.get("Code") or "UnknownError")
        content = {"__type": f"com.amazonaws.{operation.service_model.service_name}#{code}",
                   "message": str(error.get("Message") or "")}
        fault = "Sender" if status < 500 else "Receiver"
        out.append((QUERY_ERROR, lowered.get(QUERY_ERROR) or f"{code};{fault}"))
    return status, out, cbor2.dumps(content)


def error_response(operation: OperationModel, code: str, message: str) -> tuple[int, list[tuple[str, str]], bytes]:
    """A request this translator cannot make sense of: a client error, as AWS answers a malformed request."""
    content = {"__type": f"com.amazonaws.{operation.service_model.service_name}#{code}", "message": message}
    return 400, [("Content-Type", "application/cbor"), ("smithy-protocol", PROTOCOL),
                 (QUERY_ERROR, f"{code};Sender")], cbor2.dumps(content)


def _headers(environ: Mapping[str, Any]) -> dict[str, str]:
    return {k[5:].replace("_", "-").lower(): str(v) for k, v in environ.items() if k.startswith("HTTP_")}


class CborToJson:
    """The WSGI middleware: CBOR requests of the SERVICES translated, every other request passed on unchanged."""

    def __init__(self, app: WsgiApp) -> None:
        self.app = app

    def __getattr__(self, name: str) -> Any:  # moto's server sets and reads attributes of its application
        return getattr(self.app, name)

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        operation = operation_of(environ.get("REQUEST_METHOD", ""), environ.get("PATH_INFO", ""), _headers(environ))
        if operation is None:
            return self.app(environ, start_response)
        length = int(environ.get("CONTENT_LENGTH") or 0)
        payload = environ["wsgi.input"].read(length) if length else b""
        try:
            headers, body = json_request(operation, payload)
        except (ValueError, KeyError, TypeError, cbor2.CBORDecodeError) as e:
            status, out, answer = error_response(operation, "SerializationException", f"{type(e).__name__}: {e}")
        else:
            status, out, answer = cbor_response(operation, *self._call_moto(environ, headers, body))
        start_response(f"{status} {HTTPStatus(status).phrase}", [*out, ("Content-Length", str(len(answer)))])
        return [answer]

    def _call_moto(self, environ: Mapping[str, Any], headers: Mapping[str, str], body: bytes,
                   ) -> tuple[int, dict[str, str], bytes]:
        inner = {k: v for k, v in environ.items() if not k.startswith(("HTTP_SMITHY", "HTTP_ACCEPT", "werkzeug."))}
        inner |= {"PATH_INFO": "/", "QUERY_STRING": "", "CONTENT_TYPE": headers["Content-Type"],
                  "CONTENT_LENGTH": str(len(body)), "wsgi.input": io.BytesIO(body)}
        inner |= {"HTTP_" + k.upper().replace("-", "_"): v for k, v in headers.items() if k != "Content-Type"}
        seen: dict[str, Any] = {}
        chunks: list[bytes] = []

        def start(status: str, response_headers: list[tuple[str, str]], exc_info: Any = None) -> Callable[[bytes],
                                                                                                      object]:
            seen["status"], seen["headers"] = status, response_headers
            return chunks.append

        result = self.app(inner, start)
        try:
            chunks.extend(result)
        finally:
            close = getattr(result, "close", None)
            if close is not None:
                close()
        return int(str(seen["status"]).split()[0]), dict(seen["headers"]), b"".join(chunks)
