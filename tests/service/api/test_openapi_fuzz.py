"""Schemathesis over the app's own OpenAPI schema: no operation answers 5xx.

Every documented operation gets up to 25 generated requests (derandomised, so a run is
reproducible), sent with the admin token so that authentication passes and the handlers
themselves are exercised. The app reads a copy of the replayed sample state under its own
key prefix, so whatever the generated requests write (notes, acknowledgements, analyst
decisions, ingested events) never reaches the state other tests read.

``POST /v1/admin/retrain`` is left out: each accepted call starts a model fit in a thread
(``test_admin_api`` covers its validation and jobs).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from service.api.app import create_app
from tests.service.api.conftest import PREFIX, Populated, auth, service_settings

schemathesis = pytest.importorskip("schemathesis")
from hypothesis import HealthCheck, given, settings  # noqa: E402

pytestmark = pytest.mark.redis

FUZZ_PREFIX = "fz"


@pytest.fixture(scope="module")
def fuzz_state(populated: Populated) -> Iterator[str]:
    """A copy of the replayed state under :data:`FUZZ_PREFIX`; removed afterwards."""
    client = populated.client()
    for key in client.scan_iter(f"{FUZZ_PREFIX}:*", count=1000):
        client.delete(key)
    pipe = client.pipeline(transaction=False)
    for i, key in enumerate(client.scan_iter(f"{PREFIX}:*", count=1000)):
        pipe.copy(key, FUZZ_PREFIX.encode() + key[len(PREFIX) :])
        if i % 1000 == 999:
            pipe.execute()
    pipe.execute()
    yield FUZZ_PREFIX
    for key in client.scan_iter(f"{FUZZ_PREFIX}:*", count=1000):
        client.delete(key)
    client.close()


def _operations() -> list[tuple[str, str]]:
    """(method, path) of every documented operation (the schema needs no Redis)."""
    spec = create_app(service_settings("redis://127.0.0.1:1/0")).openapi()
    return [
        (method.upper(), path)
        for path, ops in spec["paths"].items()
        for method in ops
        if (method.upper(), path) not in EXCLUDED
    ]


EXCLUDED = {("POST", "/v1/admin/retrain")}


@pytest.fixture(scope="module")
def api_schema(populated: Populated, fuzz_state: str) -> Any:
    """The schema of an app on the copied state (schemathesis calls it in-process)."""
    app = create_app(service_settings(populated.server.url, prefix=fuzz_state))
    return schemathesis.openapi.from_asgi("/openapi.json", app)


# schemathesis' own pytest plugin (``from_fixture``) does not run under pytest 9, so each
# operation is a parametrised test running hypothesis over the operation's strategy
@pytest.mark.parametrize(("method", "path"), _operations(), ids=lambda v: str(v))
def test_no_server_errors(api_schema: Any, method: str, path: str) -> None:
    operation = api_schema[path][method]
    headers = auth("admin")

    @settings(
        max_examples=25,
        derandomize=True,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy())
    def run(case: Any) -> None:
        response = case.call(headers=headers)
        assert response.status_code < 500, (
            f"{case.method} {case.formatted_path} -> {response.status_code}: {response.text[:500]}"
        )

    run()
