"""The population job (issue 13.2) against a real redis-server: one lease holder computes
and publishes the population snapshot, every other scorer loads it and scores the same."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from detector.aggregates import aggregate_events
from detector.features import feature_frame
from detector.model import AccountAnomalyModel
from service.redis_keys import Keys
from service.stream import local_redis
from service.stream.ingest import Ingestor
from service.stream.population import (
    PopulationLease,
    frame_from_bytes,
    frame_to_bytes,
    publish_snapshot,
    read_snapshot,
)
from service.stream.scoring import Scorer, read_score, stream_clock
from service.stream.state_store import read_states, window_hours
from service.stream.worker import Worker
from tests.service.eventgen import make_events
from tests.service.test_stream_pipeline import settings_for

pytestmark = pytest.mark.redis
ROOT = Path(__file__).resolve().parents[2]
EXE = Path(sys.executable).with_name("distillwatch")


@pytest.fixture(scope="module")
def events() -> list[dict]:
    return make_events(n_normal=24, harvesters=1, hours=6, seed=3, harvest_n=400)


@pytest.fixture(scope="module")
def frame(events) -> pd.DataFrame:
    return feature_frame(aggregate_events(events), max(e["ts"] for e in events))


def folded(client: Any, url: str, events: list[dict], **kw: Any) -> Any:
    """Ingest ``events`` and fold them with a worker that does not score (every account
    is left dirty); returns the settings."""
    s = settings_for(url, **kw)
    Ingestor(client, s).add_events(events)
    Worker(client, s).run(exit_when_idle=0.3)
    return s


# -- the snapshot's format and the fallback model ----------------------------------------------
def test_frame_round_trips_exactly_through_arrow(frame: pd.DataFrame) -> None:
    blob = frame_to_bytes(frame)
    assert not blob.startswith(b"\x80")  # not a pickle
    back = frame_from_bytes(blob)
    pd.testing.assert_frame_equal(back, frame, check_exact=True)
    assert list(back.dtypes) == list(frame.dtypes) and back.index.name == frame.index.name


def test_fallback_forest_is_the_same_in_every_process(frame: pd.DataFrame) -> None:
    """Followers fit their fallback forest on the loaded frame: the forest's fixed
    random_state makes that the holder's model, score for score."""
    assert AccountAnomalyModel().random_state == 0
    loaded = frame_from_bytes(frame_to_bytes(frame))
    a = AccountAnomalyModel().fit(frame)
    b = AccountAnomalyModel().fit(loaded)
    np.testing.assert_array_equal(a.train_scores_, b.train_scores_)
    np.testing.assert_array_equal(a.decision_function(frame), b.decision_function(loaded))
    # and a different seed would not be (the test can fail)
    c = AccountAnomalyModel(random_state=1).fit(frame)
    assert not np.array_equal(a.train_scores_, c.train_scores_)


# -- the lease -------------------------------------------------------------------------------
def test_lease_is_exclusive_renewed_and_fenced(rclient, frame) -> None:
    keys = Keys()
    a = PopulationLease(rclient, keys, "worker-a", ttl_s=0.5)
    b = PopulationLease(rclient, keys, "worker-b", ttl_s=0.5)
    assert a.acquire() and a.fence == 1
    assert not b.acquire() and b.holder() == "worker-a"
    v1 = publish_snapshot(
        rclient,
        keys,
        owner="worker-a",
        fence=a.fence,
        as_of=100.0,
        frame=frame,
        clusters={"x": {"cluster_id": "c-1", "risk": 0.5, "action": "review"}},
        model_version="m",
        ttl_s=60,
    )
    assert v1 == 1
    assert a.renew()
    assert 0 < rclient.pttl(keys.population_lease) <= 500
    # a pauses past its TTL; b takes the lease with a higher fencing token
    time.sleep(0.6)
    assert b.acquire() and b.fence == 2
    assert not a.renew() and not a.held
    stale = publish_snapshot(
        rclient,
        keys,
        owner="worker-a",
        fence=1,
        as_of=200.0,
        frame=frame.head(3),
        clusters={},
        model_version="stale",
        ttl_s=60,
    )
    assert stale is None  # fenced off: the snapshot is still a's last good one
    snap = read_snapshot(rclient, keys)
    assert snap is not None and snap.version == 1 and snap.as_of == 100.0
    assert snap.clusters["x"]["cluster_id"] == "c-1"
    pd.testing.assert_frame_equal(snap.frame, frame, check_exact=True)
    # only the holder releases
    assert not a.release() and b.holder() == "worker-b"
    assert b.release() and b.holder() is None
    assert 0 < rclient.ttl(keys.population_snapshot) <= 60


def test_worker_hands_the_lease_to_a_dedicated_scorer(rclient) -> None:
    keys = Keys()
    worker = PopulationLease(rclient, keys, "worker-w", ttl_s=30)
    scorer = PopulationLease(rclient, keys, "scorer-s", ttl_s=30, dedicated=True)
    assert worker.acquire()
    assert not scorer.acquire()  # held: the scorer waits, marked preferred
    assert not worker.renew()  # the worker hands the lease over
    assert not worker.acquire()  # and does not take it back while the scorer lives
    assert scorer.acquire() and scorer.fence == 2
    assert scorer.renew()
    scorer.release()
    assert worker.acquire()  # no scorer any more: workers run the job again


