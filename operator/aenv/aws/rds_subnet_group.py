"""RDS DB subnet groups (kind rds.subnet_group): the subnets the database's instances go in."""

from __future__ import annotations

from .subnet_group import SubnetGroups, SubnetGroupService

KIND = "rds.subnet_group"


class DbSubnetGroups(SubnetGroups):
    SERVICE = SubnetGroupService(
        service="rds", tagging_type="rds", noun="db_subnet_group", group="DBSubnetGroup", arn="DBSubnetGroupArn",
        already_exists="DBSubnetGroupAlreadyExists", in_use="InvalidDBSubnetGroupStateFault",
        not_found="DBSubnetGroupNotFoundFault", user="a database instance", status="SubnetGroupStatus")
