"""The Alertmanager sink against a real Alertmanager (Debian's ``prometheus-alertmanager``).

Alerts go the way the worker writes them (the alert store puts lifecycle entries on the
alerts stream of a real redis-server), the real sink runner delivers them, and the tests
read Alertmanager's own API and notifications: alerts appear with their labels and
annotations, are deduplicated by label fingerprint, resolve, and can be silenced.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson
import pytest

from detector.alerts import ALERTNAME_ACCOUNT, ALERTNAME_CLUSTER, account_alert, fingerprint
from service.sinks.alertmanager import AlertmanagerSink
from service.stream.alert_store import sync_account_alert
from tests.service.sinks.alertmanager_proc import AlertmanagerProcess, alertmanager_binary
from tests.service.sinks.helpers import (
    KEYS,
    Receiver,
    RunnerThread,
    pending,
    resolve,
    sink_settings,
    wait_for,
)

pytestmark = [
    pytest.mark.redis,
    pytest.mark.skipif(
        alertmanager_binary() is None,
        reason="prometheus-alertmanager is not installed (Debian package prometheus-alertmanager)",
    ),
]

#: Alertmanager groups for 1 s before notifying; every wait allows for several rounds
WAIT_S = 15.0


def _ts(text: str) -> float:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


@pytest.fixture
def notifications() -> Iterator[Receiver]:
    """A webhook receiver on loopback for Alertmanager's notifications."""
    receiver = Receiver().start()
    yield receiver
    receiver.stop()


@pytest.fixture
def am(tmp_path: Path, notifications: Receiver) -> Iterator[AlertmanagerProcess]:
    """A real Alertmanager on a free loopback port, notifying ``notifications``."""
    proc = AlertmanagerProcess(tmp_path / "am", webhook_url=notifications.url + "/am")
    proc.workdir.mkdir()
    try:
        proc.start()
        yield proc
    finally:
        proc.stop()


def _account_alert(account: str, *, cluster_id: str | None = None) -> dict[str, Any]:
    return account_alert(
        account,
        risk=0.93,
        action="block",
        reasons=["many near-duplicate prompts", "burst of requests"],
        rule_ids=["harvest_burst", "template_sweep"],
        evidence={"prompt_dup_rate": 0.93, "percentiles": {"prompt_dup_rate": 0.999}},
        starts_at=time.time() - 600,
        cluster_id=cluster_id,
        generator_url=f"http://127.0.0.1:8000/ui/accounts/{account}",
    )


def _fire(client: Any, alert: dict[str, Any]) -> str:
    """Fire an account alert through the alert store, as the worker's scorer does."""
    account = alert["labels"]["account_id"]
    outcome = sync_account_alert(
        client, KEYS, account, alert, as_of=time.time(), maxlen=100_000, ttl=3_600
    )
    assert outcome == "fired"
    return str(alert["fingerprint"])


def _cluster_entry(client: Any, cluster_id: str) -> tuple[str, dict[str, Any]]:
    """A cluster alert (``DistillationCampaignSuspected``) on the alerts stream."""
    labels = {"alertname": ALERTNAME_CLUSTER, "cluster_id": cluster_id, "severity": "warning"}
    alert = {
        "labels": labels,
        "annotations": {
            "summary": f"Coordinated cluster {cluster_id} of 3 accounts",
            "members": "acct-c1, acct-c2, acct-c3",
            "member_count": "3",
            "runbook": "see docs/runbook.md",
        },
        "startsAt": "2024-06-10T05:40:00.000Z",
        "endsAt": "0001-01-01T00:00:00Z",
        "generatorURL": "",
        "fingerprint": fingerprint(labels),
    }
    client.xadd(
        KEYS.alerts,
        {
            "fingerprint": alert["fingerprint"],
            "status": "firing",
            "account_id": "",
            "severity": "warning",
            "action": "throttle",
            "risk": "0.700",
            "alert": orjson.dumps(alert).decode(),
        },
    )
    return str(alert["fingerprint"]), alert


def _notified(receiver: Receiver, status: str) -> set[str]:
    """Fingerprints Alertmanager notified with ``status`` (``firing`` or ``resolved``)."""
    return {
        a["fingerprint"] for r in receiver.ok() for a in r.json()["alerts"] if a["status"] == status
    }


def test_alertmanager_version(am: AlertmanagerProcess) -> None:
    assert am.version().startswith("alertmanager, version 0.")
    status = am.request("GET", "/api/v2/status")
    assert status["cluster"]["status"] == "disabled"  # no gossip: --cluster.listen-address=


