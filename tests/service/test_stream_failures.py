"""Failure handling against a real redis-server: kill -9, fencing, dead letters, AOF
restart, SIGTERM, model hot reload, following rotated files."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import orjson
import pytest
import redis as redis_lib

from detector.aggregates import aggregate_events
from detector.features import feature_frame
from detector.model import AccountAnomalyModel
from service.redis_keys import Keys
from service.stream import model_store, state_store
from service.stream.follow import FileTail
from service.stream.ingest import Ingestor
from service.stream.layout import pipeline_stats
from service.stream.scoring import Scorer, population_features, read_score
from service.stream.worker import Worker
from tests.service.eventgen import make_events
from tests.service.test_stream_pipeline import compare, settings_for, stream_features

pytestmark = pytest.mark.redis
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def events() -> list[dict]:
    return make_events(n_normal=24, harvesters=1, hours=6, seed=3, harvest_n=400)


@pytest.fixture(scope="module")
def batch_features(events) -> object:
    return feature_frame(aggregate_events(events), max(e["ts"] for e in events))


def worker_proc(url: str, *args: str) -> subprocess.Popen[bytes]:
    code = "import sys; from service.cli import main; sys.exit(main())"
    cmd = [sys.executable, "-c", code, "worker", "--redis-url", url, *args]
    return subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def processed(client) -> int:
    return int(pipeline_stats(client, Keys()).get("processed", 0))


def test_kill9_mid_stream_nothing_lost_nothing_twice(
    rclient, redis_server, events, batch_features
) -> None:
    s = settings_for(redis_server.url)
    Ingestor(rclient, s).add_events(events)
    proc = worker_proc(redis_server.url, "--batch-size", "50", "--no-score")
    deadline = time.monotonic() + 60
    while processed(rclient) < 300:
        assert proc.poll() is None, proc.stderr.read().decode() if proc.stderr else ""
        assert time.monotonic() < deadline, "worker made no progress"
        time.sleep(0.01)
    proc.send_signal(signal.SIGKILL)
    proc.wait(10)
    done = processed(rclient)
    assert 0 < done < len(events)
    # a new worker reclaims what the dead one left pending and finishes the stream
    worker = Worker(rclient, settings_for(redis_server.url, claim_idle_ms=300, claim_every_s=0.1))
    worker.run(exit_when_idle=1.0)
    pending = rclient.xpending(Keys().part(0).events, "workers")["pending"]
    assert pending == 0
    assert processed(rclient) == len(events)
    # nothing lost, nothing twice: every counter and distinct count equals the audit's (the
    # dead worker's batch was committed after later ones, possibly into buckets compacted
    # meanwhile, so edge gaps may differ: see GAP_FEATURES)
    compare(stream_features(rclient, s), batch_features, gaps=False)


def test_slow_worker_is_fenced_when_its_entries_are_reclaimed(
    rclient, redis_server, events, batch_features
) -> None:
    s = settings_for(redis_server.url, batch_size=500, claim_idle_ms=0)
    Ingestor(rclient, s).add_events(events)
    slow = Worker(rclient, s, consumer="slow")
    fast = Worker(rclient, s, consumer="fast")
    pipe = rclient.pipeline(transaction=True)
    pipe.watch(slow.lease)
    resp = pipe.xreadgroup("workers", "slow", {Keys().part(0).events: ">"}, count=500)
    entries = list(resp[0][1])
    time.sleep(0.01)
    assert fast.reclaim() == len(entries)  # takes the slow worker's batch over
    with pytest.raises(redis_lib.WatchError):
        slow.commit(pipe, entries)  # the late commit is refused: nothing counted twice
    pipe.reset()
    fast.run(exit_when_idle=0.3)
    slow.run(exit_when_idle=0.3)
    assert processed(rclient) == len(events)
    compare(stream_features(rclient, s), batch_features)


def test_poison_entry_dead_lettered_after_k_deliveries(
    rclient, redis_server, events, monkeypatch
) -> None:
    s = settings_for(redis_server.url, claim_idle_ms=0, claim_every_s=0, max_deliveries=3)
    Ingestor(rclient, s).add_events(events[:200])
    keys = Keys()
    rclient.xadd(keys.part(0).events, {"e": b"[not a stream event"})  # undecodable: at once
    poison = dict(events[0], request_id="poison-1", account_id="poison-acct")
    Ingestor(rclient, s).add_events([poison])
    real_fold = state_store.fold_batch

    def fold(columns, **kw):
        if "poison-acct" in set(columns["account_id"].tolist()):
            raise RuntimeError("boom")
        return real_fold(columns, **kw)

    monkeypatch.setattr("service.stream.worker.fold_batch", fold)
    worker = Worker(rclient, s)
    for _ in range(20):
        worker.step()
        if rclient.xlen(keys.part(0).deadletter) >= 2:
            break
    dead = rclient.xrange(keys.part(0).deadletter)
    reasons = [f[b"reason"].decode() for _id, f in dead]
    assert any(r.startswith("decode_error") for r in reasons)
    assert any("delivered 3 times" in r for r in reasons)
    assert rclient.xpending(keys.part(0).events, "workers")["pending"] == 0
    assert processed(rclient) == 200  # every good entry applied once


def test_state_survives_redis_restart_with_aof(aof_server, events, batch_features) -> None:
    client = aof_server.client()
    s = settings_for(aof_server.url)
    half = len(events) // 2
    Ingestor(client, s).add_events(events[:half])
    Worker(client, s).run(exit_when_idle=0.3)
    before = stream_features(client, s)
    client.close()
    aof_server.stop()  # SIGTERM: AOF fsync'ed (appendfsync always anyway)
    aof_server.start()
    client = aof_server.client()
    after = stream_features(client, s)
    np.testing.assert_allclose(after.to_numpy(float), before.to_numpy(float))
    # scripts are gone after a restart: ingest and workers reload them and carry on
    Ingestor(client, s).add_events(events)  # first half deduplicated
    Worker(client, s).run(exit_when_idle=0.3)
    compare(stream_features(client, s), batch_features)
    client.close()


def test_sigterm_finishes_batch_and_exits(rclient, redis_server, events) -> None:
    s = settings_for(redis_server.url)
    Ingestor(rclient, s).add_events(events)
    proc = worker_proc(redis_server.url, "--batch-size", "100", "--no-score")
    deadline = time.monotonic() + 60
    while processed(rclient) == 0:
        assert time.monotonic() < deadline and proc.poll() is None
        time.sleep(0.01)
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(15) == 0
    # whatever it read was committed: no entry is left pending by the stopped worker
    assert rclient.xpending(Keys().part(0).events, "workers")["pending"] == 0


def test_model_hot_reload(rclient, redis_server, events) -> None:
    s = settings_for(redis_server.url, model_poll_s=0, model_key="hot-reload-key")
    Ingestor(rclient, s).add_events(events)
    scorer = Scorer(rclient, s)
    Worker(rclient, s, scorer=scorer).run(exit_when_idle=0.3)
    assert scorer.model_version.startswith("population-fit")
    assert scorer.refresh_population(force=True)
    assert not scorer._link_warned  # detector.linking accepted the Redis-backed states
    features, _as_of = population_features(rclient, s)
    model = AccountAnomalyModel(n_estimators=20).fit(features)
    # whoever can write Redis but lacks the key: an unsigned or wrongly signed model is
    # refused and the scorer keeps what it has
    for version, key in (("v-unsigned", None), ("v-other-key", "not-the-key")):
        blob, meta = model_store.model_to_bytes(
            model, version=version, trained_at="now", extra={}, key=key
        )
        model_store.publish_model(rclient, Keys(), blob, meta)
        assert not scorer.poll_model(force=True)
        assert scorer.model_version.startswith("population-fit")
    blob, meta = model_store.model_to_bytes(
        model, version="v-test-1", trained_at="now", extra={}, key="hot-reload-key"
    )
    model_store.publish_model(rclient, Keys(), blob, meta)
    assert scorer.poll_model()
    assert scorer.model_version == "v-test-1"
    scorer.score(["org-harvest-00"])
    assert read_score(rclient, Keys(), "org-harvest-00")["model_version"] == "v-test-1"


def test_train_from_redis_cli(rclient, redis_server, events) -> None:
    from click.testing import CliRunner

    from service.cli.train_cmd import train_cmd

    s = settings_for(redis_server.url)
    Ingestor(rclient, s).add_events(events)
    Worker(rclient, s).run(exit_when_idle=0.3)
    args = ["--from-redis", redis_server.url, "--version", "v-cli", "--min-events", "1"]
    # no key: publishing is refused with the reason (workers would refuse the model)
    res = CliRunner().invoke(train_cmd, args, env={"DISTILLWATCH_MODEL_KEY": ""})
    assert res.exit_code != 0 and "DISTILLWATCH_MODEL_KEY" in res.output
    assert model_store.current_version(rclient, Keys()) is None
    res = CliRunner().invoke(train_cmd, args, env={"DISTILLWATCH_MODEL_KEY": "cli-key"})
    assert res.exit_code == 0, res.output
    assert model_store.current_version(rclient, Keys()) == "v-cli"
    model, meta = model_store.load_version(rclient, Keys(), "v-cli", key="cli-key")
    assert meta["source"] == "redis" and model.n_train_ >= 20


def test_follow_survives_rotation(tmp_path) -> None:
    path = tmp_path / "gw.jsonl"
    path.write_bytes(b'{"a": 1}\n{"a": 2}\n{"a"')
    tail = FileTail(str(path))
    data, first = tail.read()
    assert data == b'{"a": 1}\n{"a": 2}\n' and first == 1
    with open(path, "ab") as fh:
        fh.write(b": 3}\n")
    assert tail.read()[0] == b'{"a": 3}\n'
    with open(path, "ab") as fh:
        fh.write(b'{"a": 4}\n')
    os.rename(path, tmp_path / "gw.jsonl.1")  # rotation: rename, then a new file
    path.write_bytes(b'{"b": 1}\n')
    assert tail.read()[0] == b'{"a": 4}\n'  # the old file is drained first
    data, first = tail.read()
    assert data == b'{"b": 1}\n' and first == 1
    tail.close()


def test_ingest_cli_follow_and_replay(rclient, redis_server, tmp_path, events) -> None:
    path = tmp_path / "live.jsonl"
    path.write_bytes(b"".join(orjson.dumps(e) + b"\n" for e in events[:100]))
    code = "import sys; from service.cli import main; sys.exit(main())"
    proc = subprocess.Popen(
        [sys.executable, "-c", code, "ingest", str(path), "--follow", "--poll", "0.05", "-q"],
        cwd=ROOT,
        env={**os.environ, "DISTILLWATCH_REDIS_URL": redis_server.url},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 30
        while rclient.xlen(Keys().part(0).events) < 100:
            assert time.monotonic() < deadline and proc.poll() is None
            time.sleep(0.05)
        with open(path, "ab") as fh:
            fh.write(b"".join(orjson.dumps(e) + b"\n" for e in events[100:150]))
        while rclient.xlen(Keys().part(0).events) < 150:
            assert time.monotonic() < deadline and proc.poll() is None
            time.sleep(0.05)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(10)
    assert rclient.xlen(Keys().part(0).events) == 150
