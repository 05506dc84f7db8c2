"""Fixtures for the HTTP service tests: a real Redis filled by replaying the sample logs.

``populated`` replays ``sample_logs/openai-2d.jsonl.gz`` once per session through the real
ingest, worker and scorer into its own key prefix; ``api`` is a TestClient on an app
with one token per role, pointing at that state. Tests that change alerts pick their own
alerts (or use ``fresh_prefix``) so they never depend on each other's order.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from service.api.app import create_app
from service.settings import ServiceSettings, TokenSpec, get_service_settings
from service.stream.ingest import Ingestor
from service.stream.layout import active_accounts
from service.stream.scoring import Scorer
from service.stream.worker import Worker
from tests.service.conftest import RedisServer

SAMPLE = Path(__file__).resolve().parents[3] / "sample_logs" / "openai-2d.jsonl.gz"
PREFIX = "api"

TOKENS = {
    "gateway": "gw-test-token-0001",
    "analyst": "an-test-token-0001",
    "admin": "ad-test-token-0001",
}


def auth(role: str) -> dict[str, str]:
    """Authorization header of the test token of ``role``."""
    return {"Authorization": f"Bearer {TOKENS[role]}"}


def service_settings(url: str, prefix: str = PREFIX, **overrides: Any) -> ServiceSettings:
    """Settings for an app on the test Redis with one token per role."""
    tokens = [TokenSpec(name=f"test-{r}", role=r, token=t) for r, t in TOKENS.items()]  # type: ignore[arg-type]
    base: dict[str, Any] = {
        "redis_url": url,
        "key_prefix": prefix,
        "api_tokens": tokens,
        "rate_limit_analyst": 10_000.0,
        "rate_limit_admin": 10_000.0,
        "score_debounce_s": 0.0,
        "population_refresh_s": 0.0,
        "min_events": 5,
        # a loaded CI machine must not turn answers into fail-open ones; the fail-mode
        # tests set their own budgets
        "redis_timeout_s": 0.5,
    }
    base.update(overrides)
    return get_service_settings(**base)


def replay(client: Any, settings: ServiceSettings, path: Path = SAMPLE) -> Scorer:
    """Ingest ``path``, fold it with a worker and score every account (blocking)."""
    Ingestor(client, settings).ingest_files([str(path)])
    scorer = Scorer(client, settings)
    Worker(client, settings, scorer=scorer).run(exit_when_idle=0.3)
    scorer.refresh_population(force=True)
    accounts = sorted(active_accounts(client, scorer.keys))
    for start in range(0, len(accounts), 500):
        scorer.score(accounts[start : start + 500])
    return scorer


@dataclass
class Populated:
    """The replayed state: its Redis, settings and scorer."""

    server: RedisServer
    settings: ServiceSettings
    scorer: Scorer

    def client(self) -> Any:
        return self.server.client()


def populate(server: RedisServer, prefix: str = PREFIX) -> Populated:
    """Empty key prefix ``prefix`` of ``server`` and replay the sample logs into it."""
    settings = service_settings(server.url, prefix=prefix)
    client = server.client()
    for key in client.scan_iter(f"{prefix}:*"):
        client.delete(key)
    scorer = replay(client, settings)
    client.close()
    return Populated(server, settings, scorer)


@pytest.fixture(scope="session")
def populated(redis_server: RedisServer) -> Populated:
    """The sample logs replayed into prefix ``api`` of the session's Redis (once)."""
    return populate(redis_server)


@pytest.fixture
def api(populated: Populated) -> Iterator[TestClient]:
    """A TestClient on an app reading the replayed state."""
    with TestClient(create_app(populated.settings)) as client:
        yield client


@pytest.fixture
def fresh_prefix(redis_server: RedisServer, request: pytest.FixtureRequest) -> Iterator[str]:
    """An empty key prefix of its own for a test that writes state; removed afterwards."""
    prefix = "t" + str(abs(hash(request.node.nodeid)) % 10**8)
    client = redis_server.client()
    yield prefix
    for key in client.scan_iter(f"{prefix}:*"):
        client.delete(key)
    client.close()