# -- scorers in one process -------------------------------------------------------------------
def test_follower_loads_and_scores_like_the_holder(rclient, redis_server, events) -> None:
    s = folded(rclient, redis_server.url, events)
    holder = Scorer(rclient, s)
    follower = Scorer(rclient, s)
    assert holder.refresh_population(force=True) and holder.lease.held
    assert follower.refresh_population(force=True) and not follower.lease.held
    assert (holder.population_computed, follower.population_computed) == (1, 0)
    assert follower.population_loaded == 1
    assert not follower.refresh_population(force=True)  # same version: nothing to load
    pd.testing.assert_frame_equal(follower.population, holder.population, check_exact=True)
    assert follower.clusters == holder.clusters
    assert follower.model_version == holder.model_version
    assert holder.model_version.startswith("population-fit@")
    as_of = stream_clock(rclient, holder.keys)
    features = holder.population.loc[sorted(holder.population.index)[:10]]
    mine = follower.verdicts(features, as_of)
    theirs = holder.verdicts(features, as_of)
    assert [(v.account_id, v.risk, v.action, v.cluster_id) for v in mine] == [
        (v.account_id, v.risk, v.action, v.cluster_id) for v in theirs
    ]


def test_follower_waits_for_a_first_snapshot(rclient, redis_server, events) -> None:
    """A follower that never had a population leaves dirty accounts to the holder
    instead of ranking them against nothing."""
    s = folded(rclient, redis_server.url, events, population_lease_ttl_s=30.0)
    other = PopulationLease(rclient, Keys(), "someone-else", ttl_s=30)
    assert other.acquire()
    follower = Scorer(rclient, s)
    dirty = rclient.zcard(Keys().part(0).dirty)
    assert dirty > 0
    assert follower.tick(flush=True) == 0 and not follower.population_ready()
    assert rclient.zcard(Keys().part(0).dirty) == dirty


# -- real processes ---------------------------------------------------------------------------
def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DISTILLWATCH_")}
    env.update(extra)
    return env


def _spawn(args: list[str], log: Path, env: dict[str, str]) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:
        return subprocess.Popen(
            [str(EXE), *args], cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT
        )


def _wait(what: str, check: Any, procs: list[subprocess.Popen[bytes]], timeout: float) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        got = check()
        if got:
            return got
        for p in procs:
            assert p.poll() is None, f"{p.args} exited with {p.returncode}"
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def _holder(client: Any) -> str | None:
    raw = client.get(Keys().population_lease)
    return raw.decode() if raw is not None else None


def _snapshot_fields(client: Any) -> dict[str, str]:
    raw = client.hmget(Keys().population_snapshot, ["version", "owner", "as_of", "fence"])
    if raw[0] is None:
        return {}
    return dict(zip(("version", "owner", "as_of", "fence"), (r.decode() for r in raw), strict=True))


def _metric(port: int, name: str) -> float:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as resp:
        body = resp.read().decode()
    for line in body.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    raise AssertionError(f"{name} not exposed")