def test_alerts_appear_then_resolve(
    am: AlertmanagerProcess, notifications: Receiver, redis_server: Any, rclient: Any
) -> None:
    settings = sink_settings(redis_server.url, alertmanager_url=am.url)
    a_alert = _account_alert("acct-a", cluster_id="cl-7")
    b_alert = _account_alert("acct-b")
    with RunnerThread(settings) as rt:
        fp_a, fp_b = _fire(rclient, a_alert), _fire(rclient, b_alert)
        fp_c, c_alert = _cluster_entry(rclient, "cl-7")
        listed = wait_for(lambda: (s := am.by_fingerprint()) and len(s) == 3 and s, WAIT_S)
        # Alertmanager fingerprints the labels as distillwatch does
        assert set(listed) == {fp_a, fp_b, fp_c}
        for fp, alert in ((fp_a, a_alert), (fp_b, b_alert), (fp_c, c_alert)):
            got = listed[fp]
            assert got["labels"] == alert["labels"]
            assert got["annotations"] == alert["annotations"]
            assert got["startsAt"] == alert["startsAt"]
            assert got["status"]["state"] == "active"
            assert [r["name"] for r in got["receivers"]] == ["tests"]
            assert _ts(got["endsAt"]) > time.time() + 60  # kept alive by the re-send
            assert any(k.startswith("runbook") for k in got["annotations"])
        a = listed[fp_a]
        assert a["labels"]["alertname"] == ALERTNAME_ACCOUNT
        assert a["labels"]["account_id"] == "acct-a" and a["labels"]["severity"] == "critical"
        assert a["annotations"]["cluster_id"] == "cl-7"
        assert a["annotations"]["recommended_action"] == "block"
        assert orjson.loads(a["annotations"]["evidence"])["prompt_dup_rate"] == 0.93
        assert a["generatorURL"] == "http://127.0.0.1:8000/ui/accounts/acct-a"
        assert listed[fp_c]["labels"]["cluster_id"] == "cl-7"
        assert listed[fp_c]["labels"]["alertname"] == ALERTNAME_CLUSTER
        # Alertmanager routed them: one firing notification each
        wait_for(lambda: _notified(notifications, "firing") == {fp_a, fp_b, fp_c}, WAIT_S)

        # a resolution and an analyst's false-positive mark end them in Alertmanager
        resolve(rclient, "acct-a")
        rclient.xadd(
            KEYS.alerts, {"fingerprint": fp_b, "status": "false_positive", "account_id": "acct-b"}
        )
        wait_for(lambda: set(am.by_fingerprint()) == {fp_c}, WAIT_S)
        wait_for(lambda: pending(rclient, "sink-alertmanager") == 0)
        resolved = wait_for(
            lambda: (n := _notified(notifications, "resolved")) >= {fp_a, fp_b} and n, WAIT_S
        )
        stats = rt.stop()
    assert resolved == {fp_a, fp_b}  # the cluster alert is still firing
    # resolved alerts are not listed at all any more, even with every filter off
    assert set(am.by_fingerprint(active=True, silenced=True, inhibited=True)) == {fp_c}
    assert set(am.by_fingerprint(active=False)) == set()
    resolved_docs = {
        a["fingerprint"]: a
        for r in notifications.ok()
        for a in r.json()["alerts"]
        if a["status"] == "resolved"
    }
    for fp in (fp_a, fp_b):
        assert _ts(resolved_docs[fp]["endsAt"]) <= time.time()
    assert resolved_docs[fp_b]["annotations"]["resolution"] == "false_positive"
    assert stats["alertmanager"]["delivered"] == 5 and stats["alertmanager"]["dead_lettered"] == 0


def test_same_alert_posted_again_is_one_alert(
    am: AlertmanagerProcess, notifications: Receiver, redis_server: Any, rclient: Any
) -> None:
    settings = sink_settings(redis_server.url, alertmanager_url=am.url)
    sink = AlertmanagerSink(am.url, 3.0, resend_s=0.3)  # re-posts open alerts every 0.3 s
    alert = _account_alert("acct-dup")
    with RunnerThread(settings, sinks=[sink]) as rt:
        fp = _fire(rclient, alert)
        first = wait_for(lambda: am.by_fingerprint().get(fp), WAIT_S)
        # the same entry once more on the stream (as a redelivery after a crash would)
        ((_id, fields),) = rclient.xrange(KEYS.alerts)
        rclient.xadd(KEYS.alerts, fields)
        wait_for(lambda: rt.runner.consumers[0].stats.delivered == 2, WAIT_S)
        # and the re-send posts it again: Alertmanager updates the one alert it has
        later = wait_for(
            lambda: (
                (a := am.by_fingerprint().get(fp))
                and _ts(a["updatedAt"]) > _ts(first["updatedAt"])
                and a
            ),
            WAIT_S,
        )
        wait_for(lambda: _notified(notifications, "firing") == {fp}, WAIT_S)
        time.sleep(1.5)  # more than a group interval: room for a (wrong) second notification
        listed = am.alerts()
        rt.stop()
    assert [a["fingerprint"] for a in listed] == [fp]
    assert listed[0]["labels"] == alert["labels"]
    assert later["startsAt"] == first["startsAt"] == alert["startsAt"]
    assert _ts(listed[0]["endsAt"]) > _ts(first["endsAt"])  # pushed forward by the re-sends
    firing = [a for r in notifications.ok() for a in r.json()["alerts"] if a["status"] == "firing"]
    assert [a["fingerprint"] for a in firing] == [fp]  # notified once


def test_silence_suppresses_the_alert(
    am: AlertmanagerProcess, redis_server: Any, rclient: Any
) -> None:
    settings = sink_settings(redis_server.url, alertmanager_url=am.url)
    with RunnerThread(settings) as rt:
        fp_s = _fire(rclient, _account_alert("acct-silenced"))
        fp_o = _fire(rclient, _account_alert("acct-other"))
        wait_for(lambda: set(am.by_fingerprint()) == {fp_s, fp_o}, WAIT_S)
        silence_id = am.silence({"account_id": "acct-silenced"})
        listed = wait_for(
            lambda: (s := am.by_fingerprint()) and s[fp_s]["status"]["state"] == "suppressed" and s,
            WAIT_S,
        )
        rt.stop()
    assert listed[fp_s]["status"]["silencedBy"] == [silence_id]
    assert (
        listed[fp_o]["status"]["state"] == "active" and listed[fp_o]["status"]["silencedBy"] == []
    )
    assert set(am.by_fingerprint(silenced=False)) == {fp_o}
    silences = am.request("GET", "/api/v2/silences")
    assert [(s["id"], s["status"]["state"]) for s in silences] == [(silence_id, "active")]
