"""The gateway's custom domain in mode ack (kind apigatewayv2.domain_name): an apigatewayv2 DomainName CR and an
ApiMapping CR at the domain's root that maps it to the API's stage.

As in mode boto3: a REGIONAL endpoint with TLS 1.2 and the certificate the spec names (aenv does not issue it), the
mapping part of the domain's desired resource. The ApiMapping refers to the API's CR (apiRef) and the DomainName's
(domainRef); the stage is a plain name (the CRD has no reference for it). Ready when both are synced and the mapping
has an id. Outputs are mode boto3's keys; ACK does not expose the domain's API Gateway target nor its hosted zone
(its DomainName CRD leaves them out), so those two are None in this mode.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from ..api.spec import DeletionPolicy
from ..aws.apigatewayv2_domain_name import ENDPOINT_TYPE, SECURITY_POLICY
from ..aws.component import AwsTarget
from ..naming import EnvironmentRef, aws_name
from ..plan.gateway import API_NAME_MAX
from ..plan.types import Desired, Observation
from .apigatewayv2_api import api_object, status_of
from .resource import AckClient, AckKind, object_name, reference

KIND = "apigatewayv2.domain_name"
DOMAIN = AckKind("apigatewayv2", "DomainName")
MAPPING = AckKind("apigatewayv2", "APIMapping")


def gateway_api(env: EnvironmentRef) -> str:
    """The AWS name of the environment's API, as plan/gateway.py names it (the domain's params hold only its id)."""
    return aws_name(env, "gateway", max_length=API_NAME_MAX)


def mapping_object(domain: str) -> str:
    return object_name(f"{domain}-root")


class ApiMappings(AckClient):
    """The domain's root mapping. Its desired resource is the domain's, with the stage's name as its only param."""

    KIND = MAPPING
    TAG_FIELD = None

    def name_of(self, desired: Desired) -> str:
        return mapping_object(desired.name)

    def spec(self, desired: Desired, env: EnvironmentRef) -> dict[str, Any]:
        return {"apiRef": reference(api_object(gateway_api(env))),
                "domainRef": reference(object_name(desired.name)), "stage": desired.params["stage"]}

    def unusable(self, obj: Mapping[str, Any]) -> str | None:
        return None if status_of(obj).get("apiMappingID") else "synced, but without a mapping id yet"


class ApiDomainNames(AckClient):
    KIND = DOMAIN

    def __init__(self, target: AwsTarget) -> None:
        super().__init__(target)
        self.mappings = ApiMappings(target)

    def spec(self, desired: Desired, env: EnvironmentRef) -> dict[str, Any]:
        return {
            "domainName": desired.name,
            "domainNameConfigurations": [{"certificateARN": desired.params["certificate_arn"],
                                          "endpointType": ENDPOINT_TYPE, "securityPolicy": SECURITY_POLICY}],
            "tags": dict(desired.tags),
        }

    def unusable(self, obj: Mapping[str, Any]) -> str | None:
        # AWS answers every domain with its API mapping selection expression: ACK has read it back.
        return None if status_of(obj).get("apiMappingSelectionExpression") else "synced, but not read back yet"

    def outputs(self, obj: Mapping[str, Any]) -> dict[str, Any]:
        return {"name": (obj.get("spec") or {}).get("domainName"), "target": None, "hosted_zone_id": None}

    def mapping(self, desired: Desired) -> Desired:
        return replace(desired, params={"stage": desired.params["stage"]})

    def observe(self, desired: Desired) -> Observation:
        return self.with_mapping(desired, super().observe(desired))

    def create(self, desired: Desired) -> Observation:
        domain = super().create(desired)
        return self.with_mapping(desired, domain, self.mappings.create(self.mapping(desired)))

    def with_mapping(self, desired: Desired, domain: Observation, mapping: Observation | None = None) -> Observation:
        """The domain's observation, not up to date while its mapping is missing or differs, not ready until both
        are."""
        if not domain.exists or not desired.params:
            return domain
        mapping = mapping or self.mappings.observe(self.mapping(desired))
        diff = dict(domain.diff)
        if not mapping.exists:
            diff["mapping"] = (None, desired.params["stage"])
        elif not mapping.up_to_date:
            diff.update({f"mapping.{k}": v for k, v in mapping.diff.items()})
        ready = domain.ready and mapping.ready
        state = domain.state if not domain.ready else (f"mapping {mapping.state}" if mapping.exists
                                                       else "mapping missing")
        return Observation(
            exists=True, ready=ready, up_to_date=not diff, diff=diff, outputs=domain.outputs if ready else {},
            owner=domain.owner, owner_environment=domain.owner_environment, state="available" if ready else state,
        )

    def delete(self, desired: Desired, observed: Observation, policy: DeletionPolicy) -> None:
        """The mapping first, the domain it refers to once it is gone (or at once when ACK keeps both)."""
        mapping = self.mappings.find(desired)
        if mapping is not None:
            self.mappings.remove(mapping, policy)
            if self.deletion_policy(policy) != "retain":
                return
        super().delete(desired, observed, policy)
