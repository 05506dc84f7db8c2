"""Webhook sink: signature, payload, retries, a receiver that is down, non-retried 4xx."""

from __future__ import annotations

import time
from typing import Any

import orjson
import pytest

from service.sinks.webhook import (
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    WebhookSink,
    sign,
    verify_signature,
)
from tests.service.sinks.helpers import (
    KEYS,
    Receiver,
    RunnerThread,
    delivered_ids,
    fire,
    pending,
    resolve,
    sink_settings,
    wait_for,
)

pytestmark = pytest.mark.redis

SECRET = "s3cret-for-tests"


def _deadletters(client: Any) -> list[dict[str, Any]]:
    out = []
    for _id, fields in client.xrange(KEYS.sink_deadletter("webhook")):
        doc = {k.decode(): v.decode() for k, v in fields.items()}
        doc["ids"] = orjson.loads(doc["ids"])
        doc["entries"] = orjson.loads(doc["entries"])
        out.append(doc)
    return out


def test_sign_and_verify_roundtrip() -> None:
    body = b'{"version":"1","alerts":[]}'
    now = 1_700_000_000
    header = sign(SECRET, now, body)
    assert header.startswith("sha256=") and len(header) == 7 + 64
    assert verify_signature(SECRET, str(now), body, header, 300, now=now + 10)
    assert not verify_signature(SECRET, str(now), body + b" ", header, 300, now=now)
    assert not verify_signature("other", str(now), body, header, 300, now=now)
    assert not verify_signature(SECRET, str(now + 1), body, header, 300, now=now)
    assert not verify_signature(SECRET, str(now), body, header, 300, now=now + 301)  # too old
    assert verify_signature(SECRET, str(now), body, header, 0, now=now + 10_000)  # no window
    assert not verify_signature(SECRET, "abc", body, header, 300, now=now)
    assert not verify_signature(SECRET, None, body, header)
    assert not verify_signature(SECRET, str(now), body, None)


def test_unsigned_without_secret() -> None:
    sink = WebhookSink("http://127.0.0.1:9/hook", None)
    headers = sink.headers(b"{}")
    assert TIMESTAMP_HEADER in headers and SIGNATURE_HEADER not in headers


def test_delivers_signed_batches(redis_server: Any, rclient: Any) -> None:
    receiver = Receiver().start()
    settings = sink_settings(
        redis_server.url, webhook_url=receiver.url + "/hook", webhook_secret=SECRET
    )
    try:
        with RunnerThread(settings) as rt:
            fps = [fire(rclient, f"acct-{i}") for i in range(3)]
            resolve(rclient, "acct-0")
            wait_for(lambda: len(delivered_ids(receiver)) == 4)
            wait_for(lambda: pending(rclient, "sink-webhook") == 0)
            stats = rt.stop()
    finally:
        receiver.stop()
    assert stats["webhook"]["delivered"] == 4
    for req in receiver.ok():
        assert req.path == "/hook"
        assert req.headers["content-type"] == "application/json"
        ts, sig = req.headers[TIMESTAMP_HEADER.lower()], req.headers[SIGNATURE_HEADER.lower()]
        assert abs(int(ts) - time.time()) < 60
        assert verify_signature(SECRET, ts, req.body, sig, tolerance_s=300)
        tampered = req.body.replace(b"acct-", b"acct-X", 1)
        assert tampered != req.body
        assert not verify_signature(SECRET, ts, tampered, sig, tolerance_s=300)
    alerts = [a for r in receiver.ok() for a in r.json()["alerts"]]
    assert {r.json()["version"] for r in receiver.ok()} == {"1"}
    assert [a["status"] for a in alerts] == ["firing", "firing", "firing", "resolved"]
    assert [a["fingerprint"] for a in alerts] == [*fps, fps[0]]
    first = alerts[0]
    assert first["account_id"] == "acct-0" and first["severity"] == "critical"
    assert first["action"] == "block" and first["risk"] == pytest.approx(0.9)
    assert first["alert"]["labels"]["account_id"] == "acct-0"
    assert first["alert"]["fingerprint"] == fps[0]
    # the resolution carries the alert too (read from the alert's hash)
    assert alerts[3]["alert"]["labels"] == first["alert"]["labels"]
    ids = [a["id"] for a in alerts]
    assert ids == sorted(ids, key=lambda i: tuple(map(int, i.split("-"))))


def test_retries_after_500s_then_succeeds(redis_server: Any, rclient: Any) -> None:
    receiver = Receiver(statuses=[500, 503, 429]).start()
    settings = sink_settings(redis_server.url, webhook_url=receiver.url, webhook_secret=SECRET)
    try:
        with RunnerThread(settings) as rt:
            fp = fire(rclient, "acct-r")
            wait_for(lambda: len(receiver.ok()) == 1)
            wait_for(lambda: pending(rclient, "sink-webhook") == 0)
            stats = rt.stop()
    finally:
        receiver.stop()
    assert [r.status for r in receiver.all()] == [500, 503, 429, 200]
    bodies = {r.body for r in receiver.all()}
    assert len(bodies) == 1  # the same batch every time
    assert [a["fingerprint"] for a in receiver.ok()[0].json()["alerts"]] == [fp]
    assert stats["webhook"]["retried"] == 3 and stats["webhook"]["delivered"] == 1
    assert _deadletters(rclient) == []


