"""Admin endpoints: rules reload reaches running scorers, retrain publishes a model."""

from __future__ import annotations

import shutil
import time

import pytest
from fastapi.testclient import TestClient

from detector.rules import default_rules_dir
from service.api.app import create_app
from service.redis_keys import Keys
from service.stream.scoring import Scorer
from tests.service.api.conftest import auth, replay, service_settings

pytestmark = pytest.mark.redis


def test_only_admins(api: TestClient) -> None:
    for role in ("gateway", "analyst"):
        assert api.post("/v1/admin/rules/reload", headers=auth(role)).status_code == 403
        assert api.post("/v1/admin/retrain", json={}, headers=auth(role)).status_code == 403


def test_rules_reload_reaches_a_running_scorer(redis_server, fresh_prefix, tmp_path) -> None:
    rules = tmp_path / "rules"
    shutil.copytree(default_rules_dir(), rules)
    settings = service_settings(
        redis_server.url, fresh_prefix, rules_dir=str(rules), model_poll_s=0.0
    )
    client = redis_server.client()
    scorer = Scorer(client, settings)
    before = len(scorer.rules.rules)
    victim = sorted(rules.glob("*.yml"))[0]
    victim.unlink()
    with TestClient(create_app(settings)) as api:
        r = api.post("/v1/admin/rules/reload", headers=auth("admin"))
        assert r.status_code == 200, r.text
        assert r.json()["rules"] == before - 1 and r.json()["by"] == "test-admin"
        scorer.poll_model(force=True)
        assert len(scorer.rules.rules) == before - 1
        # a broken rule file is refused and nothing is bumped
        (rules / "broken.yml").write_text("id: x\nnot: [valid\n")
        bad = api.post("/v1/admin/rules/reload", headers=auth("admin"))
        assert bad.status_code == 422 and "rules not reloaded" in bad.json()["detail"]
        assert client.get(Keys(fresh_prefix).rules_version) == b"1"


def test_retrain_publishes_a_model(redis_server, fresh_prefix) -> None:
    settings = service_settings(redis_server.url, fresh_prefix, model_key="admin-test-key")
    client = redis_server.client()
    replay(client, settings)
    with TestClient(create_app(settings)) as api:
        r = api.post("/v1/admin/retrain", json={"detector": "iforest"}, headers=auth("admin"))
        assert r.status_code == 202
        job = r.json()
        assert job["status"] == "running" and job["by"] == "test-admin"
        deadline = time.monotonic() + 60
        while True:
            state = api.get(f"/v1/admin/jobs/{job['job_id']}", headers=auth("admin")).json()
            if state["status"] != "running":
                break
            assert time.monotonic() < deadline
            time.sleep(0.2)
        assert state["status"] == "done", state
        current = client.get(Keys(fresh_prefix).model_current).decode()
        assert current == state["model_version"]
        assert api.get("/v1/admin/jobs/nope", headers=auth("admin")).status_code == 404
