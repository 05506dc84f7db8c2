"""Every Redis key name the service uses, in one place.

Per-account keys carry the account id in a hash tag (``{account}``) so that a Redis
Cluster puts all of one account's buckets and score in the same slot: the per-account
window read (one ``MGET`` of an account's hour buckets) stays legal when sharded by account.
Global keys (streams, the dirty set, the model pointer) have no tag.

Layout (prefix ``dw`` by default)::

    dw:events                      stream of canonical events (no prompt text)
    dw:quarantine                  stream of rejected records (reason, source, line, raw)
    dw:deadletter                  stream of entries that failed K deliveries
    dw:alerts                      stream of alert lifecycle entries (firing / resolved)
    dw:sink:<name>:deadletter      stream of alert batches a sink could not deliver
    dw:d:<request_id>              idempotency marker (SET NX EX)
    dw:clock                       largest event time processed (the stream's "now")
    dw:dirty                       ZSET account -> first touch since last scoring (wall s)
    dw:accounts                    ZSET account -> last touch (wall s): the population
    dw:risk                        ZSET account -> current risk
    dw:lease:<consumer>            bumped when another consumer takes this one's entries
    dw:model:current               version of the current anomaly model
    dw:model:<version>             pickled model blob;  dw:model:<version>:meta  JSON
    dw:alert:<fingerprint>         HASH: current state of one alert
    dw:alerts:index                ZSET fingerprint -> last update (wall s)
    dw:alert:<fingerprint>:notes   LIST of JSON notes and triage actions (who, when, what)
    dw:suppressions                HASH fingerprint -> JSON (who, when, note): alerts marked
                                   false positive; re-scoring never fires them again
    dw:clusters                    HASH cluster id -> JSON cluster (members, evidence, links)
    dw:population                  JSON: feature percentiles of the scored population
    dw:model:active                version the scorers use now (published or population fit)
    dw:rules:version               bumped by a rules reload; scorers reload when it moves
    dw:jobs:<id>                   HASH: state of an admin job (retrain)
    dw:decisions                   ZSET account -> time of its analyst decision (wall s): the
                                   accounts having a ``dw:a:{acct}:decision`` hash
    dw:a:{acct}:r:<hour>           STRING: window state of one event hour, binary records
                                   appended by the workers (counters, histograms, first /
                                   last, active minutes, exact sets or HLL registers of
                                   every sketch, heavy hitters; service.stream.state_store)
    dw:a:{acct}:score              HASH: risk, action, reasons, model version (O(1) read)
    dw:a:{acct}:features           HASH: feature name -> value at the last scoring
    dw:a:{acct}:alert              fingerprint of the account's open alert
    dw:a:{acct}:history            LIST of JSON score snapshots, newest first (capped)
    dw:a:{acct}:live               HASH: request-level signals sent by gateways in the live
                                   window (requests, score sum, per-signal counts)
    dw:a:{acct}:decision           HASH: analyst decision (confirmed block, who, when, note)
    dw:session:<sha256 hex>        HASH: one dashboard session (name, role, csrf, created,
                                   last_seen), keyed by the SHA-256 of the cookie value;
                                   EXPIRE = idle timeout (service.ui.session)
    dw:rl:b:<token name>           HASH: exact token bucket of an analyst / admin token
                                   (level, at), PEXPIRE = time to refill
    dw:rl:w:<token name>:<second>  STRING: requests a gateway token attempted in one wall
                                   second, summed over every service process (TTL 5 s;
                                   service.api.ratelimit)
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Keys"]


@dataclass(frozen=True, slots=True)
class Keys:
    """Key names under one prefix.

    Parameters
    ----------
    prefix : str
        Namespace of every key (lets several deployments or tests share a Redis).
    """

    prefix: str = "dw"

    # -- global ---------------------------------------------------------------------------
    @property
    def events(self) -> str:
        """The events stream."""
        return f"{self.prefix}:events"

    @property
    def quarantine(self) -> str:
        """The quarantine stream."""
        return f"{self.prefix}:quarantine"

    @property
    def deadletter(self) -> str:
        """The dead-letter stream."""
        return f"{self.prefix}:deadletter"

    @property
    def alerts(self) -> str:
        """The alerts stream."""
        return f"{self.prefix}:alerts"

    def sink_deadletter(self, sink: str) -> str:
        """Alert batches the sink ``sink`` could not deliver (stream)."""
        return f"{self.prefix}:sink:{sink}:deadletter"

    @property
    def alerts_index(self) -> str:
        """ZSET of alert fingerprints by last update."""
        return f"{self.prefix}:alerts:index"

    @property
    def clock(self) -> str:
        """Largest event time processed."""
        return f"{self.prefix}:clock"

    @property
    def dirty(self) -> str:
        """Accounts waiting to be rescored."""
        return f"{self.prefix}:dirty"

    @property
    def accounts(self) -> str:
        """Accounts with window state, by last touch."""
        return f"{self.prefix}:accounts"

    @property
    def risk(self) -> str:
        """Accounts by current risk."""
        return f"{self.prefix}:risk"

    @property
    def model_current(self) -> str:
        """Pointer to the current model version."""
        return f"{self.prefix}:model:current"

    @property
    def stats(self) -> str:
        """HASH of pipeline counters (ingested, duplicates, quarantined, ...)."""
        return f"{self.prefix}:stats"

    @property
    def suppressions(self) -> str:
        """Alerts marked false positive (fingerprint -> JSON record)."""
        return f"{self.prefix}:suppressions"

    @property
    def clusters(self) -> str:
        """Linked clusters of the last population refresh (cluster id -> JSON)."""
        return f"{self.prefix}:clusters"

    @property
    def population(self) -> str:
        """Feature percentiles of the scored population (JSON)."""
        return f"{self.prefix}:population"

    @property
    def model_active(self) -> str:
        """The model version the scorers use now."""
        return f"{self.prefix}:model:active"

    @property
    def rules_version(self) -> str:
        """Counter bumped by a rules reload."""
        return f"{self.prefix}:rules:version"

    @property
    def decisions(self) -> str:
        """Accounts with an analyst decision (account -> decided at, wall s)."""
        return f"{self.prefix}:decisions"

    def job(self, job_id: str) -> str:
        """State of one admin job."""
        return f"{self.prefix}:jobs:{job_id}"

    def alert_notes(self, fingerprint: str) -> str:
        """Notes and triage trail of one alert."""
        return f"{self.prefix}:alert:{fingerprint}:notes"

    def model(self, version: str) -> str:
        """Blob of one model version."""
        return f"{self.prefix}:model:{version}"

    def model_meta(self, version: str) -> str:
        """Metadata (JSON) of one model version."""
        return f"{self.prefix}:model:{version}:meta"

    def lease(self, consumer: str) -> str:
        """Counter bumped when another consumer claims entries of ``consumer``."""
        return f"{self.prefix}:lease:{consumer}"

    def dedupe(self, request_id: str) -> str:
        """Idempotency marker of one request id."""
        return f"{self.prefix}:d:{request_id}"

    def alert(self, fingerprint: str) -> str:
        """Current state of one alert."""
        return f"{self.prefix}:alert:{fingerprint}"

    # -- replicas: shared dashboard sessions and per-token rate limits ----------------------
    def session(self, digest: str) -> str:
        """One dashboard session, by the SHA-256 hex digest of its cookie value."""
        return f"{self.prefix}:session:{digest}"

    @property
    def session_pattern(self) -> str:
        """``SCAN`` pattern of every session key."""
        return f"{self.prefix}:session:*"

    def rate_bucket(self, name: str) -> str:
        """Exact token bucket of the token called ``name`` (analyst and admin roles)."""
        return f"{self.prefix}:rl:b:{name}"

    def rate_window(self, name: str, second: int) -> str:
        """Requests the token ``name`` attempted in wall second ``second`` (all processes)."""
        return f"{self.prefix}:rl:w:{name}:{second}"

    # -- population job (issue 13.2; helper K's block) -------------------------------------
    # dw:{population}:lease      STRING owner of the population job, PX = lease TTL
    # dw:{population}:fence      counter bumped on every acquisition (fencing token)
    # dw:{population}:version    counter bumped on every published snapshot
    # dw:{population}:snapshot   HASH: version, fence, owner, as_of, published_at, format,
    #                            frame (Arrow IPC), clusters (JSON), model_version
    # dw:{population}:preferred  STRING: a dedicated `distillwatch scorer` is alive
    # (hash tag {population}: the lease and publish scripts stay legal on a Redis Cluster)
    @property
    def population_lease(self) -> str:
        """Owner of the population job (service.stream.population)."""
        return f"{self.prefix}:{{population}}:lease"

    @property
    def population_fence(self) -> str:
        """Fencing token of the population lease."""
        return f"{self.prefix}:{{population}}:fence"

    @property
    def population_version(self) -> str:
        """Counter of published population snapshots."""
        return f"{self.prefix}:{{population}}:version"

    @property
    def population_snapshot(self) -> str:
        """The latest population snapshot (HASH)."""
        return f"{self.prefix}:{{population}}:snapshot"

    @property
    def population_preferred(self) -> str:
        """Set while a dedicated scorer wants the population lease."""
        return f"{self.prefix}:{{population}}:preferred"

    # -- end of helper K's block ----------------------------------------------------------

    # -- per account (hash-tagged) --------------------------------------------------------
    def account(self, account_id: str) -> str:
        """Common prefix of one account's keys."""
        return f"{self.prefix}:a:{{{account_id}}}"

    def bucket(self, account_id: str, hour: int) -> str:
        """Window state (appended binary records) of one account-hour."""
        return f"{self.prefix}:a:{{{account_id}}}:r:{hour}"

    def score(self, account_id: str) -> str:
        """Current verdict of the account."""
        return f"{self.account(account_id)}:score"

    def features(self, account_id: str) -> str:
        """Feature values at the last scoring."""
        return f"{self.account(account_id)}:features"

    def account_alert(self, account_id: str) -> str:
        """Fingerprint of the account's open alert."""
        return f"{self.account(account_id)}:alert"

    def history(self, account_id: str) -> str:
        """Score snapshots of the account, newest first."""
        return f"{self.account(account_id)}:history"

    def live(self, account_id: str) -> str:
        """Request-level signals of the account in the live window."""
        return f"{self.account(account_id)}:live"

    def decision(self, account_id: str) -> str:
        """Analyst decision on the account (confirmed block)."""
        return f"{self.account(account_id)}:decision"
