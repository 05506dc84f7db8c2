"""Account linking over the streaming window state finds the sample's hydra campaigns."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pandas as pd
import pytest

from detector.ingest import read_events
from service.settings import StreamSettings
from service.stream.ingest import Ingestor
from service.stream.scoring import Scorer
from service.stream.worker import Worker

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "sample_logs" / "openai-2d.jsonl.gz"
LABELS = ROOT / "sample_logs" / "openai-2d.labels.csv"

pytestmark = pytest.mark.redis


def test_hydra_campaigns_clustered_from_redis_state(rclient, redis_server) -> None:
    events, quarantined = read_events([str(SAMPLE)])
    assert not quarantined
    settings = StreamSettings(
        redis_url=redis_server.url, window_hours=48, claim_idle_ms=1_000, block_ms=100
    )
    Ingestor(rclient, settings).add_events(events)
    scorer = Scorer(rclient, settings)
    Worker(rclient, settings, scorer=scorer).run(exit_when_idle=0.5)
    assert scorer.refresh_population(force=True)

    labels = pd.read_csv(LABELS, dtype=str).fillna("")
    hydra = labels[labels["kind"] == "hydra"].set_index("account_id")["campaign_id"]
    benign = set(labels.loc[labels["label"] == "benign", "account_id"])
    clusters = scorer.clusters
    flagged = {a: v for a, v in clusters.items() if v.get("action") == "block"}

    # every hydra account sits in a flagged cluster made (>= 90 %) of one campaign
    members: dict[str, list[str]] = {}
    for account, verdict in flagged.items():
        members.setdefault(verdict["cluster_id"], []).append(account)
    covered = 0
    for account, campaign in hydra.items():
        verdict = flagged.get(account)
        if verdict is None:
            continue
        group = members[verdict["cluster_id"]]
        top = Counter(hydra.get(a, "") for a in group).most_common(1)[0]
        if top[0] == campaign and top[1] / len(group) >= 0.9:
            covered += 1
    assert covered / len(hydra) >= 0.9
    assert not benign & set(flagged)
