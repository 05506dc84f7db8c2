"""Consumer groups: a slow sink slows nobody, nothing is lost across restarts or crashes."""

from __future__ import annotations

import time
from typing import Any

import pytest

from service.sinks.webhook import WebhookSink
from tests.service.sinks.helpers import (
    KEYS,
    Receiver,
    RunnerThread,
    delivered_ids,
    fire,
    pending,
    sink_settings,
    wait_for,
)

pytestmark = pytest.mark.redis


def _fps(receiver: Receiver) -> list[str]:
    return [a["fingerprint"] for r in receiver.ok() for a in r.json()["alerts"]]


def test_slow_sink_blocks_neither_scoring_nor_the_other_sink(
    redis_server: Any, rclient: Any
) -> None:
    slow = Receiver(delay_s=2.0).start()  # every webhook request takes 2 s
    fast = Receiver().start()
    settings = sink_settings(
        redis_server.url, webhook_url=slow.url, alertmanager_url=fast.url, sink_timeout_s=5.0
    )
    try:
        with RunnerThread(settings) as rt:
            first = fire(rclient, "acct-0")
            wait_for(lambda: len(fast.ok()) == 1, timeout=2)
            # the webhook is now stuck in its first request; alerts keep flowing
            took = []
            fps = [first]
            for i in range(1, 20):
                t0 = time.perf_counter()
                fps.append(fire(rclient, f"acct-{i}"))
                took.append(time.perf_counter() - t0)
            assert max(took) < 1.0, took  # never waits for the sink stuck in its 2 s request
            wait_for(lambda: len([a for r in fast.ok() for a in r.json()]) == 20, timeout=3)
            assert not slow.all()  # the webhook's first request is still in its 2 s sleep
            wait_for(lambda: len(_fps(slow)) == 20, timeout=10)
            rt.stop()
    finally:
        slow.stop()
        fast.stop()
    assert _fps(slow) == fps


def test_restart_delivers_exactly_the_alerts_added(redis_server: Any, rclient: Any) -> None:
    receiver = Receiver().start()
    settings = sink_settings(redis_server.url, webhook_url=receiver.url, webhook_secret="k")
    try:
        with RunnerThread(settings, start_id="$") as rt:
            wait_for(lambda: rclient.exists(KEYS.alerts))  # group created at "$"
            fps = [fire(rclient, f"acct-a{i}") for i in range(5)]
            wait_for(lambda: len(delivered_ids(receiver)) == 5)
            rt.stop()
        # added while no sink runs
        fps += [fire(rclient, f"acct-b{i}") for i in range(5)]
        time.sleep(0.1)
        assert len(delivered_ids(receiver)) == 5
        with RunnerThread(settings, start_id="$") as rt:  # a new process (new consumer name)
            wait_for(lambda: len(delivered_ids(receiver)) == 10)
            wait_for(lambda: pending(rclient, "sink-webhook") == 0)
            time.sleep(0.2)  # room for a duplicate to show up
            rt.stop()
    finally:
        receiver.stop()
    assert _fps(receiver) == fps  # every alert once, in order
    ids = delivered_ids(receiver)
    assert len(set(ids)) == len(ids) == 10


def test_entries_of_a_dead_consumer_are_reclaimed(redis_server: Any, rclient: Any) -> None:
    receiver = Receiver().start()
    settings = sink_settings(redis_server.url, webhook_url=receiver.url, claim_idle_ms=300)
    rclient.xgroup_create(KEYS.alerts, "sink-webhook", id="0", mkstream=True)
    fps = [fire(rclient, f"acct-{i}") for i in range(4)]
    # a sink process read these, then died before acknowledging them
    read = rclient.xreadgroup("sink-webhook", "dead-host-1-abc", {KEYS.alerts: ">"}, count=3)
    assert len(read[0][1]) == 3
    try:
        with RunnerThread(settings) as rt:
            wait_for(lambda: len(delivered_ids(receiver)) == 4, timeout=5)
            wait_for(lambda: pending(rclient, "sink-webhook") == 0)
            stats = rt.stop()
    finally:
        receiver.stop()
    assert sorted(_fps(receiver)) == sorted(fps)
    assert _fps(receiver)[0] == fps[3]  # the live entry first; the dead one's after idling
    assert stats["webhook"]["reclaimed"] == 3


def test_live_slow_consumer_is_not_reclaimed(redis_server: Any, rclient: Any) -> None:
    # each request takes 1 s, longer than claim_idle_ms: without the heartbeat a second
    # consumer would reclaim the batch in flight and deliver it twice
    receiver = Receiver(delay_s=1.0).start()
    settings = sink_settings(
        redis_server.url, webhook_url=receiver.url, claim_idle_ms=300, sink_timeout_s=5.0
    )
    try:
        with RunnerThread(settings) as one, RunnerThread(settings) as two:
            fps = [fire(rclient, f"acct-{i}") for i in range(4)]
            wait_for(lambda: len(_fps(receiver)) >= 4, timeout=10)
            wait_for(lambda: pending(rclient, "sink-webhook") == 0)
            time.sleep(0.5)
            one.stop()
            two.stop()
    finally:
        receiver.stop()
    assert sorted(_fps(receiver)) == sorted(fps)  # no duplicates


def test_stop_during_backoff_leaves_the_batch_pending(redis_server: Any, rclient: Any) -> None:
    receiver = Receiver(statuses=[503] * 3)
    settings = sink_settings(
        redis_server.url,
        webhook_url=receiver.url,
        sink_max_attempts=10,
        sink_backoff_s=5.0,
        sink_backoff_max_s=5.0,
    )
    receiver.start()
    fp = fire(rclient, "acct-p")
    try:
        rt = RunnerThread(settings).start()
        wait_for(lambda: len(receiver.all()) == 1)  # first attempt failed; now waiting ~5 s
        t0 = time.monotonic()
        rt.stop()
        assert time.monotonic() - t0 < 2.0  # stop cuts the backoff short
        assert pending(rclient, "sink-webhook") == 1  # neither acked nor dead-lettered
        assert rclient.xlen(KEYS.sink_deadletter("webhook")) == 0
        # the next run (same consumer name: a restarted process) delivers it
        receiver.statuses.clear()
        with RunnerThread(settings, consumer=rt.runner.consumer) as again:
            wait_for(lambda: len(receiver.ok()) == 1)
            wait_for(lambda: pending(rclient, "sink-webhook") == 0)
            again.stop()
    finally:
        receiver.stop()
    assert _fps(receiver) == [fp]


def test_custom_sink_list(redis_server: Any, rclient: Any) -> None:
    receiver = Receiver().start()
    settings = sink_settings(redis_server.url)  # nothing configured
    try:
        with RunnerThread(settings, sinks=[WebhookSink(receiver.url, "k", 2.0)]) as rt:
            fire(rclient, "acct-c")
            wait_for(lambda: len(receiver.ok()) == 1)
            rt.stop()
    finally:
        receiver.stop()
