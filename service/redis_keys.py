"""Every Redis key name the service uses, in one place.

Per-account keys carry the account id in a hash tag (``{account}``) so that a Redis
Cluster puts all of one account's buckets, sketches and score in the same slot: the
per-account Lua scripts and multi-key ``PFCOUNT`` stay legal when sharded by account.
Global keys (streams, the dirty set, the model pointer) have no tag.

Layout (prefix ``dw`` by default)::

    dw:events                      stream of canonical events (no prompt text)
    dw:quarantine                  stream of rejected records (reason, source, line, raw)
    dw:deadletter                  stream of entries that failed K deliveries
    dw:alerts                      stream of alert lifecycle entries (firing / resolved)
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
    dw:a:{acct}:b:<hour>           HASH: additive counts, histograms, first/last, minute
                                   MinHash (``mh``) of one event hour
    dw:a:{acct}:b:<hour>:h:<name>  HyperLogLog of one distinct-count sketch
    dw:a:{acct}:b:<hour>:t:<name>  ZSET heavy hitters (value -> count), trimmed
    dw:a:{acct}:last               last event time seen (inter-arrival gaps across batches)
    dw:a:{acct}:score              HASH: risk, action, reasons, model version (O(1) read)
    dw:a:{acct}:features           HASH: feature name -> value at the last scoring
    dw:a:{acct}:alert              fingerprint of the account's open alert
"""

from __future__ import annotations

from dataclasses import dataclass

from detector.aggregates import SKETCHES, TOPS

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

    # -- per account (hash-tagged) --------------------------------------------------------
    def account(self, account_id: str) -> str:
        """Common prefix of one account's keys."""
        return f"{self.prefix}:a:{{{account_id}}}"

    def bucket(self, account_id: str, hour: int) -> str:
        """Counts and histograms of one account-hour."""
        return f"{self.account(account_id)}:b:{hour}"

    def hll(self, account_id: str, hour: int, name: str) -> str:
        """HyperLogLog ``name`` of one account-hour."""
        return f"{self.bucket(account_id, hour)}:h:{name}"

    def top(self, account_id: str, hour: int, name: str) -> str:
        """Heavy hitters ``name`` of one account-hour."""
        return f"{self.bucket(account_id, hour)}:t:{name}"

    def bucket_keys(self, account_id: str, hour: int) -> list[str]:
        """Every key of one account-hour, in the order the update script expects."""
        return [
            self.bucket(account_id, hour),
            self.last_ts(account_id),
            *(self.hll(account_id, hour, name) for name in SKETCHES),
            *(self.top(account_id, hour, name) for name in TOPS),
        ]

    def last_ts(self, account_id: str) -> str:
        """Last event time of the account (for gaps across batches)."""
        return f"{self.account(account_id)}:last"

    def score(self, account_id: str) -> str:
        """Current verdict of the account."""
        return f"{self.account(account_id)}:score"

    def features(self, account_id: str) -> str:
        """Feature values at the last scoring."""
        return f"{self.account(account_id)}:features"

    def account_alert(self, account_id: str) -> str:
        """Fingerprint of the account's open alert."""
        return f"{self.account(account_id)}:alert"
