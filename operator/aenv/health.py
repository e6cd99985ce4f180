"""/healthz and /readyz for the kubelet's probes.

/healthz: the process can reach the API server (a standby's Lease reads count). /readyz: the leader's operator
finished starting (kopf's ready flag), its watches on what aenv owns are established, and it still holds the
Lease; or a standby is ready to take over.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def serve(address: str, port: int, live: Callable[[], bool], ready: Callable[[], bool]) -> ThreadingHTTPServer:
    checks = {"/healthz": live, "/readyz": ready}

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            check = checks.get(self.path.split("?")[0])
            if check is None:
                self.send_error(404)
                return
            ok = check()
            body = b"ok\n" if ok else b"not ok\n"
            self.send_response(200 if ok else 503)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *_: object) -> None:  # probes every few seconds would flood the log
            pass

    server = ThreadingHTTPServer((address, port), Handler)
    threading.Thread(target=server.serve_forever, name="aenv-health", daemon=True).start()
    return server
