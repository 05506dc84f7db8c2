"""Webhook sink: signatures (own and Standard Webhooks, checked with the reference
library), payload, retries, a receiver that is down, non-retried 4xx."""

from __future__ import annotations

import base64
import time
from datetime import UTC, datetime
from typing import Any

import orjson
import pytest

from service.sinks.webhook import (
    SIGNATURE_HEADER,
    STANDARD_ID_HEADER,
    STANDARD_SIGNATURE_HEADER,
    STANDARD_TIMESTAMP_HEADER,
    TIMESTAMP_HEADER,
    WebhookSink,
    message_id,
    sign,
    standard_key,
    standard_secret,
    standard_sign,
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

standardwebhooks = pytest.importorskip(
    "standardwebhooks", reason="the Standard Webhooks reference verifier (dev extra)"
)
Webhook = standardwebhooks.Webhook
WebhookVerificationError = standardwebhooks.WebhookVerificationError

SECRET = "s3cret-for-tests"
#: a secret in the Standard Webhooks format (``whsec_`` + base64 of a 24-byte key)
WHSEC = "whsec_" + base64.b64encode(bytes(range(1, 25))).decode()


def _verify_standard(secret: str, req: Any) -> Any:
    """Verify a received request with the reference library (raises when it refuses)."""
    return Webhook(standard_secret(secret)).verify(req.body, req.headers)


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
    assert headers[STANDARD_ID_HEADER].startswith("msg_")
    assert headers[STANDARD_TIMESTAMP_HEADER] == headers[TIMESTAMP_HEADER]
    assert STANDARD_SIGNATURE_HEADER not in headers


def test_standard_signature_matches_the_reference_library() -> None:
    body = b'{"version":"1","alerts":[]}'
    ts = 1_700_000_000
    when = datetime.fromtimestamp(ts, tz=UTC)
    for secret in (SECRET, WHSEC):
        ours = standard_sign(secret, "msg_abc", ts, body)
        assert ours == Webhook(standard_secret(secret)).sign("msg_abc", when, body)
        assert ours.startswith("v1,") and len(base64.b64decode(ours[3:])) == 32
    # a plain secret is the key itself; a whsec_ secret is base64 of the key
    assert standard_key(SECRET) == SECRET.encode()
    assert standard_key(WHSEC) == bytes(range(1, 25))
    assert standard_secret(WHSEC) == WHSEC
    assert standard_secret(SECRET) == "whsec_" + base64.b64encode(SECRET.encode()).decode()
    assert standard_key(WHSEC.rstrip("=")) == bytes(range(1, 25))  # padding optional
    # another key, id, timestamp or body: another signature
    assert standard_sign(SECRET, "msg_abd", ts, body) != standard_sign(SECRET, "msg_abc", ts, body)
    assert standard_sign(SECRET, "msg_abc", ts + 1, body) != standard_sign(
        SECRET, "msg_abc", ts, body
    )
    assert standard_sign("other", "msg_abc", ts, body) != standard_sign(SECRET, "msg_abc", ts, body)
    with pytest.raises(ValueError, match="not base64"):
        WebhookSink("http://127.0.0.1:9/hook", "whsec_not*base64!")
    with pytest.raises(ValueError, match="empty"):
        standard_key("whsec_")


def test_message_id_is_stable_per_batch() -> None:
    ids = ["1700000000000-0", "1700000000001-0", "1700000000002-0"]
    assert message_id(ids) == message_id(list(ids))
    assert message_id(ids).startswith("msg_") and len(message_id(ids)) == 4 + 32
    assert message_id(ids[:1]) != message_id(ids) != message_id(ids[1:])
    assert message_id(ids[:2]) != message_id(ids[1:])


@pytest.mark.parametrize("secret", [SECRET, WHSEC], ids=["plain", "whsec"])
def test_standard_webhooks_verified_by_reference_library(
    redis_server: Any, rclient: Any, secret: str
) -> None:
    receiver = Receiver().start()
    settings = sink_settings(
        redis_server.url, webhook_url=receiver.url + "/hook", webhook_secret=secret
    )
    try:
        with RunnerThread(settings) as rt:
            fps = [fire(rclient, f"acct-w{i}") for i in range(2)]
            resolve(rclient, "acct-w0")
            wait_for(lambda: len(delivered_ids(receiver)) == 3)
            wait_for(lambda: pending(rclient, "sink-webhook") == 0)
            rt.stop()
    finally:
        receiver.stop()
    reqs = receiver.ok()
    assert reqs
    seen_ids = set()
    for req in reqs:
        h = req.headers
        doc = _verify_standard(secret, req)  # the reference verifier accepts it
        assert doc == req.json()
        assert h[STANDARD_SIGNATURE_HEADER].startswith("v1,")
        assert h[STANDARD_TIMESTAMP_HEADER] == h[TIMESTAMP_HEADER.lower()]
        assert h[STANDARD_ID_HEADER] == message_id([a["id"] for a in doc["alerts"]])
        seen_ids.add(h[STANDARD_ID_HEADER])
        # the distillwatch headers are still there and still verify
        assert verify_signature(
            secret, h[TIMESTAMP_HEADER.lower()], req.body, h["x-distillwatch-signature"]
        )
        # a tampered body, a wrong secret: refused by the reference verifier
        tampered = req.body.replace(b"acct-w", b"acct-X", 1)
        assert tampered != req.body
        with pytest.raises(WebhookVerificationError, match="signature"):
            Webhook(standard_secret(secret)).verify(tampered, h)
        with pytest.raises(WebhookVerificationError, match="signature"):
            Webhook(standard_secret("not-the-secret")).verify(req.body, h)
        # a replayed request with a moved timestamp does not match its signature
        moved = dict(h, **{STANDARD_TIMESTAMP_HEADER: str(int(h[STANDARD_TIMESTAMP_HEADER]) + 1)})
        with pytest.raises(WebhookVerificationError, match="signature"):
            Webhook(standard_secret(secret)).verify(req.body, moved)
    assert len(seen_ids) == len(reqs)  # one id per batch
    got = [a["fingerprint"] for r in reqs for a in r.json()["alerts"]]
    assert got == [*fps, fps[0]]


def test_standard_old_timestamp_rejected_by_reference_library() -> None:
    sink = WebhookSink("http://127.0.0.1:9/hook", SECRET)
    body = b'{"version":"1","alerts":[]}'
    verifier = Webhook(standard_secret(SECRET))
    fresh = sink.headers(body, msg_id="msg_x")
    assert verifier.verify(body, fresh) == orjson.loads(body)
    old = sink.headers(body, now=time.time() - 600, msg_id="msg_x")  # correctly signed, stale
    with pytest.raises(WebhookVerificationError, match="too old"):
        verifier.verify(body, old)
    ahead = sink.headers(body, now=time.time() + 600, msg_id="msg_x")
    with pytest.raises(WebhookVerificationError, match="too new"):
        verifier.verify(body, ahead)
    missing = {k: v for k, v in fresh.items() if k != STANDARD_ID_HEADER}
    with pytest.raises(WebhookVerificationError, match="Missing"):
        verifier.verify(body, missing)


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
    # with the same webhook-id (receivers dedupe on it), each attempt signed afresh
    assert len({r.headers[STANDARD_ID_HEADER] for r in receiver.all()}) == 1
    for req in receiver.all():
        assert _verify_standard(SECRET, req) == req.json()
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
    # the batch and each of its parts are different messages
    assert len({r.headers[STANDARD_ID_HEADER] for r in receiver.all()}) == 4
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
