"""Continuous scoring: rescore touched accounts from their Redis window state.

Workers mark every account a batch touches in the ``dirty`` ZSET (score = first touch
since its last scoring). :meth:`Scorer.tick` takes the accounts dirty for longer than
the debounce (atomically, so two workers never score the same account at once),
rebuilds their window state from Redis, computes features with
:func:`detector.features.feature_frame`, and runs the audit's
:func:`detector.audit.pipeline.score_accounts` (rules, anomaly model, fusion). Fusion
ranks feature values against the population, so the dirty accounts are scored beside a
periodically refreshed population snapshot (the latest features of the most recently
active accounts); the anomaly model is the current one in Redis, or one fitted on that
snapshot while none was published.

Only one process computes that snapshot (window states, fallback fit, account linking):
the holder of the population lease (:mod:`service.stream.population`), a worker or a
dedicated ``distillwatch scorer``. It publishes the snapshot to Redis; every other scorer
loads it when its version moves and fits the same fallback forest on the same frame.

Results: ``score`` hash per account (O(1) reads for gateways), ``features`` hash,
``risk`` ZSET, and alerts (:mod:`service.stream.alert_store`).
"""

from __future__ import annotations

import logging
import math
import time
from pathlib import Path
from typing import Any

import orjson
import pandas as pd

from detector.alerts import rfc3339, verdict_alert
from detector.features import feature_frame
from detector.fusion import AccountVerdict
from detector.model import AccountAnomalyModel, fit_fallback
from detector.rules import default_rules_dir, load_rules
from detector.scoring import score_accounts
from service import metrics
from service.redis_keys import Keys
from service.redis_values import text_or_none as _text
from service.settings import StreamSettings
from service.store.score_record import ScoreRecord, read_score, write_score
from service.stream import model_store
from service.stream.alert_store import sync_account_alert
from service.stream.layout import active_accounts, stream_clock
from service.stream.population import (
    PopulationLease,
    default_owner,
    publish_snapshot,
    read_snapshot,
    snapshot_version,
)
from service.stream.scripts import POP_READY, run_script
from service.stream.state_store import read_states, window_hours

__all__ = ["EVIDENCE_FEATURES", "Scorer", "population_features", "read_score", "stream_clock"]

log = logging.getLogger("distillwatch.scoring")
#: links kept per cluster in Redis (in the order linking lists them)
_MAX_EDGES = 300
#: score snapshots kept per account, and the event-time spacing between routine ones
HISTORY_LEN = 200
HISTORY_EVERY_S = 600.0
#: features kept in each score history snapshot (alerts carry detector.alerts.ALERT_FEATURES)
EVIDENCE_FEATURES = (
    "events_per_hour",
    "completion_tokens_per_hour",
    "distinct_prompt_ratio",
    "template_share",
    "cot_share",
    "finish_length_share",
    "logprobs_share",
    "logit_bias_share",
    "max_tokens_tiny_share",
    "gap_cv",
    "distinct_ips",
    "distinct_ip_prefixes",
)


def population_features(
    client: Any, settings: StreamSettings, limit: int | None = None
) -> tuple[pd.DataFrame, float | None]:
    """Window features of every account with state (most recently active first).

    Parameters
    ----------
    client : redis.Redis
        Connection.
    settings : StreamSettings
        Window and key prefix.
    limit : int, optional
        Most accounts read (None: all).

    Returns
    -------
    (pandas.DataFrame, float or None)
        The feature frame and the stream clock it was computed at.
    """
    keys = Keys.of(settings)
    as_of = stream_clock(client, keys)
    if as_of is None:
        return feature_frame({}, 0.0), None
    accounts = active_accounts(client, keys, limit)
    hours = window_hours(as_of, settings.window_hours)
    states = read_states(client, keys, accounts, hours)
    return feature_frame(states, as_of), as_of


