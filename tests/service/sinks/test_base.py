"""Shared sink pieces: backoff, entry decoding, HTTP outcome classification."""

from __future__ import annotations

import asyncio
import random
from typing import Any

import orjson
import pytest

from service.sinks.base import DeliveryError, HttpSink, backoff_delay, decode_entry
from service.stream.local_redis import free_port
from tests.service.sinks.helpers import Receiver

pytestmark = pytest.mark.redis


def test_backoff_doubles_up_to_the_cap_with_jitter() -> None:
    rng = random.Random(7)
    for attempt, full in [(1, 0.5), (2, 1.0), (3, 2.0), (4, 4.0), (7, 30.0), (40, 30.0)]:
        for _ in range(50):
            d = backoff_delay(attempt, 0.5, 30.0, rng)
            assert full / 2 <= d <= full
    draws = {round(backoff_delay(3, 0.5, 30.0, rng), 6) for _ in range(20)}
    assert len(draws) > 10  # jittered


def test_decode_entry() -> None:
    alert = {"labels": {"alertname": "X"}, "fingerprint": "f"}
    e = decode_entry(
        b"1700000000123-0",
        {
            b"fingerprint": b"f",
            b"status": b"firing",
            b"account_id": b"a",
            b"risk": b"0.930",
            b"alert": orjson.dumps(alert),
        },
    )
    assert e.id == "1700000000123-0" and e.at == pytest.approx(1_700_000_000.123)
    assert e.alert == alert and "alert" not in e.fields
    doc = e.as_json()
    assert doc["risk"] == pytest.approx(0.93) and doc["at"] == "2023-11-14T22:13:20.123Z"
    resolved = decode_entry("1-0", {"fingerprint": "f", "status": "resolved"})
    assert resolved.alert is None and resolved.account_id == ""
    with pytest.raises(ValueError):
        decode_entry("1-0", {"status": "firing"})
    with pytest.raises(ValueError):
        decode_entry("1-0", {"fingerprint": "f", "status": "firing", "alert": "[1]"})


@pytest.mark.parametrize(
    ("status", "retryable", "splittable"),
    [
        (500, True, False),
        (502, True, False),
        (503, True, False),
        (408, True, False),
        (429, True, False),
        (400, False, True),
        (413, False, True),
        (422, False, True),
        (401, False, False),
        (403, False, False),
        (404, False, False),
        (301, False, False),
    ],
)
def test_http_outcomes(status: int, retryable: bool, splittable: bool) -> None:
    receiver = Receiver(statuses=[status]).start()

    async def go() -> Any:
        sink = HttpSink(2.0)
        try:
            return await sink.post(receiver.url, b"{}", {})
        except DeliveryError as exc:
            return exc
        finally:
            await sink.close()

    try:
        err = asyncio.run(go())
    finally:
        receiver.stop()
    assert isinstance(err, DeliveryError)
    assert (err.status, err.retryable, err.splittable) == (status, retryable, splittable)


def test_transport_errors_are_retryable() -> None:
    async def go() -> DeliveryError:
        sink = HttpSink(1.0)
        try:
            await sink.post(f"http://127.0.0.1:{free_port()}/", b"{}", {})
        except DeliveryError as exc:
            return exc
        finally:
            await sink.close()
        raise AssertionError("no error")

    err = asyncio.run(go())
    assert err.retryable and err.status is None
