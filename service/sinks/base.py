"""What every sink shares: alert entries, HTTP delivery outcomes and backoff.

An :class:`AlertEntry` is one entry of the alerts stream (``firing``, ``resolved`` or
``false_positive``) with the Alertmanager-shaped alert it concerns. A sink turns a batch
of them into one HTTP request; :meth:`HttpSink.post` classifies the answer:

* 2xx: delivered;
* connection errors, timeouts, 408, 429 and 5xx: :class:`DeliveryError` with
  ``retryable=True`` (``Retry-After`` is honoured when given in seconds);
* any other status (3xx, 4xx): ``retryable=False``; 400, 413 and 422 mark the batch as
  ``splittable`` (one bad alert, or a batch too large: retry the alerts one by one).
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import orjson

from detector.alerts import rfc3339
from service import metrics
from service.redis_values import text as _text

__all__ = [
    "AlertEntry",
    "DeliveryError",
    "HttpSink",
    "backoff_delay",
    "decode_entry",
    "entry_time",
]

log = logging.getLogger("distillwatch.sinks")

#: statuses of a 4xx answer that are worth retrying
RETRYABLE_4XX = frozenset({408, 429})
#: statuses that blame the payload: retrying alerts one by one may isolate the bad one
SPLITTABLE = frozenset({400, 413, 422})


class DeliveryError(Exception):
    """A delivery attempt failed.

    Parameters
    ----------
    message : str
        What happened (no payload: it may be large).
    retryable : bool
        Whether another attempt may succeed.
    status : int, optional
        HTTP status of the answer, when there was one.
    retry_after : float, optional
        Seconds the receiver asked to wait (``Retry-After``).
    splittable : bool
        The receiver rejected the payload itself: deliver the alerts one by one.
    """

    def __init__(
        self,
        message: str,
        *,
        retryable: bool,
        status: int | None = None,
        retry_after: float | None = None,
        splittable: bool = False,
    ) -> None:
        super().__init__(message)
        self.retryable = retryable
        self.status = status
        self.retry_after = retry_after
        self.splittable = splittable


def entry_time(entry_id: str) -> float:
    """Wall time (epoch seconds) at which a stream entry was added, from its id."""
    return int(entry_id.split("-", 1)[0]) / 1000.0


@dataclass(slots=True)
class AlertEntry:
    """One alert lifecycle entry of the alerts stream.

    Attributes
    ----------
    id : str
        Stream entry id (unique, increasing): receivers may dedupe on it.
    fingerprint, status, account_id : str
        Identity and transition (``firing``, ``resolved``, ``false_positive``).
    fields : dict
        Every field of the entry (decoded), ``alert`` excepted.
    alert : dict or None
        The Alertmanager-shaped alert (labels, annotations, startsAt, ...); for entries
        without one (resolutions), read from the alert's hash by the consumer.
    """

    id: str
    fingerprint: str
    status: str
    account_id: str
    fields: dict[str, str]
    alert: dict[str, Any] | None = None

    @property
    def at(self) -> float:
        """Wall time of the transition (the entry's id)."""
        return entry_time(self.id)

    def as_json(self) -> dict[str, Any]:
        """The entry as the webhook sends it."""
        out: dict[str, Any] = {
            "id": self.id,
            "at": rfc3339(self.at),
            "fingerprint": self.fingerprint,
            "status": self.status,
            "account_id": self.account_id,
        }
        for name in ("severity", "action"):
            if name in self.fields:
                out[name] = self.fields[name]
        for name in ("risk", "as_of"):
            if name in self.fields:
                try:
                    out[name] = float(self.fields[name])
                except ValueError:
                    out[name] = self.fields[name]
        out["alert"] = self.alert
        return out


def decode_entry(entry_id: Any, raw: Mapping[Any, Any]) -> AlertEntry:
    """Decode one raw stream entry.

    Raises
    ------
    ValueError
        When a required field is missing or ``alert`` is not a JSON object.
    """
    fields = {_text(k): _text(v) for k, v in raw.items()}
    try:
        fp, status = fields["fingerprint"], fields["status"]
    except KeyError as exc:
        raise ValueError(f"entry without {exc.args[0]}") from None
    alert = None
    blob = fields.pop("alert", None)
    if blob:
        try:
            alert = orjson.loads(blob)
        except orjson.JSONDecodeError as exc:
            raise ValueError(f"alert is not JSON: {exc}") from None
        if not isinstance(alert, dict):
            raise ValueError("alert is not a JSON object")
    return AlertEntry(
        id=_text(entry_id),
        fingerprint=fp,
        status=status,
        account_id=fields.get("account_id", ""),
        fields=fields,
        alert=alert,
    )


def backoff_delay(attempt: int, base: float, cap: float, rng: random.Random | None = None) -> float:
    """Seconds to wait after failed attempt number ``attempt`` (1-based).

    Exponential (``base * 2**(attempt - 1)``, at most ``cap``) with "equal jitter": a
    uniform draw in [delay / 2, delay], so sinks restarted together do not retry in step.
    """
    delay = min(cap, base * (2 ** max(attempt - 1, 0)))
    draw = (rng or random).random()
    return delay / 2 + draw * delay / 2


def _retry_after(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return max(float(value), 0.0)
    except ValueError:  # an HTTP date: ignore, use our own backoff
        return None


class HttpSink:
    """Base of the HTTP sinks: one :class:`httpx.AsyncClient`, classified outcomes.

    Subclasses set :attr:`name` and implement :meth:`send`; :meth:`tick` runs between
    batches (periodic work such as Alertmanager's re-send).

    Parameters
    ----------
    timeout_s : float
        Budget of one attempt (connect, write, read).
    """

    name = "http"

    def __init__(self, timeout_s: float) -> None:
        self.timeout_s = timeout_s
        self._client: Any = None

    async def open(self) -> None:
        """Create the HTTP client (idempotent)."""
        if self._client is None:
            import httpx

            self._client = httpx.AsyncClient(
                timeout=self.timeout_s,
                follow_redirects=False,
                headers={"User-Agent": "distillwatch-sink"},
            )

    async def close(self) -> None:
        """Close the HTTP client."""
        if self._client is not None:
            client, self._client = self._client, None
            await client.aclose()

    async def send(self, alerts: list[AlertEntry]) -> int:
        """Deliver ``alerts`` in one request; returns how many were sent (some sinks skip
        entries they cannot express).

        Raises
        ------
        DeliveryError
            When the attempt failed.
        """
        raise NotImplementedError

    async def tick(self, client: Any, keys: Any) -> None:
        """Periodic work between batches (default: none)."""

    async def post(self, url: str, body: bytes, headers: Mapping[str, str]) -> int:
        """POST ``body`` to ``url``; returns the (2xx) status.

        Raises
        ------
        DeliveryError
            Classified as described in the module docstring.
        """
        import httpx

        await self.open()
        started = time.perf_counter()
        try:
            resp = await self._client.post(url, content=body, headers=dict(headers))
        except httpx.TimeoutException as exc:
            raise DeliveryError(f"timeout: {type(exc).__name__}", retryable=True) from None
        except httpx.HTTPError as exc:
            raise DeliveryError(f"transport: {type(exc).__name__}: {exc}", retryable=True) from None
        finally:
            metrics.SINK_LATENCY.labels(self.name).observe(time.perf_counter() - started)
        status = resp.status_code
        if 200 <= status < 300:
            return status
        retryable = status >= 500 or status in RETRYABLE_4XX
        detail = " ".join(resp.text[:200].split()) if resp.content else ""
        raise DeliveryError(
            f"HTTP {status}: {detail}" if detail else f"HTTP {status}",
            retryable=retryable,
            status=status,
            retry_after=_retry_after(resp.headers.get("retry-after")) if retryable else None,
            splittable=status in SPLITTABLE,
        )
