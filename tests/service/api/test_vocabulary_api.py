"""``GET /v1/vocabulary``: what the dashboard shades its risk charts with."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from detector.vocabulary import vocabulary
from tests.service.api.conftest import auth

pytestmark = pytest.mark.redis


def test_vocabulary_for_readers(api: TestClient) -> None:
    r = api.get("/v1/vocabulary", headers=auth("analyst"))
    assert r.status_code == 200
    assert r.json() == vocabulary()
    assert [b["name"] for b in r.json()["risk_bands"]] == ["review", "block"]


def test_vocabulary_needs_a_reader(api: TestClient) -> None:
    assert api.get("/v1/vocabulary").status_code == 401
    assert api.get("/v1/vocabulary", headers=auth("gateway")).status_code == 403
