"""RDS DB subnet groups in mode ack (kind rds.subnet_group): an rds DBSubnetGroup CR, usable once RDS reports it
Complete."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .resource import AckKind, arn
from .subnet_group import SubnetGroups

KIND = "rds.subnet_group"


class DbSubnetGroups(SubnetGroups):
    KIND = AckKind("rds", "DBSubnetGroup")
    NAME_FIELD = "name"
    DESCRIPTION_FIELD = "description"

    def unusable(self, obj: Mapping[str, Any]) -> str | None:
        status = (obj.get("status") or {}).get("subnetGroupStatus")
        if not arn(obj):
            return "synced, but without an ARN yet"
        return None if status == "Complete" else f"synced, subnet group {status or 'status unknown'}"
