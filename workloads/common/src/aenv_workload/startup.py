"""A workload's start: JSON logs, its settings from the connection Secret, and a clear exit when one is missing."""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Callable
from typing import TypeVar

from .connection import Connection, MissingSetting
from .logs import configure_logging

T = TypeVar("T")


def start(service: str, settings: Callable[[Connection], T]) -> tuple[Connection, T, int]:
    """The connection, the service's settings and its HTTP port (PORT, default 8080); exits 2 naming what is
    missing."""
    configure_logging(service, os.environ.get("LOG_LEVEL", "INFO"))
    connection = Connection()
    try:
        made = settings(connection)
        port = int(connection.number("PORT", 8080))
    except MissingSetting as e:
        logging.getLogger(service).error("cannot start", extra={"reason": str(e)})
        sys.exit(2)
    return connection, made, port
