"""Versioned SQL migrations of an environment's database: the source (parsing, ordering, checksums) and what a
run would do (pure), the runner against PostgreSQL (runner.py, psycopg), and the Job a workload's image runs
them in (job.py)."""

from .plan import Applied, Failure, Result, Row, latest
from .source import Migration, SourceError, parse

__all__ = ["Applied", "Failure", "Migration", "Result", "Row", "SourceError", "latest", "parse"]
