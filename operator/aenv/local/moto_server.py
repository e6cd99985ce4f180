"""moto's server with one addition: an EC2 VPC or subnet created with the tag `_custom_id_` gets that id.

moto already honours that tag for many resources (moto.utilities.id_generator) but not, as of moto 5.2, for VPCs
and subnets, which draw their ids straight from a random generator. The local environment needs them so that the
examples, which name the VPC and subnets a production account would have, find those ids in the emulator.

Run as `python -m aenv.local.moto_server`, with the arguments of `python -m moto.server`.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable, Collection, Iterable
from types import ModuleType
from typing import Any

from moto import server
from moto.ec2.models import subnets as ec2_subnets
from moto.ec2.models import vpcs as ec2_vpcs
from moto.utilities.id_generator import TAG_KEY_CUSTOM_ID

_chosen = threading.local()  # the id the create call running on this thread asked for


def custom_id(tags: object) -> str | None:
    """The `_custom_id_` tag among tags as moto's EC2 responses pass them: a list of {"Key", "Value"} (VPCs) or
    {resource type: {key: value}} (subnets)."""
    if isinstance(tags, list):
        return next((str(t["Value"]) for t in tags if isinstance(t, dict) and t.get("Key") == TAG_KEY_CUSTOM_ID),
                    None)
    if isinstance(tags, dict):
        for by_type in tags.values():
            if isinstance(by_type, dict) and TAG_KEY_CUSTOM_ID in by_type:
                return str(by_type[TAG_KEY_CUSTOM_ID])
    return None


def _honour_custom_id(module: ModuleType, generator: str, backend: type, create: str,
                      taken: Callable[[Any], Iterable[str]]) -> None:
    """Make backend.create use the tag's id, unless a resource already has it (then a random one, as moto does for
    the resources it gives custom ids)."""
    random_id: Callable[[], str] = getattr(module, generator)

    def generate() -> str:
        chosen: str | None = getattr(_chosen, "id", None)
        return chosen or random_id()

    original = getattr(backend, create)

    @functools.wraps(original)
    def create_with_custom_id(self: Any, *args: Any, **kwargs: Any) -> Any:
        wanted = custom_id(kwargs.get("tags"))
        existing: Collection[str] = set(taken(self))
        _chosen.id = wanted if wanted and wanted not in existing else None
        try:
            return original(self, *args, **kwargs)
        finally:
            _chosen.id = None

    setattr(module, generator, generate)
    setattr(backend, create, create_with_custom_id)


def install() -> None:
    _honour_custom_id(ec2_vpcs, "random_vpc_id", ec2_vpcs.VPCBackend, "create_vpc", lambda b: b.vpcs)
    _honour_custom_id(ec2_subnets, "random_subnet_id", ec2_subnets.SubnetBackend, "create_subnet",
                      lambda b: (s for zone in b.subnets.values() for s in zone))


def main() -> None:
    install()
    server.main()


if __name__ == "__main__":
    main()
