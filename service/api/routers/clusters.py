"""``/v1/clusters``: linked-account clusters found at the last population refresh."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query
from pydantic import BaseModel, Field

from detector.vocabulary import Action
from service.api.analyst_common import LIST_ERRORS, READ_ERRORS, store_errors
from service.api.deps import Reader, ServicesDep
from service.store import clusters as store

__all__ = ["router"]

router = APIRouter(prefix="/v1/clusters", tags=["clusters"])

ClusterId = Annotated[
    str,
    Path(min_length=1, max_length=128, pattern=r"^[^\x00-\x1f\x7f]+$", description="Cluster id."),
]


class ClusterSummary(BaseModel):
    """A cluster as listed."""

    cluster_id: str
    size: int
    risk: float
    action: str
    reason: str
    evidence: list[str]
    features: dict[str, float]
    first_ts: float | None = Field(description="First request of any member (epoch s).")
    last_ts: float | None
    as_of: float | None = Field(description="Event time of the refresh that found it.")
    members: list[str] = Field(description="First 20 members.")


class ClusterPage(BaseModel):
    """A page of clusters."""

    items: list[ClusterSummary]
    total: int
    offset: int
    limit: int


class Member(BaseModel):
    """A member with its current verdict."""

    account_id: str
    risk: float | None
    action: str | None
    n_events: int
    suppressed: bool
    known: bool = Field(description="Whether a stored verdict exists.")


class Edge(BaseModel):
    """A link between two members."""

    a: str
    b: str
    weight: float
    evidence: list[str]


class ClusterDetail(ClusterSummary):
    """One cluster with every member and link."""

    members: list[Member] = Field(description="Every member with its current verdict.")
    edges: list[Edge]
    volume: int = Field(description="Events of all members in the window.")


@router.get("", response_model=ClusterPage, summary="List clusters", responses=LIST_ERRORS)
def list_clusters(
    services: ServicesDep,
    _caller: Reader,
    sort: Annotated[Literal["risk", "size"], Query()] = "risk",
    order: Annotated[Literal["desc", "asc"], Query()] = "desc",
    action: Annotated[Action | None, Query()] = None,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> dict[str, Any]:
    """Clusters by risk or size."""
    with store_errors():
        return store.list_clusters(
            services.redis,
            services.keys,
            sort=sort,
            order=order,
            action=action,
            offset=offset,
            limit=limit,
        )


@router.get(
    "/{cluster_id}", response_model=ClusterDetail, summary="One cluster", responses=READ_ERRORS
)
def get_cluster(cluster_id: ClusterId, services: ServicesDep, _caller: Reader) -> dict[str, Any]:
    """Members with their current risk and action, links with evidence, combined volume."""
    with store_errors():
        return store.get_cluster(services.redis, services.keys, cluster_id)
