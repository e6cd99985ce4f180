"""EC2 security groups (kind ec2.security_group): the workloads' group, and the cache's and the database's groups
that admit only the workloads' group on their port."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, NamedTuple

from botocore.exceptions import ClientError

from ..api.spec import DeletionPolicy
from ..naming import TAG_ENVIRONMENT, TAG_RELEASED, TAG_UID
from ..plan.types import Desired, Observation
from . import session
from .component import AwsTarget, Classified
from .errors import TransientError
from .listing import Listing
from .tagging import tags_drifted
from .vpc import Network

KIND = "ec2.security_group"
_ALREADY = {"InvalidPermission.Duplicate", "InvalidPermission.NotFound", "InvalidGroup.NotFound"}


class Rule(NamedTuple):
    """One permission for one source: a security group id, a prefix list id or an IPv4/IPv6 CIDR."""

    protocol: str  # "tcp", "udp", "icmp", "-1" (all) or a protocol number
    from_port: int  # -1 where the protocol has no ports
    to_port: int
    source: str

    def permission(self) -> dict[str, Any]:
        p: dict[str, Any] = {"IpProtocol": self.protocol}
        if self.protocol != "-1":
            p.update(FromPort=self.from_port, ToPort=self.to_port)
        if self.source.startswith("sg-"):
            p["UserIdGroupPairs"] = [{"GroupId": self.source}]
        elif self.source.startswith("pl-"):
            p["PrefixListIds"] = [{"PrefixListId": self.source}]
        elif ":" in self.source:
            p["Ipv6Ranges"] = [{"CidrIpv6": self.source}]
        else:
            p["IpRanges"] = [{"CidrIp": self.source}]
        return p


def rules(permissions: Iterable[Mapping[str, Any]]) -> frozenset[Rule]:
    """IpPermissions as AWS describes them, one Rule per source."""
    out: set[Rule] = set()
    for p in permissions:
        protocol, lo, hi = p["IpProtocol"], p.get("FromPort", -1), p.get("ToPort", -1)
        sources = ([g["GroupId"] for g in p.get("UserIdGroupPairs", [])]
                   + [r["CidrIp"] for r in p.get("IpRanges", [])]
                   + [r["CidrIpv6"] for r in p.get("Ipv6Ranges", [])]
                   + [r["PrefixListId"] for r in p.get("PrefixListIds", [])])
        out.update(Rule(protocol, lo, hi, s) for s in sources)
    return frozenset(out)


def _ingress(params: Mapping[str, Any]) -> frozenset[Rule]:
    return frozenset(Rule("tcp", port, port, params["ingress_source"]) for port in params["ingress_ports"])


class SecurityGroups(Classified):
    """Every aenv security group of the region, rules included, from one paginated describe per interval:
    drift in the rules costs no extra call."""

    def __init__(self, target: AwsTarget, network: Network | None = None) -> None:
        """network: the target's, shared with other clients (the registry's); by default one of its own."""
        self.ec2 = session.client("ec2", target.region, target.endpoint)
        self.network = network if network is not None else Network.of(target)
        self.groups = Listing(self._list_groups)  # name -> groups of that name (one per VPC)

    def _list_groups(self) -> dict[str, list[dict[str, Any]]]:
        out: dict[str, list[dict[str, Any]]] = {}
        for page in self.ec2.get_paginator("describe_security_groups").paginate(
                Filters=[{"Name": "tag-key", "Values": [TAG_ENVIRONMENT]}]):
            for group in page.get("SecurityGroups", []):
                out.setdefault(group["GroupName"], []).append(group)
        return out

    def _listed(self, name: str) -> list[dict[str, Any]]:
        return self.groups.get(name) or []

    def _vpc(self, desired: Desired, fresh: bool = False) -> str:
        return self.network.resolve(desired.params["vpc_id"], desired.params["subnet_ids"], fresh)[0]

    def observe(self, desired: Desired) -> Observation:
        vpc = self._vpc(desired) if desired.params else None  # a lookup-only desired (deleting) has no params
        groups = self._listed(desired.name)
        group = next((g for g in groups if g["VpcId"] == vpc), groups[0] if groups else None)
        return Observation.absent() if group is None else self._observation(desired, group, vpc)

    def _observation(self, desired: Desired, group: Mapping[str, Any], vpc: str | None) -> Observation:
        tags = {t["Key"]: t["Value"] for t in group.get("Tags", [])}
        diff: dict[str, tuple[Any, Any]] = {}
        immutable: tuple[str, ...] = ()
        if desired.params:
            if group["VpcId"] != vpc:
                immutable = ("vpc_id",)
            have, want = rules(group.get("IpPermissions", [])), _ingress(desired.params)
            if have != want:
                diff["ingress"] = (have, want)
            # Egress is left as AWS makes it (allow all) unless the group is to send nothing.
            if desired.params["revoke_egress"] and group.get("IpPermissionsEgress"):
                diff["egress"] = (rules(group["IpPermissionsEgress"]), frozenset())
            if tags_drifted(tags, desired.tags):
                diff["tags"] = (tags, dict(desired.tags))
        return Observation(
            exists=True, ready=True, up_to_date=not diff, diff=diff, immutable=immutable,
            outputs={"id": group["GroupId"], "arn": group["SecurityGroupArn"]},
            owner=tags.get(TAG_UID), owner_environment=tags.get(TAG_ENVIRONMENT), state="available",
        )

    def _refresh(self, name: str, group_id: str) -> dict[str, Any]:
        """Describe one group after a write and record it in the listing."""
        group: dict[str, Any] = self.ec2.describe_security_groups(GroupIds=[group_id])["SecurityGroups"][0]
        others = [g for g in self._listed(name) if g["GroupId"] != group_id]
        self.groups.put(name, [*others, group])
        return group

    def create(self, desired: Desired) -> Observation:
        vpc = self._vpc(desired, fresh=True)
        try:
            group_id = self.ec2.create_security_group(
                GroupName=desired.name, Description=desired.params["description"], VpcId=vpc,
                TagSpecifications=[{"ResourceType": "security-group",
                                    "Tags": [{"Key": k, "Value": v} for k, v in desired.tags.items()]}],
            )["GroupId"]
        except ClientError as e:
            if e.response.get("Error", {}).get("Code") != "InvalidGroup.Duplicate":
                raise
            # Not in the listing: made since, or without aenv's tags. Report what holds the name.
            found = self.ec2.describe_security_groups(Filters=[
                {"Name": "group-name", "Values": [desired.name]}, {"Name": "vpc-id", "Values": [vpc]}])
            return self._observation(desired, found["SecurityGroups"][0], vpc)
        observed = self._observation(desired, self._refresh(desired.name, group_id), vpc)
        return observed if observed.up_to_date else self.update(desired, observed)

    def _permissions(self, method: str, group_id: str, change: frozenset[Rule]) -> None:
        if not change:
            return
        try:
            getattr(self.ec2, method)(GroupId=group_id, IpPermissions=[r.permission() for r in sorted(change)])
        except ClientError as e:  # changed since the listing: the refresh after the update shows what holds
            if e.response.get("Error", {}).get("Code") not in _ALREADY:
                raise

    def update(self, desired: Desired, observed: Observation) -> Observation:
        group_id = observed.outputs["id"]
        if "ingress" in observed.diff:
            have, want = observed.diff["ingress"]
            # Authorize before revoking: a replaced source keeps its access throughout.
            self._permissions("authorize_security_group_ingress", group_id, want - have)
            self._permissions("revoke_security_group_ingress", group_id, have - want)
        if "egress" in observed.diff:
            self._permissions("revoke_security_group_egress", group_id, observed.diff["egress"][0])
        if "tags" in observed.diff:
            if TAG_RELEASED in observed.diff["tags"][0]:
                self.ec2.delete_tags(Resources=[group_id], Tags=[{"Key": TAG_RELEASED}])
            self.ec2.create_tags(Resources=[group_id],
                       Tags=[{"Key": k, "Value": v} for k, v in desired.tags.items()])
        return self._observation(desired, self._refresh(desired.name, group_id), self._vpc(desired))

    def delete(self, desired: Desired, observed: Observation, policy: DeletionPolicy) -> None:
        group_id = observed.outputs["id"]
        if policy == "Retain":
            self.ec2.create_tags(Resources=[group_id], Tags=[{"Key": TAG_RELEASED, "Value": "true"}])
            self._refresh(desired.name, group_id)
            return
        try:  # Snapshot: a security group holds no data
            self.ec2.delete_security_group(GroupId=group_id)
        except ClientError as e:
            code = e.response.get("Error", {}).get("Code")
            if code == "DependencyViolation":  # a cluster being deleted still holds network interfaces in it
                raise TransientError(f"{desired.name} is still in use (DependencyViolation); retrying") from e
            if code != "InvalidGroup.NotFound":
                raise
        self.groups.put(desired.name, [g for g in self._listed(desired.name) if g["GroupId"] != group_id])
