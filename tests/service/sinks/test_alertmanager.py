"""Alertmanager sink: postable alerts of the v2 API, resolutions, false positives, re-send."""

from __future__ import annotations

import time
from datetime import datetime
from typing import Any

import orjson
import pytest

from detector.alerts import fingerprint
from service.sinks.alertmanager import AlertmanagerSink, postable_alert
from tests.service.sinks.helpers import (
    KEYS,
    Receiver,
    RunnerThread,
    fire,
    make_alert,
    pending,
    resolve,
    sink_settings,
    wait_for,
)

pytestmark = pytest.mark.redis

POSTABLE_KEYS = {"labels", "annotations", "startsAt", "endsAt", "generatorURL"}


def _ts(text: str) -> float:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def _posted(receiver: Receiver) -> list[dict[str, Any]]:
    return [a for r in receiver.ok() for a in r.json()]


def _check_shape(item: dict[str, Any]) -> None:
    assert set(item) <= POSTABLE_KEYS and "labels" in item
    for group in ("labels", "annotations"):
        assert all(isinstance(k, str) and isinstance(v, str) for k, v in item[group].items())
    for name in ("startsAt", "endsAt"):
        if name in item:
            _ts(item[name])  # RFC 3339


def test_postable_alert_shape() -> None:
    alert = make_alert("acct-1")
    alert["annotations"]["nested"] = {"a": [1, 2]}  # any non-string value becomes JSON text
    at = 1_700_000_500.0
    firing = postable_alert(alert, "firing", at=at, horizon_s=240.0)
    assert firing is not None
    _check_shape(firing)
    assert firing["labels"] == alert["labels"]
    assert (
        orjson.loads(firing["annotations"]["evidence"])["percentiles"]["prompt_dup_rate"] == 0.999
    )
    assert orjson.loads(firing["annotations"]["nested"]) == {"a": [1, 2]}
    assert firing["startsAt"] == alert["startsAt"]
    assert _ts(firing["endsAt"]) == pytest.approx(at + 240.0)
    assert firing["generatorURL"].endswith("/ui/accounts/acct-1")
    assert "fingerprint" not in firing
    no_horizon = postable_alert(alert, "firing", at=at, horizon_s=None)
    assert no_horizon is not None and "endsAt" not in no_horizon
    resolved = postable_alert(alert, "resolved", at=at, horizon_s=240.0)
    assert resolved is not None and _ts(resolved["endsAt"]) == pytest.approx(at)
    fp = postable_alert(alert, "false_positive", at=at, horizon_s=240.0)
    assert fp is not None and fp["annotations"]["resolution"] == "false_positive"
    # never an endsAt before startsAt (Alertmanager refuses those)
    early = postable_alert(alert, "resolved", at=1_600_000_000.0, horizon_s=None)
    assert early is not None and early["endsAt"] == early["startsAt"]
    bare = dict(alert, generatorURL="")
    assert "generatorURL" not in (postable_alert(bare, "firing", at=at, horizon_s=None) or {})
    assert postable_alert({"annotations": {}}, "firing", at=at, horizon_s=None) is None


def test_url_accepts_base_or_full_path() -> None:
    assert AlertmanagerSink("http://am:9093/").url == "http://am:9093/api/v2/alerts"
    assert AlertmanagerSink("http://am:9093/api/v2/alerts").url == "http://am:9093/api/v2/alerts"


def test_posts_firing_and_resolved(redis_server: Any, rclient: Any) -> None:
    receiver = Receiver().start()
    settings = sink_settings(redis_server.url, alertmanager_url=receiver.url)
    try:
        with RunnerThread(settings) as rt:
            fps = [fire(rclient, f"acct-{i}") for i in range(2)]
            before = time.time()
            resolve(rclient, "acct-0")
            wait_for(lambda: len(_posted(receiver)) == 3)
            wait_for(lambda: pending(rclient, "sink-alertmanager") == 0)
            rt.stop()
    finally:
        receiver.stop()
    assert {r.path for r in receiver.ok()} == {"/api/v2/alerts"}
    assert {r.headers["content-type"] for r in receiver.ok()} == {"application/json"}
    items = _posted(receiver)
    for item in items:
        _check_shape(item)
    assert [fingerprint(i["labels"]) for i in items] == [fps[0], fps[1], fps[0]]
    firing, resolved = items[0], items[2]
    assert firing["labels"]["severity"] == "critical"
    assert firing["annotations"]["recommended_action"] == "block"
    assert _ts(firing["endsAt"]) > time.time() + 60  # kept alive by re-sends (4 x 60 s)
    assert before - 1 <= _ts(resolved["endsAt"]) <= time.time() + 1
    assert resolved["labels"] == firing["labels"]


def test_false_positive_resolves_and_unknown_status_skipped(
    redis_server: Any, rclient: Any
) -> None:
    receiver = Receiver().start()
    settings = sink_settings(redis_server.url, alertmanager_url=receiver.url)
    fp = fire(rclient, "acct-fp")
    rclient.xadd(
        KEYS.alerts, {"fingerprint": fp, "status": "acknowledged", "account_id": "acct-fp"}
    )
    rclient.xadd(
        KEYS.alerts, {"fingerprint": fp, "status": "false_positive", "account_id": "acct-fp"}
    )
    try:
        with RunnerThread(settings) as rt:
            wait_for(lambda: len(_posted(receiver)) == 2)
            wait_for(lambda: pending(rclient, "sink-alertmanager") == 0)
            stats = rt.stop()
    finally:
        receiver.stop()
    first, last = _posted(receiver)
    assert (
        fingerprint(last["labels"]) == fp and last["annotations"]["resolution"] == "false_positive"
    )
    assert _ts(last["endsAt"]) <= time.time() + 1 < _ts(first["endsAt"])
    assert stats["alertmanager"]["skipped"] == 1  # the acknowledgement means nothing to AM


def test_resends_open_alerts(redis_server: Any, rclient: Any) -> None:
    receiver = Receiver().start()
    settings = sink_settings(redis_server.url, alertmanager_url=receiver.url)
    sink = AlertmanagerSink(receiver.url, 2.0, resend_s=0.3)
    try:
        with RunnerThread(settings, sinks=[sink]) as rt:
            open_fp = fire(rclient, "acct-open")
            fire(rclient, "acct-closed")
            resolve(rclient, "acct-closed")
            wait_for(lambda: len(_posted(receiver)) >= 3 + 2, timeout=5)  # two re-sends
            rt.stop()
    finally:
        receiver.stop()
    resent = _posted(receiver)[3:]
    assert {fingerprint(i["labels"]) for i in resent} == {open_fp}
    assert all(_ts(i["endsAt"]) == pytest.approx(time.time() + 1.2, abs=1.0) for i in resent)
