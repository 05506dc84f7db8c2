"""Tokens, roles, rate limits, size limits and error bodies."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from service.api.app import create_app
from service.api.auth import Principal, RateLimiter, TokenTable
from service.settings import TokenSpec
from tests.service.api.conftest import auth, service_settings

pytestmark = pytest.mark.redis


def test_token_table_hashes_and_finds() -> None:
    import hashlib

    table = TokenTable(
        [
            TokenSpec(name="gw", role="gateway", token="s3cret"),
            TokenSpec(
                name="an", role="analyst", token="sha256:" + hashlib.sha256(b"other").hexdigest()
            ),
        ]
    )
    assert table.lookup("s3cret") == Principal("gw", "gateway")
    assert table.lookup("other") == Principal("an", "analyst")
    assert table.lookup("s3cre") is None and table.lookup("") is None


def test_rate_limiter_refills() -> None:
    lim = RateLimiter({"gateway": 1.0}, burst_s=2.0)
    p = Principal("gw", "gateway")
    assert lim.allow(p, now=0.0) == 0.0 and lim.allow(p, now=0.0) == 0.0
    assert lim.allow(p, now=0.0) > 0.0
    assert lim.allow(p, now=1.5) == 0.0


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("post", "/v1/score", {"account_id": "a"}),
        ("get", "/v1/check", None),
        ("post", "/v1/score/batch", {"items": [{"account_id": "a"}]}),
    ],
)
def test_gateway_routes_need_a_gateway_token(api: TestClient, method, path, body) -> None:
    kwargs = {"json": body} if body is not None else {}
    none = getattr(api, method)(path, **kwargs)
    assert none.status_code == 401 and none.headers["www-authenticate"].startswith("Bearer")
    wrong = getattr(api, method)(path, headers={"Authorization": "Bearer nope"}, **kwargs)
    assert wrong.status_code == 401 and wrong.json() == {"detail": "invalid API token"}
    analyst = getattr(api, method)(path, headers=auth("analyst"), **kwargs)
    assert analyst.status_code == 403
    admin = getattr(api, method)(
        path, headers={**auth("admin"), "x-distillwatch-account": "a"}, **kwargs
    )
    assert admin.status_code == 200


def test_public_routes(api: TestClient) -> None:
    assert api.get("/healthz").json() == {"status": "ok"}
    assert api.get("/openapi.json").status_code == 200
    assert api.get("/metrics").status_code == 200


def test_rate_limit_answers_429(redis_server, fresh_prefix) -> None:
    settings = service_settings(redis_server.url, fresh_prefix, rate_limit_gateway=1.0)
    with TestClient(create_app(settings)) as client:
        codes = [
            client.post("/v1/score", json={"account_id": "a"}, headers=auth("gateway")).status_code
            for _ in range(4)
        ]
        assert codes[:2] == [200, 200] and codes[-1] == 429
        r = client.post("/v1/score", json={"account_id": "a"}, headers=auth("gateway"))
        assert int(r.headers["retry-after"]) >= 1
        # another token is not affected
        assert (
            client.post("/v1/score", json={"account_id": "a"}, headers=auth("admin")).status_code
            == 200
        )


def test_body_limit_answers_413(redis_server, fresh_prefix) -> None:
    settings = service_settings(redis_server.url, fresh_prefix, max_body_bytes=200)
    with TestClient(create_app(settings)) as client:
        r = client.post(
            "/v1/score",
            json={"account_id": "a", "request": {"x": "y" * 500}},
            headers=auth("gateway"),
        )
        assert r.status_code == 413


def test_no_tokens_refuses_to_start(redis_server) -> None:
    settings = service_settings(redis_server.url, api_tokens=[])
    with pytest.raises(ValueError, match="no API tokens"):
        create_app(settings)


def test_cors_is_off_by_default(api: TestClient, redis_server, fresh_prefix) -> None:
    pre = api.options(
        "/v1/score",
        headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"},
    )
    assert "access-control-allow-origin" not in pre.headers
    settings = service_settings(
        redis_server.url, fresh_prefix, cors_origins=["https://console.example"]
    )
    with TestClient(create_app(settings)) as client:
        ok = client.options(
            "/v1/score",
            headers={
                "Origin": "https://console.example",
                "Access-Control-Request-Method": "POST",
            },
        )
        assert ok.headers["access-control-allow-origin"] == "https://console.example"


def test_internal_errors_hide_the_trace(redis_server, fresh_prefix) -> None:
    settings = service_settings(redis_server.url, fresh_prefix)
    app = create_app(settings)

    @app.get("/boom")
    def boom() -> None:
        raise RuntimeError("secret detail in a stack trace")

    with TestClient(app, raise_server_exceptions=False) as client:
        r = client.get("/boom")
        assert r.status_code == 500
        assert "secret" not in r.text and "Traceback" not in r.text
        assert set(r.json()) == {"detail", "reference"}