class Scorer:
    """Scores dirty accounts; holds rules, the current model and a population snapshot.

    Parameters
    ----------
    client : redis.Redis
        Connection.
    settings : StreamSettings
        Window, debounce, population and model options.
    keys : Keys, optional
        Key names (default: ``Keys.of(settings)``).
    lease : PopulationLease, optional
        This process's stake in the population job (default: a worker's, which takes the
        lease when nobody holds it and hands it to a dedicated scorer).
    """

    def __init__(
        self,
        client: Any,
        settings: StreamSettings,
        keys: Keys | None = None,
        *,
        lease: PopulationLease | None = None,
    ) -> None:

        self.client = client
        self.settings = settings
        self.keys = keys or Keys.of(settings)
        self._rules_dir = Path(settings.rules_dir) if settings.rules_dir else default_rules_dir()
        self.rules, self.allowlist = load_rules(self._rules_dir)
        self.rules_version: str | None = _text(client.get(self.keys.rules_version))
        self.model: AccountAnomalyModel | None = None
        self.model_version = "none"
        self.redis_version: str | None = None
        self.population = pd.DataFrame()
        self.clusters: dict[str, dict[str, Any]] = {}
        self._model_polled = 0.0
        self._population_at = 0.0
        self.lease = lease or PopulationLease(
            client, self.keys, default_owner("worker"), settings.population_lease_ttl_s
        )
        #: version of the snapshot in use (published or loaded here), its stream clock
        self.snapshot_version: int | None = None
        self.population_as_of: float | None = None
        #: snapshots computed here (population job) and loaded from Redis
        self.population_computed = 0
        self.population_loaded = 0
        self._snapshot_polled = 0.0
        self._created = time.monotonic()
        self.scored = 0
        self.alerts_fired = 0
        self._link_warned = False

    # -- rules -----------------------------------------------------------------------
    def reload_rules(self) -> None:
        """Load the rules and allowlists again from the rules directory."""
        self.rules, self.allowlist = load_rules(self._rules_dir)
        log.info("rules reloaded: %d rules", len(self.rules.rules))

    def _poll_rules(self) -> None:
        version = _text(self.client.get(self.keys.rules_version))
        if version == self.rules_version:
            return
        self.rules_version = version
        try:
            self.reload_rules()
        except Exception as exc:  # a broken rules file must not stop scoring
            log.error("rules reload failed, keeping the loaded rules: %s", exc)

    # -- model -----------------------------------------------------------------------
    def poll_model(self, force: bool = False) -> bool:
        """Load the current model from Redis if its version changed; True when it did.

        Also reloads the rules when an admin bumped the rules version.
        """
        now = time.monotonic()
        if not force and now - self._model_polled < self.settings.model_poll_s:
            return False
        self._model_polled = now
        self._poll_rules()
        version = model_store.current_version(self.client, self.keys)
        if version is None or version == self.redis_version:
            return False
        try:
            model, _meta = model_store.load_version(
                self.client,
                self.keys,
                version,
                key=self.settings.model_key,
                allow_unsigned=self.settings.model_allow_unsigned,
            )
        except Exception as exc:  # a bad blob must not stop scoring
            log.error("cannot load model %s: %s", version, exc)
            self.redis_version = version
            return False
        self.model, self.model_version, self.redis_version = model, version, version
        log.info("model %s loaded", version)
        return True

    # -- population ------------------------------------------------------------------
    def active_accounts(self, limit: int | None = None) -> list[str]:
        """Accounts with window state, most recently touched first."""
        limit = limit or self.settings.population_max
        cutoff = time.time() - self.settings.bucket_ttl_s
        pipe = self.client.pipeline(transaction=False)
        for part in self.keys.parts():
            pipe.zremrangebyscore(part.accounts, "-inf", cutoff)
        pipe.execute()
        return active_accounts(self.client, self.keys, limit)

    def window_states(
        self, accounts: list[str], as_of: float, *, with_links: bool = False
    ) -> dict[str, Any]:
        """Window states of ``accounts`` ending at ``as_of``."""
        hours = window_hours(as_of, self.settings.window_hours)
        return read_states(self.client, self.keys, accounts, hours, with_links=with_links)

    def refresh_population(self, force: bool = False) -> bool:
        """Bring the population snapshot up to date; True when it changed.

        The holder of the population lease recomputes it (window states, fallback model,
        links) every ``population_refresh_s`` and publishes it; any other scorer loads the
        latest published snapshot when its version moved (a dedicated scorer waiting for
        the lease does nothing).

        Parameters
        ----------
        force : bool
            Recompute now (holder) or check for a new snapshot now (others).
        """
        held, acquired = self.lease.ensure(force=force)
        metrics.POPULATION_LEADER.set(1 if held else 0)
        if held:
            now = time.monotonic()
            due = now - self._population_at >= self.settings.population_refresh_s
            if not (force or acquired or due):
                return False
            self._population_at = now
            return self._compute_population()
        if self.lease.dedicated:
            return False
        return self._load_population(force)

    def population_ready(self) -> bool:
        """May dirty accounts be scored now? Not by a scorer that has no population yet
        while the population job may still publish one (at most the lease TTL plus one
        refresh after start): ranking against an empty population would differ."""
        if self.population_as_of is not None or self.lease.held:
            return True
        grace = self.settings.population_lease_ttl_s + self.settings.population_refresh_s
        return time.monotonic() - self._created >= grace

    def _fit_fallback(self, as_of: float) -> None:
        """Fit the fallback forest on the population while no model is published (fixed
        random_state: the same frame gives the same model in every process)."""
        if self.redis_version is not None:
            return
        model = fit_fallback(
            self.population,
            min_events=self.settings.min_events,
            contamination=self.settings.contamination,
        )
        if model is not None:
            self.model, self.model_version = model, f"population-fit@{rfc3339(as_of)}"

    def _compute_population(self) -> bool:
        """The population job: compute the snapshot and publish it (fenced)."""
        as_of = stream_clock(self.client, self.keys)
        if as_of is None:
            return False
        with self.lease.kept_alive():
            states = self.window_states(self.active_accounts(), as_of, with_links=True)
            self.population = feature_frame(states, as_of)
            self._fit_fallback(as_of)
            result = self._link_result(states)
        self.clusters = result.account_verdicts() if result is not None else {}
        self.population_as_of = as_of
        self.population_computed += 1
        metrics.POPULATION_REFRESHES.inc()
        # linking may have outlived the lease: publish nothing unless it is still ours
        # (the snapshot itself is fenced again inside Redis)
        if not self.lease.renew(handover=False):
            metrics.POPULATION_LEADER.set(0)
            log.warning("population lease lost while computing; snapshot not published")
            return True
        if result is not None:
            self._publish_clusters(result, as_of)
        self._publish_population(as_of)
        version = publish_snapshot(
            self.client,
            self.keys,
            owner=self.lease.owner,
            fence=self.lease.fence,
            as_of=as_of,
            frame=self.population,
            clusters=self.clusters,
            model_version=self.model_version,
            ttl_s=self.settings.bucket_ttl_s,
        )
        if version is None:
            self.lease.held = False
            metrics.POPULATION_LEADER.set(0)
            log.warning("population snapshot refused: fenced off by a newer lease holder")
        else:
            self.snapshot_version = version
            metrics.POPULATION_LAST_REFRESH.set(time.time())
        return True

    def _load_population(self, force: bool) -> bool:
        """Load the latest published snapshot if its version moved."""
        now = time.monotonic()
        if not force and now - self._snapshot_polled < self.lease.check_every_s:
            return False
        self._snapshot_polled = now
        version = snapshot_version(self.client, self.keys)
        if version is None or version == self.snapshot_version:
            return False
        try:
            snap = read_snapshot(self.client, self.keys)
        except Exception as exc:  # a bad snapshot must not stop scoring: keep the last one
            log.error("cannot load population snapshot %s: %s", version, exc)
            self.snapshot_version = version
            return False
        if snap is None:
            return False
        self.population = snap.frame
        self.clusters = snap.clusters
        self._fit_fallback(snap.as_of)
        self.snapshot_version = snap.version
        self.population_as_of = snap.as_of
        self.population_loaded += 1
        metrics.POPULATION_LAST_REFRESH.set(snap.published_at)
        return True

    def close(self) -> None:
        """Give the population lease up (clean shutdown) so another process takes it at
        once instead of after its TTL."""
        try:
            self.lease.release()
        except Exception as exc:  # shutting down: Redis may be gone already
            log.warning("could not release the population lease: %s", exc)
        metrics.POPULATION_LEADER.set(0)

    def _publish_population(self, as_of: float) -> None:
        """Feature percentiles of the population and the model in use, for the APIs."""
        pop = self.population
        percentiles: dict[str, dict[str, float]] = {}
        if len(pop):
            q = pop.quantile([0.5, 0.9, 0.99], numeric_only=True)
            for name in q.columns:
                col = q[name].to_numpy(dtype=float)
                percentiles[str(name)] = {
                    "p50": round(float(col[0]), 6),
                    "p90": round(float(col[1]), 6),
                    "p99": round(float(col[2]), 6),
                }
        doc = {"as_of": as_of, "n_accounts": len(pop), "percentiles": percentiles}
        pipe = self.client.pipeline(transaction=False)
        pipe.set(self.keys.population, orjson.dumps(doc), ex=self.settings.bucket_ttl_s)
        pipe.set(self.keys.model_active, self.model_version)
        # alert hashes expire with the window; drop their index entries with them
        pipe.zremrangebyscore(
            self.keys.alerts_index, "-inf", time.time() - self.settings.bucket_ttl_s
        )
        pipe.execute()

    def _link_result(self, states: dict[str, Any]) -> Any:
        """Account linking over ``states`` (a ``LinkResult``), or None."""
        if len(states) < 2:
            return None
        try:
            from detector.linking import link_accounts

            return link_accounts(states)
        except Exception as exc:  # linking is an extra signal: never stop scoring for it
            if not self._link_warned:
                log.warning("account linking unavailable on streaming state: %s", exc)
                self._link_warned = True
            return None

    def _publish_clusters(self, result: Any, as_of: float) -> None:
        """The linked clusters, for the APIs and the dashboard."""
        pipe = self.client.pipeline(transaction=True)
        pipe.delete(self.keys.clusters)
        for c in result.clusters:
            doc = c.to_dict(with_edges=True)
            doc["edges"] = doc["edges"][:_MAX_EDGES]
            doc["as_of"] = as_of
            pipe.hset(
                self.keys.clusters,
                c.cluster_id,
                orjson.dumps(doc, option=orjson.OPT_SERIALIZE_NUMPY),
            )
        pipe.expire(self.keys.clusters, self.settings.bucket_ttl_s)
        pipe.execute()

    # -- scoring ---------------------------------------------------------------------
    def pop_dirty(self, cutoff: float, limit: int) -> list[str]:
        """Take up to ``limit`` accounts dirty since before ``cutoff`` (wall seconds)."""
        out: list[str] = []
        for part in self.keys.parts():  # one script per partition: one slot each
            if len(out) >= limit:
                break
            items = run_script(self.client, POP_READY, [part.dirty], [cutoff, limit - len(out)])
            out.extend(a.decode() if isinstance(a, bytes) else a for a in items)
        return out

    def tick(self, flush: bool = False) -> int:
        """Score the accounts that are due; returns how many were scored.

        Parameters
        ----------
        flush : bool
            Ignore the debounce and score every dirty account now.
        """
        self.poll_model()
        self.refresh_population()
        if not self.population_ready():
            return 0  # accounts stay dirty: the lease holder (or we, later) score them
        now = time.time()
        cutoff = now if flush else now - self.settings.score_debounce_s
        total = 0
        while True:
            accounts = self.pop_dirty(cutoff, self.settings.score_batch)
            if not accounts:
                return total
            total += self.score(accounts)
            if not flush:
                return total

    def score(self, accounts: list[str], as_of: float | None = None) -> int:
        """Score ``accounts`` now and store their verdicts and alerts; returns the count."""
        as_of = stream_clock(self.client, self.keys) if as_of is None else as_of
        if as_of is None or not accounts:
            return 0
        states = self.window_states(accounts, as_of)
        gone = [a for a in accounts if a not in states]
        if gone:
            self._forget(gone, as_of)
        if not states:
            return 0
        features = feature_frame(states, as_of)
        verdicts = self.verdicts(features, as_of)
        scored_at = self._write(verdicts, features, states, as_of)
        self.scored += len(verdicts)
        metrics.SCORER_RUNS.inc()
        metrics.SCORER_LAST_RUN.set(scored_at)
        return len(verdicts)

    def verdicts(self, features: pd.DataFrame, as_of: float) -> list[AccountVerdict]:
        """Rules, model and fusion for ``features``, ranked against the population."""
        others = self.population.drop(index=features.index, errors="ignore")
        frame = pd.concat([features, others]) if len(others) else features
        allowed = {a for a in features.index if self.allowlist.is_allowed(a, as_of)}
        verdicts, _hits, model = score_accounts(
            frame,
            rules=self.rules,
            allowlisted=allowed,
            model=self.model,
            contamination=self.settings.contamination,
            min_events=self.settings.min_events,
            clusters=self.clusters or None,
        )
        if self.model is None and model is not None:
            self.model, self.model_version = model, f"population-fit@{rfc3339(as_of)}"
        wanted = set(features.index)
        return [v for v in verdicts if v.account_id in wanted]

    def _forget(self, accounts: list[str], as_of: float) -> None:
        pipe = self.client.pipeline(transaction=False)
        for acct in accounts:
            pipe.delete(self.keys.score(acct), self.keys.features(acct))
            pipe.zrem(self.keys.risk, acct)
        pipe.execute()
        for acct in accounts:
            sync_account_alert(
                self.client,
                self.keys,
                acct,
                None,
                as_of=as_of,
                maxlen=self.settings.alerts_maxlen,
                ttl=self.settings.bucket_ttl_s,
            )

    def _alerts_for(
        self,
        verdicts: list[AccountVerdict],
        features: pd.DataFrame,
        states: dict[str, Any],
        as_of: float,
    ) -> dict[str, dict[str, Any]]:
        """Alertmanager-shaped alert of every verdict whose action warrants one."""
        out: dict[str, dict[str, Any]] = {}
        for v in verdicts:
            if v.action not in self.settings.alert_actions:
                continue
            row = features.loc[v.account_id]
            first = states[v.account_id].first_ts
            out[v.account_id] = verdict_alert(
                v,
                row,
                starts_at=float(first) if math.isfinite(first) else as_of,
                model_version=self.model_version,
            )
        return out

    def _write(
        self,
        verdicts: list[AccountVerdict],
        features: pd.DataFrame,
        states: dict[str, Any],
        as_of: float,
    ) -> float:
        """Store verdicts, features, history and alerts; returns the wall time of the pass
        (also stamped as ``last_scored_at`` in the stats hash)."""
        now = time.time()
        ttl = self.settings.bucket_ttl_s
        alerts = self._alerts_for(verdicts, features, states, as_of)
        # what we need to know first: last history snapshot, analyst suppressions
        pipe = self.client.pipeline(transaction=False)
        for v in verdicts:
            pipe.lindex(self.keys.history(v.account_id), 0)
        fps = [a["fingerprint"] for a in alerts.values()]
        if fps:
            pipe.hmget(self.keys.suppressions, fps)
        replies = pipe.execute()
        last = dict(zip((v.account_id for v in verdicts), replies[: len(verdicts)], strict=True))
        marks = dict(zip(fps, replies[len(verdicts)] if fps else [], strict=True))

        pipe = self.client.pipeline(transaction=False)
        for v in verdicts:
            row = features.loc[v.account_id]
            action, reasons, suppressed_by = v.action, list(v.reasons), ""
            alert = alerts.get(v.account_id)
            mark = marks.get(alert["fingerprint"]) if alert is not None else None
            if mark is not None:
                who = orjson.loads(mark).get("by", "an analyst")
                action, suppressed_by = "allow", str(who)
                reasons.insert(0, f"this alert was marked a false positive by {who}")
            record = ScoreRecord(
                risk=float(v.risk),
                action=action,
                reasons=reasons,
                rule_ids=v.rule_ids,
                families=v.families,
                anomaly_percentile=float(v.anomaly_percentile),
                evidence=float(v.evidence.get("evidence", 0.0)),
                purpose=float(v.evidence.get("purpose", 0.0)),
                cluster_id=v.cluster_id or "",
                allowlisted=bool(v.allowlisted),
                suppressed=bool(suppressed_by),
                suppressed_by=suppressed_by,
                model_version=self.model_version,
                scored_at=rfc3339(now),
                as_of=float(as_of),
                window_hours=int(self.settings.window_hours),
                n_events=int(row["n_events"]),
            )
            write_score(pipe, self.keys, v.account_id, record, ttl)
            pipe.hset(
                self.keys.features(v.account_id),
                mapping={k: repr(float(x)) for k, x in row.items()},
            )
            pipe.expire(self.keys.features(v.account_id), ttl)
            pipe.zadd(self.keys.risk, {v.account_id: float(v.risk)})
            snap = _snapshot(v, action, row, now, as_of)
            if _history_due(last.get(v.account_id), snap):
                hkey = self.keys.history(v.account_id)
                pipe.lpush(hkey, orjson.dumps(snap))
                pipe.ltrim(hkey, 0, HISTORY_LEN - 1)
                pipe.expire(hkey, ttl)
        pipe.hset(self.keys.stats, "last_scored_at", repr(now))
        pipe.execute()
        for v in verdicts:
            outcome = sync_account_alert(
                self.client,
                self.keys,
                v.account_id,
                alerts.get(v.account_id),
                as_of=as_of,
                maxlen=self.settings.alerts_maxlen,
                ttl=ttl,
                now=now,
            )
            if outcome == "fired":
                self.alerts_fired += 1
        return now


def _snapshot(
    v: AccountVerdict, action: str, row: pd.Series, now: float, as_of: float
) -> dict[str, Any]:
    return {
        "t": round(now, 3),
        "as_of": float(as_of),
        "risk": round(float(v.risk), 4),
        "action": action,
        "rule_ids": list(v.rule_ids),
        "n_events": int(row["n_events"]),
        "features": {n: round(float(row[n]), 4) for n in EVIDENCE_FEATURES},
    }


def _history_due(last_raw: Any, snap: dict[str, Any]) -> bool:
    """A snapshot is kept when the verdict changed or every HISTORY_EVERY_S of event time."""
    if last_raw is None:
        return True
    try:
        last = orjson.loads(last_raw)
    except orjson.JSONDecodeError:
        return True
    return (
        last.get("action") != snap["action"]
        or abs(float(last.get("risk", 0.0)) - snap["risk"]) >= 0.02
        or snap["as_of"] - float(last.get("as_of", 0.0)) >= HISTORY_EVERY_S
    )
