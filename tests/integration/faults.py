"""A fault-injecting proxy in front of moto: real HTTP on 127.0.0.1 that answers some AWS calls with an
error instead of forwarding them, a bounded number of times, or forwards a call and then holds its response
(AWS has done the work; the caller does not know yet), or fails a random share of every request (throttling, 5xx,
a connection dropped before or after moto did the work). It counts every request it receives. Nothing in aenv or
boto3 is patched."""

from __future__ import annotations

import json
import random
import threading
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Fault:
    operation: str  # e.g. "CreateQueue" (the X-Amz-Target suffix, or the query Action)
    code: str  # e.g. "ThrottlingException", "AccessDenied"
    status: int = 400
    times: int = 1_000_000  # how many calls fail before the operation works again
    every: int = 1  # fail one call in `every`
    seen: int = 0
    failed: int = 0


@dataclass
class Hold:
    """Forward a call to moto, then keep its response from the caller until release() (at most max_seconds, so
    nothing hangs for ever): the window between AWS doing something and the caller learning that it did."""

    operation: str  # e.g. "CreateQueue"
    times: int = 1  # how many calls are held; later ones pass straight through
    match: str = ""  # only calls whose request holds this text (another client may make the same call)
    matched: int = 0  # calls of the operation that held the text, held or not
    max_seconds: float = 30.0
    seen: int = 0
    forwarded: int = 0  # held calls that reached moto (and got its answer)
    holding: threading.Event = field(default_factory=threading.Event)  # set once a forwarded response is held
    released: threading.Event = field(default_factory=threading.Event)

    def release(self) -> None:
        self.released.set()


RANDOM_FAULTS = ("throttle", "500", "503", "drop", "drop-after")


@dataclass
class RandomFaults:
    """Fail `rate` of all requests, each with a kind drawn from `kinds`: "throttle" (HTTP 400 ThrottlingException),
    "500" (InternalFailure), "503" (ServiceUnavailable), "drop" (the connection closed before the request reached
    moto) or "drop-after" (moto did the work, then the connection closed without its answer); only requests of
    `operations` when given, at most `times` of each operation. Seeded: the same seed draws the same sequence,
    though which request gets which draw depends on the order they arrive in."""

    rate: float
    seed: int
    kinds: Sequence[str] = RANDOM_FAULTS
    operations: Sequence[str] = ()
    times: int = 1_000_000_000
    injected: Counter[str] = field(default_factory=Counter)  # by kind
    failed: Counter[str] = field(default_factory=Counter)  # by operation

    def __post_init__(self) -> None:
        self._random = random.Random(self.seed)

    def draw(self, operation: str) -> str | None:
        if (self.operations and operation not in self.operations) or self.failed[operation] >= self.times:
            return None
        if self._random.random() >= self.rate:
            return None
        kind = self._random.choice(list(self.kinds))
        self.injected[kind] += 1
        self.failed[operation] += 1
        return kind


@dataclass
class FaultProxy:
    upstream: str
    faults: list[Fault] = field(default_factory=list)
    holds: list[Hold] = field(default_factory=list)
    calls: Counter[str] = field(default_factory=Counter)
    forwarded: Counter[str] = field(default_factory=Counter)  # calls moto answered, held or not
    url: str = ""
    lock: threading.Lock = field(default_factory=threading.Lock)
    random_faults: RandomFaults | None = None

    @property
    def requests(self) -> int:
        """Every request the proxy received, failed or forwarded."""
        with self.lock:
            return sum(self.calls.values())

    def _random_fault(self, operation: str) -> str | None:
        with self.lock:
            return self.random_faults.draw(operation) if self.random_faults is not None else None

    def _should_fail(self, operation: str) -> Fault | None:
        with self.lock:
            self.calls[operation] += 1
            for f in self.faults:
                if f.operation == operation:
                    f.seen += 1
                    if f.failed < f.times and f.seen % f.every == 0:
                        f.failed += 1
                        return f
        return None

    def _should_hold(self, operation: str, body: bytes) -> Hold | None:
        with self.lock:
            for h in self.holds:
                if h.operation != operation or h.match.encode() not in body:
                    continue
                h.matched += 1
                if h.seen < h.times:
                    h.seen += 1
                    return h
        return None

    def _forwarded(self, operation: str, hold: Hold | None) -> None:
        with self.lock:
            self.forwarded[operation] += 1
            if hold is not None:
                hold.forwarded += 1
        if hold is not None:
            hold.holding.set()

    def failed(self, operation: str) -> int:
        return sum(f.failed for f in self.faults if f.operation == operation)

    def release(self) -> None:
        for h in self.holds:
            h.release()


def _operation(handler: BaseHTTPRequestHandler, body: bytes) -> str:
    target = handler.headers.get("X-Amz-Target", "")
    if target:
        return target.rsplit(".", 1)[-1]
    for part in body.decode(errors="replace").split("&"):
        if part.startswith("Action="):
            return part.removeprefix("Action=")
    return ""


def _handler(proxy: FaultProxy) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *_: object) -> None:
            pass

        def _relay(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0") or 0))
            operation = _operation(self, body)
            fault = proxy._should_fail(operation)
            if fault is not None:
                self._error(fault.code, fault.status)
                return
            drawn = proxy._random_fault(operation)
            if drawn == "throttle":
                self._error("ThrottlingException", 400)
                return
            if drawn in ("500", "503"):
                self._error("InternalFailure" if drawn == "500" else "ServiceUnavailable", int(drawn))
                return
            if drawn == "drop":
                self.close_connection = True  # no answer at all: the caller sees the connection closed
                return
            headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "content-length")}
            request = urllib.request.Request(proxy.upstream + self.path, data=body or None, headers=headers,
                                             method=self.command)
            try:
                with urllib.request.urlopen(request, timeout=30) as r:
                    status, reply, reply_headers = r.status, r.read(), r.headers.items()
            except urllib.error.HTTPError as e:
                status, reply, reply_headers = e.code, e.read(), e.headers.items()
            if drawn == "drop-after":  # AWS did the work; its answer is lost on the way
                self.close_connection = True
                return
            hold = proxy._should_hold(operation, body)
            proxy._forwarded(operation, hold)
            if hold is not None:
                hold.released.wait(hold.max_seconds)
            try:
                self.send_response(status)
                for k, v in reply_headers:
                    if k.lower() not in ("content-length", "transfer-encoding", "connection", "server", "date"):
                        self.send_header(k, v)
                self.send_header("Content-Length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the caller is gone (killed while its response was held)

        def _error(self, code: str, status: int) -> None:
            json_protocol = bool(self.headers.get("X-Amz-Target"))
            if json_protocol:
                payload = json.dumps({"__type": code, "message": f"injected {code}"}).encode()
            else:  # the query protocol (SNS, RDS, ElastiCache, ...) answers errors in XML
                payload = (f"<ErrorResponse><Error><Type>Sender</Type><Code>{code}</Code>"
                           f"<Message>injected {code}</Message></Error><RequestId>0</RequestId>"
                           "</ErrorResponse>").encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/x-amz-json-1.0" if json_protocol else "text/xml")
            self.send_header("x-amzn-query-error", f"{code};Sender")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = _relay

    return Handler


@contextmanager
def fault_proxy(upstream: str, *faults: Fault, holds: Sequence[Hold] = (),
                random_faults: RandomFaults | None = None) -> Iterator[FaultProxy]:
    proxy = FaultProxy(upstream, list(faults), list(holds), random_faults=random_faults)
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(proxy))
    proxy.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield proxy
    finally:
        proxy.release()  # no handler thread stays blocked on a hold
        server.shutdown()
        server.server_close()
