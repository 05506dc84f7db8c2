"""The partitioned layout on a real Redis Cluster (3 primaries on loopback, created by
``redis-cli --cluster create``) and on one Redis with several partitions: same window
state as the batch audit, same verdicts as one Redis, exactly once through a worker's
``kill -9``, account ids with braces, and a refused partition count mismatch."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from service.redis_keys import Keys
from service.store import alerts as alerts_store
from service.stream import local_redis
from service.stream.ingest import Ingestor
from service.stream.layout import LayoutMismatch, check_layout, pipeline_stats
from service.stream.scoring import Scorer, read_score
from service.stream.worker import Worker
from tests.service.eventgen import make_events, write_jsonl
from tests.service.test_stream_pipeline import (
    batch,  # noqa: F401  (module fixture reused)
    compare,
    log_file,  # noqa: F401
    run_worker,
    settings_for,
    stream_features,
)

pytestmark = [pytest.mark.redis, pytest.mark.slow]

PARTITIONS = 8


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[local_redis.RedisClusterServer]:
    server = local_redis.RedisClusterServer(tmp_path_factory.mktemp("cluster"), nodes=3)
    try:
        server.start()
    except local_redis.RedisNotInstalled as exc:
        pytest.skip(str(exc))
    yield server
    server.stop()


@pytest.fixture
def cclient(cluster: local_redis.RedisClusterServer) -> Iterator[object]:
    client = cluster.client()
    yield client
    client.close()


_prefixes = iter(range(10_000))


def _prefix() -> str:
    return f"c{next(_prefixes)}"


def _verdicts(client: object, keys: Keys, accounts: list[str]) -> dict[str, tuple]:
    out = {}
    for acct in accounts:
        got = read_score(client, keys, acct)
        assert got is not None, acct
        out[acct] = (got["action"], round(got["risk"], 9))
    return out


def test_partitions_on_one_redis_match_the_batch_audit(rclient, redis_server, log_file, batch):  # noqa: F811
    s = settings_for(redis_server.url, partitions=4)
    Ingestor(rclient, s).ingest_files([str(log_file)])
    keys = Keys.of(s)
    lengths = [rclient.xlen(p.events) for p in keys.parts()]
    assert sum(lengths) == batch[2] and sum(1 for n in lengths if n) >= 3  # spread out
    run_worker(rclient, s)
    compare(stream_features(rclient, s), batch[0])


def test_cluster_two_workers_score_like_one_redis(
    cclient,
    cluster,
    rclient,
    redis_server,
    log_file,  # noqa: F811
    batch,  # noqa: F811
) -> None:
    # one Redis, one partition: the reference verdicts
    single = settings_for(redis_server.url)
    Ingestor(rclient, single).ingest_files([str(log_file)])
    ref_scorer = Scorer(rclient, single)
    run_worker(rclient, single, ref_scorer)
    assert ref_scorer.lease.held  # the population job: recomputes on force
    ref_scorer.refresh_population(force=True)
    accounts = sorted(batch[0].index)
    ref_scorer.score(accounts)
    expected = _verdicts(rclient, Keys.of(single), accounts)

    # the cluster: 8 partitions over 3 primaries, two workers sharing the groups
    s = settings_for(cluster.url, key_prefix=_prefix(), partitions=PARTITIONS, batch_size=300)
    keys = Keys.of(s)
    stats = Ingestor(cclient, s).ingest_files([str(log_file)])
    assert stats.added == batch[2]
    slots = {cclient.keyslot(p.events) for p in keys.parts()}
    nodes = {cclient.get_node_from_key(p.events).name for p in keys.parts()}
    assert len(slots) == PARTITIONS and len(nodes) == 3  # really spread over the cluster
    first = Worker(cclient, s, consumer="w1")
    first.run(max_events=batch[2] // 2)
    scorer = Scorer(cclient, s)
    second = Worker(cclient, s, consumer="w2", scorer=scorer)
    second.run(exit_when_idle=0.3)
    assert first.stats.events > 0 and second.stats.events > 0
    assert first.stats.events + second.stats.events == batch[2]
    assert int(pipeline_stats(cclient, keys)["processed"]) == batch[2]
    compare(stream_features(cclient, s), batch[0])

    assert scorer.lease.held  # the lease script runs on the cluster ({population} tag)
    scorer.refresh_population(force=True)
    scorer.score(accounts)
    assert _verdicts(cclient, keys, accounts) == expected
    # alerts went through too (pipelined across slots on a cluster)
    assert cclient.xlen(keys.alerts) > 0

    # an analyst's triage on the cluster: the alert changes under WATCH of its own slot,
    # the account's verdict and the suppression follow
    fp = cclient.get(keys.account_alert("org-harvest-00")).decode()
    acked = alerts_store.transition(cclient, keys, fp, "acknowledge", "ana", ttl=3600, maxlen=1000)
    assert acked["status"] == "acknowledged"
    alerts_store.transition(
        cclient, keys, fp, "false_positive", "ana", "eval", ttl=3600, maxlen=1000
    )
    assert read_score(cclient, keys, "org-harvest-00")["action"] == "allow"
    assert cclient.hget(keys.suppressions, fp) is not None
    assert [n["action"] for n in alerts_store.list_notes(cclient, keys, fp)["items"]] == [
        "false_positive",
        "acknowledge",
    ]
    with pytest.raises(alerts_store.Conflict):
        alerts_store.transition(cclient, keys, fp, "acknowledge", "ana", ttl=3600, maxlen=1000)


def test_cluster_worker_killed_mid_batch_loses_and_doubles_nothing(
    cclient,
    cluster,
    tmp_path: Path,
    batch,  # noqa: F811
    log_file,  # noqa: F811
) -> None:
    prefix = _prefix()
    s = settings_for(cluster.url, key_prefix=prefix, partitions=PARTITIONS, batch_size=100)
    keys = Keys.of(s)
    Ingestor(cclient, s).ingest_files([str(log_file)])
    env = {
        **os.environ,
        "DISTILLWATCH_REDIS_URL": cluster.url,
        "DISTILLWATCH_KEY_PREFIX": prefix,
        "DISTILLWATCH_PARTITIONS": str(PARTITIONS),
        "DISTILLWATCH_BATCH_SIZE": "50",
        "DISTILLWATCH_WINDOW_HOURS": "48",
        "PYTHONPATH": str(Path(__file__).resolve().parents[2]),
    }
    code = "import sys; from service.cli import main; sys.exit(main())"
    proc = subprocess.Popen(
        [sys.executable, "-c", code, "worker", "--no-score"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while int(pipeline_stats(cclient, keys).get("processed", 0)) < 200:
            assert proc.poll() is None and time.monotonic() < deadline, "worker did not start"
            time.sleep(0.02)
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
    done_before = int(pipeline_stats(cclient, keys)["processed"])
    assert done_before < batch[2]
    # a new worker takes the dead one's pending entries once they are idle
    rescue = settings_for(cluster.url, key_prefix=prefix, partitions=PARTITIONS, claim_every_s=0.5)
    rescuer = Worker(cclient, rescue)
    rescuer.run(exit_when_idle=3.0)
    assert int(pipeline_stats(cclient, keys)["processed"]) == batch[2]
    assert sum(int(p["pending"]) for p in _pending(cclient, keys)) == 0
    compare(stream_features(cclient, s), batch[0])


def _pending(client: object, keys: Keys) -> list[dict]:
    return [client.xpending(p.events, "workers") for p in keys.parts()]


def test_account_ids_with_braces_stay_in_their_partition(cclient, cluster, tmp_path) -> None:
    events = make_events(n_normal=6, harvesters=0, hours=1, seed=5)
    odd = ["org{7}", "{x}", "}{", "a}b{c", ""]
    for i, e in enumerate(events):
        e["account_id"] = odd[i % len(odd)] or "{}"
    path = write_jsonl(events, tmp_path / "braces.jsonl")
    s = settings_for(cluster.url, key_prefix=_prefix(), partitions=PARTITIONS)
    keys = Keys.of(s)
    for acct in ("org{7}", "{x}", "}{", "a}b{c", "{}"):
        names = [keys.bucket(acct, 1), keys.score(acct), keys.part_of(acct).events]
        assert len({cclient.keyslot(n) for n in names}) == 1, acct
    Ingestor(cclient, s).ingest_files([str(path)])
    run_worker(cclient, s, Scorer(cclient, s))
    feats = stream_features(cclient, s)
    assert sorted(feats.index) == sorted({"org{7}", "{x}", "}{", "a}b{c", "{}"})
    assert int(feats["n_events"].sum()) == len(events)
    for acct in feats.index:
        assert read_score(cclient, keys, acct) is not None, acct


def test_another_partition_count_is_refused(rclient, redis_server) -> None:
    s = settings_for(redis_server.url, key_prefix="layout")
    Worker(rclient, s)  # records P = 1
    with pytest.raises(LayoutMismatch, match="DISTILLWATCH_PARTITIONS=1"):
        Worker(rclient, settings_for(redis_server.url, key_prefix="layout", partitions=4))
    check_layout(rclient, Keys("layout"))  # the same count passes


def test_commands_refuse_another_partition_count(rclient, redis_server, tmp_path) -> None:
    Worker(rclient, settings_for(redis_server.url, key_prefix="layout2"))  # records P = 1
    path = write_jsonl(make_events(n_normal=2, harvesters=0, hours=1), tmp_path / "x.jsonl")
    env = {
        **os.environ,
        "DISTILLWATCH_REDIS_URL": redis_server.url,
        "DISTILLWATCH_KEY_PREFIX": "layout2",
        "DISTILLWATCH_PARTITIONS": "4",
        "PYTHONPATH": str(Path(__file__).resolve().parents[2]),
    }
    code = "import sys; from service.cli import main; sys.exit(main())"
    for args in (["ingest", str(path)], ["worker", "--no-score", "--exit-when-idle", "1"]):
        out = subprocess.run(
            [sys.executable, "-c", code, *args],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert out.returncode != 0, args
        assert "DISTILLWATCH_PARTITIONS=1" in out.stderr, out.stderr[-500:]
    assert rclient.xlen(Keys("layout2", 4).part(1).events) == 0  # nothing was written
