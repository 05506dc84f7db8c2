"""Every Redis key name the service uses, in one place.

Partitioned layout (issue 13). Accounts fall into ``partitions`` partitions (CRC-32 of the
account id modulo P, :meth:`Keys.partition_of`). Every key of one partition carries the
same hash tag ``{pN}``: its events stream, dedupe markers, dirty / accounts sets, clock,
pipeline counters, dead letters, worker leases and every per-account key of its accounts.
Each Lua script and each MULTI/EXEC therefore touches one slot, and the same layout runs
unchanged on one Redis and on a Redis Cluster. The tag comes first in the key, so an
account id that holds braces cannot move its keys to another slot. Population-wide keys
(alerts, risk index, clusters, model, sessions) are single keys read whole; readers merge
the per-partition ones (:meth:`Keys.parts`). ``dw:layout`` records P: processes started
with another P refuse to run (:func:`service.stream.layout.check_layout`).

Layout (prefix ``dw`` by default)::

    dw:layout                      JSON: the partition count P the data was written with
    dw:{pN}:events                 stream of canonical events of partition N (no prompt text)
    dw:quarantine                  stream of rejected records (reason, source, line, raw)
    dw:{pN}:deadletter             stream of entries that failed K deliveries
    dw:{alerts}                    stream of alert lifecycle entries (firing / resolved)
    dw:{alerts}:sink:<name>:deadletter  stream of alert batches a sink could not deliver
    dw:{pN}:d:<request_id>         idempotency marker (SET NX EX)
    dw:{pN}:clock                  largest event time processed (the stream's "now": the
                                   maximum over partitions)
    dw:{pN}:dirty                  ZSET account -> first touch since last scoring (wall s)
    dw:{pN}:accounts               ZSET account -> last touch (wall s): the population
    dw:{pN}:stats                  HASH: the workers' counters of partition N (processed,
                                   deadlettered); ingest's are in dw:stats
    dw:risk                        ZSET account -> current risk
    dw:{pN}:lease:<consumer>       bumped when another consumer takes this one's entries
    dw:{model}:current             version of the current anomaly model
    dw:{model}:<version>           signed model blob;  dw:{model}:<version>:meta  JSON
    dw:alert:{<fingerprint>}       HASH: current state of one alert
    dw:alerts:index                ZSET fingerprint -> last update (wall s)
    dw:alert:{<fp>}:notes          LIST of JSON notes and triage actions (who, when, what)
    dw:suppressions                HASH fingerprint -> JSON (who, when, note): alerts marked
                                   false positive; re-scoring never fires them again
    dw:clusters                    HASH cluster id -> JSON cluster (members, evidence, links)
    dw:population                  JSON: feature percentiles of the scored population
    dw:{model}:active              version the scorers use now (published or population fit)
    dw:rules:version               bumped by a rules reload; scorers reload when it moves
    dw:jobs:<id>                   HASH: state of an admin job (retrain)
    dw:decisions                   ZSET account -> time of its analyst decision (wall s): the
                                   accounts having a ``dw:{pN}:a:<acct>:decision`` hash
    dw:{pN}:a:<acct>:r:<hour>      STRING: window state of one event hour, binary records
                                   appended by the workers (counters, histograms, first /
                                   last, active minutes, exact sets or HLL registers of
                                   every sketch, heavy hitters; service.stream.state_store)
    dw:{pN}:a:<acct>:score      HASH: risk, action, reasons, model version (O(1) read)
    dw:{pN}:a:<acct>:features   HASH: feature name -> value at the last scoring
    dw:{pN}:a:<acct>:alert      fingerprint of the account's open alert
    dw:{pN}:a:<acct>:history    LIST of JSON score snapshots, newest first (capped)
    dw:{pN}:a:<acct>:live       HASH: request-level signals sent by gateways in the live
                                   window (requests, score sum, per-signal counts)
    dw:{pN}:a:<acct>:decision   HASH: analyst decision (confirmed block, who, when, note)
    dw:session:<sha256 hex>        HASH: one dashboard session (name, role, csrf, created,
                                   last_seen), keyed by the SHA-256 of the cookie value;
                                   EXPIRE = idle timeout (service.ui.session)
    dw:rl:b:<token name>           HASH: exact token bucket of an analyst / admin token
                                   (level, at), PEXPIRE = time to refill
    dw:rl:w:{<token name>}:<sec>   STRING: requests a gateway token attempted in one wall
                                   second, summed over every service process (TTL 5 s;
                                   service.api.ratelimit)
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from typing import Any

__all__ = ["MAX_PARTITIONS", "Keys", "PartitionKeys"]

#: upper bound of ``partitions`` (a Redis Cluster has 16,384 slots)
MAX_PARTITIONS = 1024


@dataclass(frozen=True, slots=True)
class Keys:
    """Key names under one prefix.

    Parameters
    ----------
    prefix : str
        Namespace of every key (lets several deployments or tests share a Redis).
    """

    prefix: str = "dw"
    partitions: int = 1

    def __post_init__(self) -> None:
        if not 1 <= self.partitions <= MAX_PARTITIONS:
            raise ValueError(f"partitions must be in 1..{MAX_PARTITIONS}, got {self.partitions}")

    @classmethod
    def of(cls, settings: Any) -> Keys:
        """The key names of ``settings`` (its ``key_prefix`` and ``partitions``)."""
        return cls(settings.key_prefix, int(getattr(settings, "partitions", 1)))

    # -- partitions -----------------------------------------------------------------------
    def partition_of(self, account_id: str) -> int:
        """Partition of an account: CRC-32 of its UTF-8 bytes modulo ``partitions``
        (stable across processes, releases and machines)."""
        if self.partitions == 1:
            return 0
        raw = account_id.encode("utf-8", "surrogatepass")
        return zlib.crc32(raw) % self.partitions

    def part(self, index: int) -> PartitionKeys:
        """Key names of partition ``index``."""
        return PartitionKeys(self.prefix, index)

    def parts(self) -> list[PartitionKeys]:
        """Every partition's key names, in order."""
        return [PartitionKeys(self.prefix, i) for i in range(self.partitions)]

    def part_of(self, account_id: str) -> PartitionKeys:
        """Key names of the partition holding ``account_id``."""
        return self.part(self.partition_of(account_id))

    @property
    def layout(self) -> str:
        """JSON record of the partition count the data was written with."""
        return f"{self.prefix}:layout"

    # -- global ---------------------------------------------------------------------------
    @property
    def quarantine(self) -> str:
        """The quarantine stream."""
        return f"{self.prefix}:quarantine"

    @property
    def alerts(self) -> str:
        """The alerts stream (tag ``{alerts}``: a sink's ack and dead letter are atomic)."""
        return f"{self.prefix}:{{alerts}}"

    def sink_deadletter(self, sink: str) -> str:
        """Alert batches the sink ``sink`` could not deliver (stream)."""
        return f"{self.prefix}:{{alerts}}:sink:{sink}:deadletter"

    @property
    def alerts_index(self) -> str:
        """ZSET of alert fingerprints by last update."""
        return f"{self.prefix}:alerts:index"

    @property
    def risk(self) -> str:
        """Accounts by current risk."""
        return f"{self.prefix}:risk"

    @property
    def model_current(self) -> str:
        """Pointer to the current model version."""
        return f"{self.prefix}:{{model}}:current"

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
        return f"{self.prefix}:{{model}}:active"

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
        """Notes and triage trail of one alert (the alert's tag: same slot as its hash)."""
        return f"{self.prefix}:alert:{{{fingerprint}}}:notes"

    def model(self, version: str) -> str:
        """Blob of one model version."""
        return f"{self.prefix}:{{model}}:{version}"

    def model_meta(self, version: str) -> str:
        """Metadata (JSON) of one model version."""
        return f"{self.prefix}:{{model}}:{version}:meta"

    def alert(self, fingerprint: str) -> str:
        """Current state of one alert (tag ``{fingerprint}``: its hash and trail share a
        slot, so a triage transaction stays legal on a Redis Cluster)."""
        return f"{self.prefix}:alert:{{{fingerprint}}}"

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
        return f"{self.prefix}:rl:w:{{{name}}}:{second}"

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

    # -- per account (under its partition's tag) ---------------------------------------
    def account(self, account_id: str) -> str:
        """Common prefix of one account's keys."""
        return f"{self.part(self.partition_of(account_id)).tag}:a:{account_id}"

    def bucket(self, account_id: str, hour: int) -> str:
        """Window state (appended binary records) of one account-hour."""
        return f"{self.account(account_id)}:r:{hour}"

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


