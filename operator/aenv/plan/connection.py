"""outputs -> the connection Secret's data: every endpoint and credential the workloads need. Pure."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

from ..api.spec import EnvironmentSpec
from ..naming import EnvironmentRef


def _env_key(*parts: str) -> str:
    return "_".join(re.sub(r"[^A-Za-z0-9]", "_", p).upper() for p in parts)


# On a workload's pod template: the versions (never the values) of the credentials its pods started with, so that
# a rotated credential rolls the workload and aenv can tell when no ready pod still holds the value before it.
CREDENTIALS_ANNOTATION = "aenv.dev/credentials"


def credential_versions(outputs: Mapping[str, Mapping[str, Any]]) -> dict[str, str]:
    """Secret key (`cache-auth`, `database`, `jwt`, `api-key/<name>`) -> the version the connection Secret holds."""
    versions = {key.removeprefix("secret/"): str(o["version"]) for key, o in sorted(outputs.items())
                if key.startswith("secret/") and o.get("version") and key != "secret/database-login"}
    if (login := outputs.get("database/login", {})).get("managed"):  # the login the Secret holds, set in PostgreSQL
        versions["database-login"] = str(login["version"])
    return versions


def credentials_stamp(versions: Mapping[str, str]) -> str:
    return ",".join(f"{k}={v}" for k, v in sorted(versions.items()))


def parse_credentials_stamp(stamp: str) -> dict[str, str]:
    return dict(part.split("=", 1) for part in stamp.split(",") if "=" in part)


def secret_name(env: EnvironmentRef) -> str:
    return env.object_name(suffix="-connection")


def connection_data(spec: EnvironmentSpec, outputs: Mapping[str, Mapping[str, Any]]) -> dict[str, str]:
    """Keys are environment-variable names, so a workload can mount the Secret with envFrom."""
    data: dict[str, str] = {"AWS_REGION": spec.aws.region}
    cache, auth = outputs.get("cache/replication-group"), outputs.get("secret/cache-auth", {})
    if cache:
        data |= {"CACHE_HOST": str(cache["endpoint"]), "CACHE_PORT": str(cache["port"])}
        if cache.get("reader_endpoint"):
            data["CACHE_READER_HOST"] = str(cache["reader_endpoint"])
        scheme = "rediss" if spec.cache and spec.cache.transit_encryption else "redis"
        token = str(auth["value"]) if "value" in auth else ""
        if token:
            data["CACHE_AUTH_TOKEN"] = token
        userinfo = f":{quote(token, safe='')}@" if token else ""
        data["CACHE_URL"] = f"{scheme}://{userinfo}{cache['endpoint']}:{cache['port']}"
    db, login = outputs.get("database/instance"), outputs.get("database/login", {})
    # The workloads' own login role once aenv has set it in the database (plan/logins.py), else the master user
    creds = login if login.get("managed") else outputs.get("secret/database", {})
    if db:
        data |= {"DATABASE_HOST": str(db["endpoint"]), "DATABASE_PORT": str(db["port"]),
                 "DATABASE_NAME": str(db["name"])}
        if "password" in creds:
            user, password = str(creds["username"]), str(creds["password"])
            data |= {"DATABASE_USER": user, "DATABASE_PASSWORD": password,
                     "DATABASE_URL": f"postgresql://{quote(user, safe='')}:{quote(password, safe='')}@"
                                     f"{db['endpoint']}:{db['port']}/{db['name']}?sslmode=require"}
    for q in spec.queues:
        if main := outputs.get(f"queue/{q.name}"):
            data[_env_key("QUEUE", q.name, "URL")] = str(main["url"])
            data[_env_key("QUEUE", q.name, "ARN")] = str(main["arn"])
        if dlq := outputs.get(f"queue/{q.name}/dead-letter"):
            data[_env_key("QUEUE", q.name, "DLQ_URL")] = str(dlq["url"])
    for t in spec.topics:
        if topic := outputs.get(f"topic/{t.name}"):
            data[_env_key("TOPIC", t.name, "ARN")] = str(topic["arn"])
    if stage := outputs.get("gateway/stage"):
        data["GATEWAY_URL"] = str(stage["url"])
    if jwt := outputs.get("secret/jwt"):
        data["JWT_SECRET"] = str(jwt["value"])
    if spec.secrets:
        for name in spec.secrets.api_keys:
            if key := outputs.get(f"secret/api-key/{name}"):
                data[_env_key("API_KEY", name)] = str(key["value"])
    return data
