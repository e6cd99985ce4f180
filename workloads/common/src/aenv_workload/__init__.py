"""What aenv's reference workloads share: settings from the connection Secret, JSON logs, a graceful stop."""

from .connection import Connection, MissingSetting
from .logs import configure_logging
from .startup import start

__all__ = ["Connection", "MissingSetting", "configure_logging", "start"]