def test_two_workers_and_a_scorer_process_score_like_one_worker(
    rclient, redis_server, events, tmp_path
) -> None:
    """A `distillwatch scorer` runs the population job; two `distillwatch worker`s only
    load its snapshot, and the scores they write equal those of one process doing
    everything."""
    s = folded(rclient, redis_server.url, events)
    keys = Keys()
    clock = stream_clock(rclient, keys)
    accounts = sorted(a.decode() for a in rclient.zrange(keys.part(0).dirty, 0, -1))
    assert len(accounts) >= 25
    env = _env(
        DISTILLWATCH_POPULATION_REFRESH_S="0.5",
        DISTILLWATCH_POPULATION_LEASE_TTL_S="3",
        DISTILLWATCH_SCORE_DEBOUNCE_S="0",
    )
    port = local_redis.free_port()
    common = ["--redis-url", redis_server.url, "--window-hours", "48"]
    scorer = _spawn(["scorer", *common, "--metrics-port", str(port)], tmp_path / "scorer.log", env)
    workers: list[subprocess.Popen[bytes]] = []
    try:
        snap = _wait(
            "the scorer's first snapshot",
            lambda: (f := _snapshot_fields(rclient)) and float(f["as_of"]) == clock and f,
            [scorer],
            60,
        )
        assert snap["owner"].startswith("scorer@") and snap["fence"] == "1"
        for i in range(2):
            workers.append(
                _spawn(["worker", *common, "--exit-when-idle", "2"], tmp_path / f"w{i}.log", env)
            )
        for i, w in enumerate(workers):
            assert w.wait(90) == 0, (tmp_path / f"w{i}.log").read_text()[-2000:]
        assert rclient.zcard(keys.part(0).dirty) == 0
        # no worker ever took the lease (every acquisition bumps the fencing token)
        assert rclient.get(keys.population_fence) == b"1"
        assert _holder(rclient).startswith("scorer@")
        assert _metric(port, "distillwatch_population_leader") == 1.0
        assert _metric(port, "distillwatch_population_refresh_total") >= 1.0
        assert _metric(port, "distillwatch_population_last_refresh_timestamp_seconds") > 0
        scorer.send_signal(signal.SIGTERM)
        assert scorer.wait(30) == 0
        assert _holder(rclient) is None  # released on a clean stop
    finally:
        for p in [scorer, *workers]:
            local_redis.stop_process(p, kill=True)
    # one process doing everything: takes the (free) lease, computes, scores
    reference = Scorer(rclient, s)
    assert reference.refresh_population(force=True) and reference.population_computed == 1
    assert reference.model_version.startswith("population-fit@")
    hours = window_hours(clock, s.window_hours)
    features = feature_frame(read_states(rclient, keys, accounts, hours), clock)
    expected = reference.verdicts(features, clock)
    assert len(expected) == len(accounts)
    flagged = 0
    for v in expected:
        got = read_score(rclient, keys, v.account_id)
        assert got is not None, v.account_id
        assert got["risk"] == pytest.approx(v.risk, abs=1e-12), v.account_id
        assert got["anomaly_percentile"] == pytest.approx(v.anomaly_percentile, abs=1e-12)
        assert got["action"] == v.action, v.account_id
        assert got["cluster_id"] == (v.cluster_id or None)
        assert got["model_version"] == reference.model_version
        flagged += v.action != "allow"
    assert flagged >= 1  # the harvester: the comparison covers a non-trivial verdict


def test_killed_scorer_loses_the_lease_to_a_standby(
    rclient, redis_server, events, tmp_path
) -> None:
    """kill -9 of the holding `distillwatch scorer`: the standby takes the lease within
    the TTL plus one refresh, snapshots continue, the dead holder is fenced off, and a
    worker's scorer keeps its last snapshot meanwhile."""
    ttl, refresh = 2.0, 0.5
    s = folded(rclient, redis_server.url, events, population_lease_ttl_s=ttl)
    keys = Keys()
    env = _env(
        DISTILLWATCH_POPULATION_REFRESH_S=str(refresh),
        DISTILLWATCH_POPULATION_LEASE_TTL_S=str(ttl),
    )
    common = ["scorer", "--redis-url", redis_server.url, "--window-hours", "48"]
    first = _spawn(common, tmp_path / "first.log", env)
    second: subprocess.Popen[bytes] | None = None
    try:
        owner = _wait(
            "the first scorer's snapshot",
            lambda: (f := _snapshot_fields(rclient)) and f["owner"],
            [first],
            60,
        )
        second = _spawn(common, tmp_path / "second.log", env)
        worker_side = Scorer(rclient, s)  # a worker's scorer: follows the snapshots
        assert worker_side.refresh_population(force=True) and not worker_side.lease.held
        # the standby is up (it marks itself preferred) but does not take a held lease
        _wait(
            "the standby",
            lambda: rclient.get(keys.population_preferred) not in (None, owner.encode()),
            [first, second],
            60,
        )
        time.sleep(ttl)
        assert _holder(rclient) == owner
        before = _snapshot_fields(rclient)
        first.send_signal(signal.SIGKILL)
        first.wait(10)
        killed_at = time.monotonic()
        # meanwhile the worker keeps scoring with its last snapshot (and does not take
        # the lease: the standby scorer is preferred)
        worker_side.refresh_population(force=True)
        assert not worker_side.lease.held
        assert len(worker_side.population) and worker_side.population_as_of is not None
        assert worker_side.population_ready()
        new_owner = _wait(
            "another holder",
            lambda: (h := _holder(rclient)) and h != owner and h,
            [second],
            30,
        )
        took_over = time.monotonic() - killed_at
        assert new_owner.startswith("scorer@")
        assert took_over <= ttl + refresh + 1.0, took_over
        after = _wait(
            "snapshots from the new holder",
            lambda: (f := _snapshot_fields(rclient)) and f["owner"] == new_owner and f,
            [second],
            30,
        )
        assert int(after["version"]) > int(before["version"])
        assert int(after["fence"]) == int(before["fence"]) + 1
        _wait(
            "one more snapshot",
            lambda: int(_snapshot_fields(rclient)["version"]) > int(after["version"]),
            [second],
            30,
        )
        # the dead holder, were it only paused, could not publish any more
        assert (
            publish_snapshot(
                rclient,
                keys,
                owner=owner,
                fence=int(before["fence"]),
                as_of=0.0,
                frame=worker_side.population,
                clusters={},
                model_version="stale",
                ttl_s=60,
            )
            is None
        )
        assert worker_side.refresh_population(force=True)
        assert worker_side.snapshot_version > int(before["version"])
    finally:
        local_redis.stop_process(first, kill=True)
        local_redis.stop_process(second)
