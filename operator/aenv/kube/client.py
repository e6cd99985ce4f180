"""aenv's thin seam over the kubernetes client: configured once, in-cluster or from the kubeconfig."""

from __future__ import annotations

import threading
from functools import lru_cache

from kubernetes import client, config

_lock = threading.Lock()


@lru_cache(maxsize=1)
def api() -> client.ApiClient:
    with _lock:
        try:
            config.load_incluster_config()  # type: ignore[no-untyped-call]
            return client.ApiClient()
        except config.ConfigException:
            made: client.ApiClient = config.new_client_from_config()  # type: ignore[no-untyped-call]
            return made


def core() -> client.CoreV1Api:
    return client.CoreV1Api(api())
