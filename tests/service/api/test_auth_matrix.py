"""Every operation of the OpenAPI document against every role: 401, 403 or let through."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

from service.api.app import create_app
from service.api.auth import ROLE_SCOPES
from tests.service.api.conftest import auth, service_settings

pytestmark = pytest.mark.redis

PUBLIC = {"/healthz", "/readyz", "/metrics"}
GATEWAY_PATHS = {"/v1/score", "/v1/score/batch", "/v1/check", "/beta/litellm_basic_guardrail_api"}
BODIES = {
    "/v1/score": {"account_id": "a"},
    "/v1/score/batch": {"items": [{"account_id": "a"}]},
    "/beta/litellm_basic_guardrail_api": {"texts": ["hi"], "request_data": {}},
    "/v1/alerts/acknowledge": {"fingerprints": ["0123456789abcdef"]},
    "/v1/admin/retrain": {},
}


def _scope(method: str, path: str) -> str:
    if path in GATEWAY_PATHS:
        return "score"
    if path == "/v1/events":
        return "events"
    if path.startswith("/v1/admin/"):
        return "admin"
    return "read" if method == "get" else "triage"


def _operations() -> list[tuple[str, str]]:
    spec = create_app(service_settings("redis://127.0.0.1:1/0")).openapi()
    ops = [
        (method, path)
        for path, item in spec["paths"].items()
        for method in item
        if path not in PUBLIC
    ]
    assert len(ops) >= 25
    return sorted(ops)


def _concrete(path: str) -> str:
    return re.sub(r"\{fingerprint\}", "0123456789abcdef", re.sub(r"\{(\w+)\}", r"x-\1", path))


@pytest.fixture(scope="module")
def client(redis_server):
    prefix = "authmatrix"
    with TestClient(create_app(service_settings(redis_server.url, prefix))) as c:
        yield c
    r = redis_server.client()
    for key in r.scan_iter(f"{prefix}:*"):
        r.delete(key)


@pytest.mark.parametrize(("method", "path"), _operations())
def test_every_operation_checks_token_and_role(client: TestClient, method, path) -> None:
    url = _concrete(path)
    kwargs = {"json": BODIES.get(path, {"note": "matrix"})} if method != "get" else {}
    extra = {"x-distillwatch-account": "a"}
    anonymous = client.request(method.upper(), url, headers=extra, **kwargs)
    assert anonymous.status_code == 401, (method, path, anonymous.text)
    scope = _scope(method, path)
    for role, scopes in ROLE_SCOPES.items():
        r = client.request(method.upper(), url, headers={**auth(role), **extra}, **kwargs)
        if scope in scopes:
            assert r.status_code not in (401, 403), (role, method, path, r.status_code, r.text)
            assert r.status_code < 500, (role, method, path, r.text)
        else:
            assert r.status_code == 403, (role, method, path, r.status_code, r.text)