@dataclass(frozen=True, slots=True)
class PartitionKeys:
    """Key names of one partition: every one carries the tag ``{pN}`` (one cluster slot).

    Parameters
    ----------
    prefix : str
        Namespace of every key.
    index : int
        Partition number, 0 <= index < P.
    """

    prefix: str
    index: int

    @property
    def tag(self) -> str:
        """``<prefix>:{pN}``: the start of every key of the partition."""
        return f"{self.prefix}:{{p{self.index}}}"

    @property
    def events(self) -> str:
        """The partition's events stream."""
        return f"{self.tag}:events"

    @property
    def deadletter(self) -> str:
        """Entries of the partition that failed K deliveries (stream)."""
        return f"{self.tag}:deadletter"

    @property
    def clock(self) -> str:
        """Largest event time the partition's workers processed."""
        return f"{self.tag}:clock"

    @property
    def dirty(self) -> str:
        """Accounts of the partition waiting to be rescored."""
        return f"{self.tag}:dirty"

    @property
    def accounts(self) -> str:
        """Accounts of the partition with window state, by last touch."""
        return f"{self.tag}:accounts"

    @property
    def stats(self) -> str:
        """HASH of the workers' counters on this partition (processed, deadlettered)."""
        return f"{self.tag}:stats"

    def lease(self, consumer: str) -> str:
        """Counter bumped when another consumer claims entries of ``consumer`` here."""
        return f"{self.tag}:lease:{consumer}"

    def dedupe(self, request_id: str) -> str:
        """Idempotency marker of one request id (of an event of this partition)."""
        return f"{self.tag}:d:{request_id}"