def test_receiver_down_then_back(redis_server: Any, rclient: Any) -> None:
    receiver = Receiver()  # not listening yet
    settings = sink_settings(
        redis_server.url,
        webhook_url=receiver.url,
        webhook_secret=SECRET,
        sink_max_attempts=1_000,
        sink_backoff_s=0.02,
        sink_backoff_max_s=0.05,
    )
    try:
        with RunnerThread(settings) as rt:
            fps = [fire(rclient, f"acct-d{i}") for i in range(5)]
            wait_for(lambda: rt.runner.consumers[0].stats.retried >= 10)
            assert pending(rclient, "sink-webhook") >= 1  # held, not acknowledged
            receiver.start()
            wait_for(lambda: len(delivered_ids(receiver)) == 5)
            wait_for(lambda: pending(rclient, "sink-webhook") == 0)
            rt.stop()
    finally:
        receiver.stop()
    got = [a["fingerprint"] for r in receiver.ok() for a in r.json()["alerts"]]
    assert got == fps
    assert _deadletters(rclient) == []


@pytest.mark.parametrize("status", [400, 401, 404])
def test_4xx_not_retried_and_dead_lettered(redis_server: Any, rclient: Any, status: int) -> None:
    receiver = Receiver(statuses=[status]).start()
    settings = sink_settings(redis_server.url, webhook_url=receiver.url, webhook_secret=SECRET)
    try:
        with RunnerThread(settings) as rt:
            fp = fire(rclient, "acct-bad")
            wait_for(lambda: _deadletters(rclient))
            wait_for(lambda: pending(rclient, "sink-webhook") == 0)
            time.sleep(0.2)  # room for a (wrong) retry to show up
            fire(rclient, "acct-next")  # the sink goes on with the next alerts
            wait_for(lambda: len(receiver.ok()) == 1)
            stats = rt.stop()
    finally:
        receiver.stop()
    assert [r.status for r in receiver.all()] == [status, 200]
    (dead,) = _deadletters(rclient)
    assert dead["status"] == str(status) and dead["attempts"] == "1"
    assert dead["sink"] == "webhook" and dead["reason"] == f"HTTP {status}"
    assert [e["fingerprint"] for e in dead["entries"]] == [fp]
    assert stats["webhook"]["dead_lettered"] == 1 and stats["webhook"]["retried"] == 0


def test_400_batch_is_split_to_isolate_the_bad_alert(redis_server: Any, rclient: Any) -> None:
    # 400 for the batch of 3, then 200, 400, 200 for the alerts one by one
    receiver = Receiver(statuses=[400, 200, 400, 200])
    settings = sink_settings(redis_server.url, webhook_url=receiver.url, webhook_secret=SECRET)
    fps = [fire(rclient, f"acct-s{i}") for i in range(3)]  # on the stream before the sink
    receiver.start()
    try:
        with RunnerThread(settings) as rt:
            wait_for(lambda: len(receiver.all()) == 4)
            wait_for(lambda: pending(rclient, "sink-webhook") == 0)
            rt.stop()
    finally:
        receiver.stop()
    sizes = [len(r.json()["alerts"]) for r in receiver.all()]
    assert sizes == [3, 1, 1, 1]
    assert [a["fingerprint"] for a in receiver.ok()[0].json()["alerts"]] == [fps[0]]
    (dead,) = _deadletters(rclient)
    assert [e["fingerprint"] for e in dead["entries"]] == [fps[1]]


def test_gives_up_after_max_attempts(redis_server: Any, rclient: Any) -> None:
    receiver = Receiver(statuses=[503] * 10).start()
    settings = sink_settings(
        redis_server.url, webhook_url=receiver.url, webhook_secret=SECRET, sink_max_attempts=3
    )
    try:
        with RunnerThread(settings) as rt:
            fire(rclient, "acct-503")
            wait_for(lambda: _deadletters(rclient))
            wait_for(lambda: pending(rclient, "sink-webhook") == 0)
            rt.stop()
    finally:
        receiver.stop()
    assert [r.status for r in receiver.all()] == [503, 503, 503]
    (dead,) = _deadletters(rclient)
    assert dead["attempts"] == "3" and dead["status"] == "503"


def test_undecodable_entry_dead_lettered_others_delivered(redis_server: Any, rclient: Any) -> None:
    receiver = Receiver().start()
    settings = sink_settings(redis_server.url, webhook_url=receiver.url, webhook_secret=SECRET)
    rclient.xadd(KEYS.alerts, {"status": "firing", "account_id": "x"})  # no fingerprint
    rclient.xadd(KEYS.alerts, {"fingerprint": "f", "status": "firing", "alert": "{not json"})
    fp = fire(rclient, "acct-ok")
    try:
        with RunnerThread(settings) as rt:
            wait_for(lambda: len(delivered_ids(receiver)) == 1)
            wait_for(lambda: pending(rclient, "sink-webhook") == 0)
            rt.stop()
    finally:
        receiver.stop()
    assert receiver.ok()[0].json()["alerts"][0]["fingerprint"] == fp
    dead = _deadletters(rclient)
    assert len(dead) == 2 and all(d["reason"].startswith("undecodable") for d in dead)
