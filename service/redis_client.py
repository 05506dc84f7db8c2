"""Redis connections: one Redis or a Redis Cluster, chosen by the URL.

``DISTILLWATCH_REDIS_URL`` names a single server as usual (``redis://host:port/db``,
``rediss://``, ``unix://``). A Redis Cluster is named with the scheme
``redis+cluster://host:port`` (or ``rediss+cluster://`` for TLS): any one node; the client
discovers the others. Every process of a deployment must use the same partition count
(``DISTILLWATCH_PARTITIONS``; see :mod:`service.redis_keys`).
"""

from __future__ import annotations

from typing import Any

import redis
import redis.asyncio as aredis
from redis.asyncio.cluster import RedisCluster as AsyncRedisCluster
from redis.cluster import RedisCluster

__all__ = ["connect", "connect_async", "is_cluster", "is_cluster_url", "multi_key_pipeline"]

_CLUSTER_SCHEMES = {"redis+cluster": "redis", "rediss+cluster": "rediss"}


def _split(url: str) -> tuple[bool, str]:
    scheme, sep, rest = url.partition("://")
    if sep and scheme.lower() in _CLUSTER_SCHEMES:
        host = rest.split("/", 1)[0]  # a cluster has only database 0
        return True, f"{_CLUSTER_SCHEMES[scheme.lower()]}://{host}"
    return False, url


def is_cluster_url(url: str) -> bool:
    """True when ``url`` names a Redis Cluster (``redis+cluster://``)."""
    return _split(url)[0]


def connect(url: str, **kwargs: Any) -> Any:
    """A synchronous client: :class:`redis.Redis`, or :class:`redis.cluster.RedisCluster`
    for a ``redis+cluster://`` URL. ``kwargs`` go to ``from_url`` (timeouts, ...)."""
    cluster, plain = _split(url)
    if cluster:
        return RedisCluster.from_url(plain, **kwargs)
    return redis.Redis.from_url(plain, **kwargs)


def connect_async(url: str, **kwargs: Any) -> Any:
    """The asyncio counterpart of :func:`connect`."""
    cluster, plain = _split(url)
    if cluster:
        return AsyncRedisCluster.from_url(plain, **kwargs)
    return aredis.Redis.from_url(plain, **kwargs)


def is_cluster(client: Any) -> bool:
    """True for a cluster client (sync or asyncio)."""
    return isinstance(client, RedisCluster | AsyncRedisCluster)


def multi_key_pipeline(client: Any) -> Any:
    """A pipeline for updates that span keys of several partitions or global keys (an
    alert's hash, the alerts index, an account's pointer to it).

    On one Redis it is a MULTI/EXEC transaction. A Redis Cluster cannot run a transaction
    across slots: there the commands are pipelined without MULTI. Every such update is
    idempotent (rescoring writes the same values again), so a process dying half-way
    leaves state that the next scoring of the account completes.
    """
    return client.pipeline(transaction=not is_cluster(client))
