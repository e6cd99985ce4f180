"""A custom domain for the WebSocket API (kind apigatewayv2.domain_name) and its API mapping to the stage.

REGIONAL endpoint, TLS 1.2. The mapping is at the domain's root (an empty mapping key) and is part of the
domain: aenv owns the domain (by its tags), hence its root mapping. Desired params: certificate_arn,
api_id, stage. Outputs: the name, and the target and hosted zone a DNS alias record points at.
"""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from ..api.spec import DeletionPolicy
from ..naming import TAG_ENVIRONMENT, TAG_RELEASED, TAG_UID
from ..plan.types import Desired, Observation
from . import session
from .apigatewayv2_api import arn, not_found
from .component import AwsTarget, Classified
from .errors import error_code
from .listing import Listing
from .tagging import tags_drifted

KIND = "apigatewayv2.domain_name"
ENDPOINT_TYPE = "REGIONAL"
SECURITY_POLICY = "TLS_1_2"


def _configuration(desired: Desired) -> list[dict[str, str]]:
    return [{"CertificateArn": desired.params["certificate_arn"], "EndpointType": ENDPOINT_TYPE,
             "SecurityPolicy": SECURITY_POLICY}]


class ApiDomainNames(Classified):
    """One paginated GetDomainNames per interval for every environment (it carries the tags);
    GetApiMappings once per domain and interval."""

    def __init__(self, target: AwsTarget) -> None:
        self.api = session.client("apigatewayv2", target.region, target.endpoint)
        self.region = target.region
        self.domains = Listing(self._list)

    def _list(self) -> dict[str, dict[str, Any]]:
        return {d["DomainName"]: d for page in self.api.get_paginator("get_domain_names").paginate()
                for d in page.get("Items", [])}

    def _root_mapping(self, domain: str) -> dict[str, Any] | None:
        """The mapping at the domain's root. GetApiMappings has no paginator: follow NextToken."""
        kwargs: dict[str, str] = {}
        while True:
            page = self.api.get_api_mappings(DomainName=domain, **kwargs)
            for m in page.get("Items", []):
                if not m.get("ApiMappingKey"):
                    return dict(m)
            if not page.get("NextToken"):
                return None
            kwargs["NextToken"] = page["NextToken"]

    def observe(self, desired: Desired) -> Observation:
        try:
            found = self.domains.get(desired.name)
            if found is None:
                return Observation.absent()
            mapping = self._root_mapping(desired.name) if desired.params else None
        except ClientError as e:
            if not_found(e):  # deleted since the listing
                self.domains.forget(desired.name)
                return Observation.absent()
            raise
        tags = found.get("Tags", {})
        config = (found.get("DomainNameConfigurations") or [{}])[0]
        status = config.get("DomainNameStatus", "AVAILABLE")  # moto has no status: a domain is available at once
        diff: dict[str, tuple[Any, Any]] = {}
        immutable: tuple[str, ...] = ()
        if desired.params:
            p = desired.params
            if config.get("EndpointType") != ENDPOINT_TYPE:
                immutable = ("endpoint_type",)
            if config.get("CertificateArn") != p["certificate_arn"]:
                diff["certificate_arn"] = (config.get("CertificateArn"), p["certificate_arn"])
            if config.get("SecurityPolicy") != SECURITY_POLICY:
                diff["security_policy"] = (config.get("SecurityPolicy"), SECURITY_POLICY)
            got = (mapping["ApiId"], mapping["Stage"]) if mapping else None
            if got != (p["api_id"], p["stage"]):
                diff["mapping"] = (got, (p["api_id"], p["stage"]))
            if tags_drifted(tags, desired.tags):
                diff["tags"] = (tags, dict(desired.tags))
        return Observation(
            exists=True, ready=status == "AVAILABLE", up_to_date=not diff, diff=diff, immutable=immutable,
            outputs={"name": desired.name, "target": config.get("ApiGatewayDomainName"),
                     "hosted_zone_id": config.get("HostedZoneId")},
            owner=tags.get(TAG_UID), owner_environment=tags.get(TAG_ENVIRONMENT), state=status.lower(),
        )

    def create(self, desired: Desired) -> Observation:
        try:
            created = self.api.create_domain_name(
                DomainName=desired.name, DomainNameConfigurations=_configuration(desired), Tags=dict(desired.tags))
        except ClientError as e:
            if error_code(e) != "ConflictException":
                raise
            self.domains.expire()  # made since the listing, maybe by someone else: observe, do not map it
            return self.observe(desired)
        self.domains.put(desired.name, created)
        self.api.create_api_mapping(DomainName=desired.name, ApiId=desired.params["api_id"],
                   Stage=desired.params["stage"])
        return self.observe(desired)

    def update(self, desired: Desired, observed: Observation) -> Observation:
        name, resource = desired.name, arn(self.region, f"/domainnames/{desired.name}")
        if "certificate_arn" in observed.diff or "security_policy" in observed.diff:
            self.api.update_domain_name(DomainName=name, DomainNameConfigurations=_configuration(desired))
        if "tags" in observed.diff:
            self.api.untag_resource(ResourceArn=resource, TagKeys=[TAG_RELEASED])
            self.api.tag_resource(ResourceArn=resource, Tags=dict(desired.tags))
        if set(observed.diff) - {"mapping"}:
            self.domains.expire()
        if "mapping" in observed.diff:
            mapping = self._root_mapping(name)
            target = {"DomainName": name, "ApiId": desired.params["api_id"], "Stage": desired.params["stage"]}
            if mapping is None:
                self.api.create_api_mapping(**target)
            else:
                self.api.update_api_mapping(ApiMappingId=mapping["ApiMappingId"], **target)
        return self.observe(desired)

    def delete(self, desired: Desired, observed: Observation, policy: DeletionPolicy) -> None:
        name = desired.name
        if policy == "Retain":
            self.api.tag_resource(ResourceArn=arn(self.region, f"/domainnames/{name}"),
                       Tags={TAG_RELEASED: "true"})
            self.domains.expire()
            return
        mapping = self._root_mapping(name)
        if mapping is not None:
            self.api.delete_api_mapping(DomainName=name, ApiMappingId=mapping["ApiMappingId"])
        try:  # Snapshot: a domain name keeps no data at rest
            self.api.delete_domain_name(DomainName=name)
        except ClientError as e:
            if not not_found(e):
                raise
        self.domains.forget(name)
