"""aenv's thin seam over the kubernetes client: configured once, in-cluster or from the kubeconfig."""

from __future__ import annotations

import threading
from functools import lru_cache

from kubernetes import client, config

# Connections kept to the API server. The client's default (5 per core) is below the threads that call it at once
# (the workers, the watches, the environments' passes): every connection past it was closed after one request and
# the next one paid a new TLS handshake, which showed as rollout steps delayed under load.
POOL_SIZE = 64

_lock = threading.Lock()


@lru_cache(maxsize=1)
def api() -> client.ApiClient:
    with _lock:
        configuration = client.Configuration()
        try:
            config.load_incluster_config(client_configuration=configuration)  # type: ignore[no-untyped-call]
        except config.ConfigException:
            config.load_kube_config(client_configuration=configuration)  # type: ignore[no-untyped-call]
        configuration.connection_pool_maxsize = POOL_SIZE
        return client.ApiClient(configuration)


def core() -> client.CoreV1Api:
    return client.CoreV1Api(api())
