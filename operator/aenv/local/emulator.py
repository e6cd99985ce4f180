"""moto in server mode on 127.0.0.1: the AWS stand-in for the local environment and the tests."""

from __future__ import annotations

import socket
import sys
import urllib.request
from pathlib import Path
from typing import Any

import boto3

from . import processes

# moto accepts any credentials; these say plainly that they are not real.
CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}
REGION = "us-east-1"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class AwsEmulator:
    def __init__(self, state_dir: Path) -> None:
        self.state_dir = state_dir
        self.pidfile = state_dir / "moto.pid"
        self.portfile = state_dir / "moto.port"
        self.logfile = state_dir / "moto.log"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.portfile.read_text().strip()}"

    def healthy(self) -> bool:
        if processes.read_pid(self.pidfile) is None or not self.portfile.exists():
            return False
        try:
            with urllib.request.urlopen(f"{self.url}/moto-api/data.json", timeout=2) as r:
                return bool(r.status == 200)
        except OSError:
            return False

    def start(self) -> str:
        """Start moto (or reuse the running one); returns its URL."""
        if self.healthy():
            return self.url
        self.stop()
        self.state_dir.mkdir(parents=True, exist_ok=True)
        self.portfile.write_text(str(free_port()))
        port = self.portfile.read_text().strip()
        processes.start([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", port],
                        self.pidfile, self.logfile)
        processes.wait_for(self.healthy, 30, f"the AWS emulator on {self.url} (log: {self.logfile})")
        return self.url

    def stop(self) -> None:
        processes.stop(self.pidfile)

    def reset(self) -> None:
        req = urllib.request.Request(f"{self.url}/moto-api/reset", method="POST")
        with urllib.request.urlopen(req, timeout=10):
            pass

    def client(self, service: str) -> Any:
        """A boto3 client for this emulator (tests and benchmarks look at AWS through it)."""
        make: Any = boto3.client  # `service` is any name: the typed overloads do not apply
        return make(service, region_name=REGION, endpoint_url=self.url, aws_access_key_id=CREDENTIALS[
            "AWS_ACCESS_KEY_ID"], aws_secret_access_key=CREDENTIALS["AWS_SECRET_ACCESS_KEY"])

    def environ(self) -> dict[str, str]:
        return {"AWS_ENDPOINT_URL": self.url, "AWS_DEFAULT_REGION": REGION, **CREDENTIALS}
