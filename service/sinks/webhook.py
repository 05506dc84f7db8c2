"""The generic webhook sink: alerts POSTed as JSON, signed with HMAC-SHA256.

Request::

    POST <DISTILLWATCH_WEBHOOK_URL>
    Content-Type: application/json
    X-Distillwatch-Timestamp: 1718000000
    X-Distillwatch-Signature: sha256=<hex>

    {"version": "1", "alerts": [{"id": "...", "status": "firing", ...}, ...]}

The signature is ``HMAC-SHA256(secret, timestamp + "." + body)`` in hex, where
``timestamp`` is the header's value (Unix seconds, decimal) and ``body`` the raw bytes of
the request body. Every attempt is signed afresh, so a retry an hour later still carries
a recent timestamp. A receiver checks it with :func:`verify_signature` (or its own
equivalent: recompute, compare in constant time, reject old timestamps). Delivery is at
least once: receivers dedupe on each alert's ``id`` (the stream entry id).
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import time
from typing import Any

import orjson

from service.sinks.base import AlertEntry, HttpSink

__all__ = [
    "SIGNATURE_HEADER",
    "TIMESTAMP_HEADER",
    "WebhookSink",
    "sign",
    "verify_signature",
    "webhook_body",
]

log = logging.getLogger("distillwatch.sinks")

SIGNATURE_HEADER = "X-Distillwatch-Signature"
TIMESTAMP_HEADER = "X-Distillwatch-Timestamp"
PAYLOAD_VERSION = "1"


def _bytes(v: str | bytes) -> bytes:
    return v.encode() if isinstance(v, str) else v


def sign(secret: str | bytes, timestamp: str | int, body: bytes) -> str:
    """The signature header value: ``sha256=`` + hex HMAC of ``timestamp.body``.

    Parameters
    ----------
    secret : str or bytes
        The shared webhook secret.
    timestamp : str or int
        Unix seconds, as sent in ``X-Distillwatch-Timestamp``.
    body : bytes
        The exact request body.
    """
    mac = hmac.new(_bytes(secret), _bytes(str(timestamp)) + b"." + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def verify_signature(
    secret: str | bytes,
    timestamp: str | bytes | None,
    body: bytes,
    header: str | bytes | None,
    tolerance_s: float = 300.0,
    *,
    now: float | None = None,
) -> bool:
    """Check a webhook request's signature (for receivers; constant-time).

    Parameters
    ----------
    secret : str or bytes
        The shared webhook secret.
    timestamp : str or bytes or None
        Value of ``X-Distillwatch-Timestamp``.
    body : bytes
        The raw request body, exactly as received (before any JSON parsing).
    header : str or bytes or None
        Value of ``X-Distillwatch-Signature``.
    tolerance_s : float
        Largest accepted distance between the timestamp and ``now``, seconds (replay
        protection); ``0`` or less disables the check.
    now : float, optional
        Current time (default ``time.time()``).

    Returns
    -------
    bool
        True when the signature matches and the timestamp is fresh.
    """
    if not timestamp or not header:
        return False
    ts_text = timestamp.decode() if isinstance(timestamp, bytes) else timestamp
    try:
        ts = int(ts_text)
    except ValueError:
        return False
    now = time.time() if now is None else now
    if tolerance_s > 0 and abs(now - ts) > tolerance_s:
        return False
    expected = sign(secret, ts_text, body).encode()
    return hmac.compare_digest(expected, _bytes(header).strip())


def webhook_body(alerts: list[AlertEntry]) -> bytes:
    """The JSON body for a batch: ``{"version": "1", "alerts": [...]}``."""
    doc = {"version": PAYLOAD_VERSION, "alerts": [a.as_json() for a in alerts]}
    return orjson.dumps(doc, option=orjson.OPT_SERIALIZE_NUMPY)


class WebhookSink(HttpSink):
    """POST alert batches to a URL, signed when a secret is configured.

    Parameters
    ----------
    url : str
        Receiver URL.
    secret : str or None
        HMAC secret; without one requests go unsigned (a warning is logged once).
    timeout_s : float
        Budget of one attempt.
    """

    name = "webhook"

    def __init__(self, url: str, secret: str | None, timeout_s: float = 5.0) -> None:
        super().__init__(timeout_s)
        self.url = url
        self.secret = secret
        if not secret:
            log.warning("webhook sink: no DISTILLWATCH_WEBHOOK_SECRET, requests are unsigned")

    def headers(self, body: bytes, now: float | None = None) -> dict[str, str]:
        """Headers of one attempt (fresh timestamp and signature)."""
        ts = str(int(time.time() if now is None else now))
        out = {"Content-Type": "application/json", TIMESTAMP_HEADER: ts}
        if self.secret:
            out[SIGNATURE_HEADER] = sign(self.secret, ts, body)
        return out

    async def send(self, alerts: list[AlertEntry]) -> int:
        """POST the batch (see the module docstring)."""
        if not alerts:
            return 0
        body = webhook_body(alerts)
        await self.post(self.url, body, self.headers(body))
        return len(alerts)

    def describe(self) -> dict[str, Any]:
        """Where it sends (no secret)."""
        return {"sink": self.name, "url": self.url, "signed": bool(self.secret)}
