"""Subnet groups, one class for the services that have them (ElastiCache, RDS): the subnets a data store's
nodes go in. A service differs only in its names, configured by a SubnetGroupService."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from ..api.spec import DeletionPolicy
from ..naming import TAG_ENVIRONMENT, TAG_RELEASED, TAG_UID, retagged
from ..plan.types import Desired, Observation
from . import session
from .component import AwsTarget, Classified
from .errors import TransientError, error_code
from .listing import Listing, aenv_items
from .tagging import tag_list, tags_by_arn, tags_drifted, tags_or_ask
from .vpc import Network


@dataclass(frozen=True)
class SubnetGroupService:
    """How one service names its subnet groups' calls, fields and errors."""

    service: str  # the boto3 client, e.g. "rds"
    tagging_type: str  # the Resource Groups Tagging API's resource type
    noun: str  # the calls' noun: describe_<noun>s, create_<noun>, modify_<noun>, delete_<noun>
    group: str  # the response's key for one group; its name field is <group>Name
    arn: str  # the group's ARN field
    already_exists: str  # the create's error code when the name is taken
    in_use: str  # the delete's error code while the data store is still being deleted
    not_found: str
    user: str  # what uses the group, for the in-use message
    status: str | None = None  # the group's status field, where the service has one


class SubnetGroups(Classified):
    """One paginated describe of the service's subnet groups and one tagging-API page set per interval for every
    environment; list_tags_for_resource only for a group the tagging API does not show."""

    SERVICE: SubnetGroupService

    def __init__(self, target: AwsTarget, network: Network | None = None) -> None:
        """network: the target's, shared with other clients (the registry's); by default one of its own."""
        self.client = session.client(self.SERVICE.service, target.region, target.endpoint)
        self.network = network if network is not None else Network.of(target)
        self.groups = Listing(self._list_groups)
        tagging = session.client("resourcegroupstaggingapi", target.region, target.endpoint)
        self.tags = tags_by_arn(tagging, self.SERVICE.tagging_type)

    def _name(self, group: dict[str, Any]) -> str:
        return str(group[f"{self.SERVICE.group}Name"])

    def _list_groups(self) -> dict[str, dict[str, Any]]:
        s = self.SERVICE
        return aenv_items(self.client, f"describe_{s.noun}s", f"{s.group}s", f"{s.group}Name")

    def observe(self, desired: Desired) -> Observation:
        placement = self.network.placement(desired)  # checked whether or not the group exists yet
        group = self.groups.get(desired.name)
        if group is None:
            return Observation.absent()
        tags = self._tags(group[self.SERVICE.arn])
        diff: dict[str, tuple[Any, Any]] = {}
        immutable: tuple[str, ...] = ()
        if placement is not None:
            vpc, subnets = placement
            if group["VpcId"] != vpc:  # vpc exists: the group really is in another VPC
                immutable = ("vpc_id",)
            have = tuple(sorted(s["SubnetIdentifier"] for s in group.get("Subnets", [])))
            if have != subnets:
                diff["subnet_ids"] = (have, subnets)
            if tags_drifted(tags, desired.tags):
                diff["tags"] = (tags, dict(desired.tags))
        status = group.get(self.SERVICE.status, "Complete") if self.SERVICE.status else "Available"
        return Observation(
            exists=True, ready=status in ("Complete", "Available"), up_to_date=not diff, diff=diff,
            immutable=immutable, outputs={"name": self._name(group)},
            owner=tags.get(TAG_UID), owner_environment=tags.get(TAG_ENVIRONMENT), state=status.lower(),
        )

    def _tags(self, arn: str) -> dict[str, str]:
        return tags_or_ask(self.tags, arn, lambda: {
            t["Key"]: t["Value"] for t in self.client.list_tags_for_resource(ResourceName=arn).get("TagList", [])})

    def create(self, desired: Desired) -> Observation:
        _, subnets = self.network.resolve(desired.params["vpc_id"], desired.params["subnet_ids"], fresh=True)
        g = self.SERVICE.group
        try:
            group = getattr(self.client, f"create_{self.SERVICE.noun}")(**{
                f"{g}Name": desired.name, f"{g}Description": desired.params["description"],
                "SubnetIds": list(subnets), "Tags": tag_list(desired.tags)})[g]
        except ClientError as e:
            if error_code(e) != self.SERVICE.already_exists:
                raise
            self.groups.expire()  # made by someone else since the listing: observe what is there
        else:
            self.groups.put(desired.name, group)
            self.tags.put(group[self.SERVICE.arn], dict(desired.tags))
        return self.observe(desired)

    def update(self, desired: Desired, observed: Observation) -> Observation:
        g = self.SERVICE.group
        if "subnet_ids" in observed.diff:
            group = getattr(self.client, f"modify_{self.SERVICE.noun}")(**{
                f"{g}Name": desired.name, "SubnetIds": list(observed.diff["subnet_ids"][1])})[g]
            self.groups.put(desired.name, group)
        if "tags" in observed.diff:
            arn = self._arn(desired.name)
            have = observed.diff["tags"][0]
            if TAG_RELEASED in have:  # ElastiCache refuses to remove a tag that is not there
                self.client.remove_tags_from_resource(ResourceName=arn, TagKeys=[TAG_RELEASED])
            self.client.add_tags_to_resource(ResourceName=arn, Tags=tag_list(desired.tags))
            self.tags.put(arn, retagged(have, desired.tags))
        return self.observe(desired)

    def _arn(self, name: str) -> str:
        group = self.groups.get(name)
        assert group is not None, name  # observed just before
        return str(group[self.SERVICE.arn])

    def delete(self, desired: Desired, observed: Observation, policy: DeletionPolicy) -> None:
        if policy == "Retain":
            arn = self._arn(desired.name)
            self.client.add_tags_to_resource(ResourceName=arn, Tags=tag_list({TAG_RELEASED: "true"}))
            self.tags.forget(arn)
            return
        try:  # Snapshot: a subnet group holds no data (a data store's final snapshot is its own)
            getattr(self.client, f"delete_{self.SERVICE.noun}")(**{f"{self.SERVICE.group}Name": desired.name})
        except ClientError as e:
            if error_code(e) == self.SERVICE.in_use:  # the data store is still being deleted
                raise TransientError(f"{desired.name} is still used by {self.SERVICE.user}; retrying") from e
            if error_code(e) != self.SERVICE.not_found:
                raise
        self.groups.forget(desired.name)
