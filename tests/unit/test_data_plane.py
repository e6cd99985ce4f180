"""The pure rules of the local data plane (aenv.local.dataplane, aenv.local.dataplane_backend)."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest

from aenv.local.dataplane import (
    ADMIN_USER,
    DataPlaneError,
    Tls,
    default_user_rules,
    postgres_bin,
    postgres_settings,
    redis_config,
)
from aenv.local.dataplane_backend import enabled, point_group_at, rotated

TLS = Tls(Path("/dp/ca.crt"), Path("/dp/server.crt"), Path("/dp/server.key"))


@pytest.mark.parametrize(("tokens", "token", "strategy", "after"), [
    ((), "a", None, ("a",)),  # the token alone: ROTATE
    (("a",), "b", "ROTATE", ("a", "b")),
    (("a", "b"), "c", "ROTATE", ("b", "c")),  # at most two: the oldest goes
    (("a", "b"), "b", "rotate", ("a", "b")),
    (("a", "b"), "c", "SET", ("c",)),
    (("a", "b"), None, "DELETE", ()),
])
def test_auth_token_update_strategies(tokens: tuple[str, ...], token: str | None, strategy: str | None,
                                      after: tuple[str, ...]) -> None:
    assert rotated(tokens, token, strategy) == after


@pytest.mark.parametrize(("token", "strategy"), [(None, "ROTATE"), (None, "SET"), ("a", "DELETE"), ("a", "SWAP")])
def test_auth_token_update_refusals(token: str | None, strategy: str) -> None:
    with pytest.raises(ValueError, match=strategy):
        rotated(("x",), token, strategy)


def test_default_user_takes_every_token_or_no_password() -> None:
    assert default_user_rules(["t1", "t2"]) == ["reset", "on", ">t1", ">t2", "~*", "&*", "+@all"]
    assert default_user_rules([]) == ["reset", "on", "nopass", "~*", "&*", "+@all"]


def test_redis_config_plain_and_tls() -> None:
    plain = redis_config(7001, Path("/dp/r"), "adminpw", None).splitlines()
    assert {"bind 127.0.0.1", "port 7001", "dir /dp/r", "user default off",
            f"user {ADMIN_USER} on >adminpw ~* &* +@all"} <= set(plain)
    assert not any(line.startswith("tls-") for line in plain)
    tls = redis_config(7001, Path("/dp/r"), "adminpw", TLS).splitlines()
    assert {"port 0", "tls-port 7001", "tls-cert-file /dp/server.crt", "tls-ca-cert-file /dp/ca.crt",
            "tls-auth-clients no"} <= set(tls)


def test_postgres_listens_on_loopback_over_tls_without_a_socket() -> None:
    settings = postgres_settings(6543, TLS)
    assert settings["listen_addresses"] == "127.0.0.1" and settings["port"] == "6543"
    assert settings["unix_socket_directories"] == "" and settings["ssl"] == "on"
    assert settings["ssl_key_file"] == "/dp/server.key"


def test_postgres_bin_is_the_newest_installed(tmp_path: Path) -> None:
    for version in ("13", "15", "9", "doc"):
        (tmp_path / version / "bin").mkdir(parents=True)
    for version in ("13", "15", "9"):
        (tmp_path / version / "bin" / "postgres").touch()
    assert postgres_bin(tmp_path) == tmp_path / "15" / "bin"
    with pytest.raises(DataPlaneError, match="make setup"):
        postgres_bin(tmp_path / "absent")


@pytest.mark.parametrize(("value", "on"), [("", False), ("0", False), ("off", False), ("1", True), ("true", True)])
def test_enabled(value: str, on: bool) -> None:
    assert enabled({"AENV_EMULATOR_DATA_PLANE": value}) is on


def test_enabled_refuses_other_values() -> None:
    with pytest.raises(ValueError, match="AENV_EMULATOR_DATA_PLANE"):
        enabled({"AENV_EMULATOR_DATA_PLANE": "maybe"})


def test_every_endpoint_of_a_group_leads_to_the_server() -> None:
    member = {"cache_cluster_id": "g-001", "read_endpoint": {"address": "g-001.x.cache.amazonaws.com", "port": 6379}}
    node_group = {"port": 6379, "primary_endpoint": {"address": "master.x", "port": 6379},
                  "primary_endpoint_address": "master.x", "reader_endpoint_address": "replica.x",
                  "node_group_members": [member]}
    group = SimpleNamespace(port=6379, node_groups=[node_group])
    point_group_at(group, 7002)
    assert group.port == 7002 and node_group["port"] == 7002
    assert node_group["primary_endpoint"] == member["read_endpoint"] == {"address": "127.0.0.1", "port": 7002}
    assert node_group["primary_endpoint_address"] == node_group["reader_endpoint_address"] == "127.0.0.1"
