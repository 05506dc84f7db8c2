"""The generic webhook sink: alerts POSTed as JSON, signed with HMAC-SHA256.

Request::

    POST <DISTILLWATCH_WEBHOOK_URL>
    Content-Type: application/json
    X-Distillwatch-Timestamp: 1718000000
    X-Distillwatch-Signature: sha256=<hex>
    webhook-id: msg_<hex>
    webhook-timestamp: 1718000000
    webhook-signature: v1,<base64>

    {"version": "1", "alerts": [{"id": "...", "status": "firing", ...}, ...]}

Every request is signed twice, with the same key material:

* distillwatch's own scheme: ``X-Distillwatch-Signature`` is ``sha256=`` + the hex
  ``HMAC-SHA256(secret, timestamp + "." + body)``, where ``timestamp`` is
  ``X-Distillwatch-Timestamp`` (Unix seconds, decimal), ``body`` the raw request body and
  ``secret`` the UTF-8 bytes of ``DISTILLWATCH_WEBHOOK_SECRET`` exactly as configured;
  checked with :func:`verify_signature`.
* the `Standard Webhooks <https://www.standardwebhooks.com/>`_ scheme:
  ``webhook-signature`` is ``v1,`` + the base64 ``HMAC-SHA256(key, id + "." + timestamp +
  "." + body)`` with ``id`` = ``webhook-id`` and ``timestamp`` = ``webhook-timestamp``.
  The key is the base64-decoded rest of a ``whsec_<base64>`` secret, or the UTF-8 bytes
  of any other secret; a Standard Webhooks verifier is then given
  :func:`standard_secret` of it (``whsec_`` + base64 of those bytes).

Every attempt is signed afresh, so a retry an hour later still carries a recent
timestamp. ``webhook-id`` is derived from the stream ids of the batch (:func:`message_id`),
so every attempt of one batch carries the same id and receivers may dedupe on it; delivery
is at least once, and the finest dedupe key stays each alert's ``id`` (the stream entry
id): a batch redelivered by another consumer after a crash may be cut differently.
Without a secret, requests carry the ids and timestamps but no signature.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import logging
import time
from collections.abc import Sequence
from typing import Any

import orjson

from service.sinks.base import AlertEntry, HttpSink

__all__ = [
    "SIGNATURE_HEADER",
    "STANDARD_ID_HEADER",
    "STANDARD_SIGNATURE_HEADER",
    "STANDARD_TIMESTAMP_HEADER",
    "TIMESTAMP_HEADER",
    "WebhookSink",
    "message_id",
    "sign",
    "standard_key",
    "standard_secret",
    "standard_sign",
    "verify_signature",
    "webhook_body",
]

log = logging.getLogger("distillwatch.sinks")

SIGNATURE_HEADER = "X-Distillwatch-Signature"
TIMESTAMP_HEADER = "X-Distillwatch-Timestamp"
PAYLOAD_VERSION = "1"
#: Standard Webhooks headers (lower case, as the spec writes them)
STANDARD_ID_HEADER = "webhook-id"
STANDARD_TIMESTAMP_HEADER = "webhook-timestamp"
STANDARD_SIGNATURE_HEADER = "webhook-signature"
#: prefix of a Standard Webhooks secret (``whsec_`` + base64 of the key)
STANDARD_SECRET_PREFIX = "whsec_"


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


def standard_key(secret: str | bytes) -> bytes:
    """The HMAC key of the Standard Webhooks signature for a configured secret.

    Parameters
    ----------
    secret : str or bytes
        ``DISTILLWATCH_WEBHOOK_SECRET``: ``whsec_<base64>`` (the key is the decoded base64;
        padding may be left out) or any other text (the key is its UTF-8 bytes); bytes
        are the key itself.

    Returns
    -------
    bytes
        The key.

    Raises
    ------
    ValueError
        When a ``whsec_`` secret is not valid base64, or the key is empty.
    """
    if isinstance(secret, bytes):
        key = secret
    elif secret.startswith(STANDARD_SECRET_PREFIX):
        rest = secret[len(STANDARD_SECRET_PREFIX) :].strip()
        try:
            key = base64.b64decode(rest + "=" * (-len(rest) % 4), validate=True)
        except (binascii.Error, ValueError):
            raise ValueError(
                f"webhook secret starts with {STANDARD_SECRET_PREFIX!r} but the rest is not base64"
            ) from None
    else:
        key = secret.encode()
    if not key:
        raise ValueError("webhook secret is empty")
    return key


def standard_secret(secret: str | bytes) -> str:
    """The secret to give a Standard Webhooks verifier for a configured secret.

    A ``whsec_`` secret is returned as it is; any other secret as ``whsec_`` + the base64
    of its UTF-8 bytes (the key distillwatch signs with).

    Parameters
    ----------
    secret : str or bytes
        ``DISTILLWATCH_WEBHOOK_SECRET``.

    Returns
    -------
    str
        ``whsec_<base64>``, e.g. for ``standardwebhooks.Webhook(...)``.
    """
    if isinstance(secret, str) and secret.startswith(STANDARD_SECRET_PREFIX):
        standard_key(secret)  # validate
        return secret
    return STANDARD_SECRET_PREFIX + base64.b64encode(standard_key(secret)).decode()


def standard_sign(secret: str | bytes, msg_id: str, timestamp: str | int, body: bytes) -> str:
    """The ``webhook-signature`` value: ``v1,`` + base64 HMAC-SHA256 of ``id.timestamp.body``.

    Parameters
    ----------
    secret : str or bytes
        The configured secret (see :func:`standard_key`).
    msg_id : str
        The ``webhook-id`` header.
    timestamp : str or int
        The ``webhook-timestamp`` header (Unix seconds).
    body : bytes
        The exact request body.
    """
    signed = f"{msg_id}.{timestamp}.".encode() + body
    mac = hmac.new(standard_key(secret), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(mac).decode()


def message_id(ids: Sequence[str]) -> str:
    """The ``webhook-id`` of a batch: ``msg_`` + a hash of its stream entry ids.

    Every attempt at the same batch gets the same id (receivers dedupe on it); another
    batch, including a part of a batch split to isolate a refused alert, gets another.

    Parameters
    ----------
    ids : sequence of str
        Stream ids of the batch's entries, in order.
    """
    digest = hashlib.sha256(",".join(ids).encode()).hexdigest()
    return "msg_" + digest[:32]


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

    Raises
    ------
    ValueError
        When ``secret`` starts with ``whsec_`` but is not valid base64.
    """

    name = "webhook"

    def __init__(self, url: str, secret: str | None, timeout_s: float = 5.0) -> None:
        super().__init__(timeout_s)
        self.url = url
        self.secret = secret
        self._key = standard_key(secret) if secret else None  # fails early on a bad whsec_
        if not secret:
            log.warning("webhook sink: no DISTILLWATCH_WEBHOOK_SECRET, requests are unsigned")

    def headers(
        self, body: bytes, now: float | None = None, *, msg_id: str | None = None
    ) -> dict[str, str]:
        """Headers of one attempt (fresh timestamp and signatures).

        Parameters
        ----------
        body : bytes
            The request body.
        now : float, optional
            Signing time (default ``time.time()``).
        msg_id : str, optional
            ``webhook-id`` (default: ``msg_`` + a hash of the body).
        """
        ts = str(int(time.time() if now is None else now))
        if msg_id is None:
            msg_id = "msg_" + hashlib.sha256(body).hexdigest()[:32]
        out = {
            "Content-Type": "application/json",
            TIMESTAMP_HEADER: ts,
            STANDARD_ID_HEADER: msg_id,
            STANDARD_TIMESTAMP_HEADER: ts,
        }
        if self.secret and self._key is not None:
            out[SIGNATURE_HEADER] = sign(self.secret, ts, body)
            out[STANDARD_SIGNATURE_HEADER] = standard_sign(self._key, msg_id, ts, body)
        return out

    async def send(self, alerts: list[AlertEntry]) -> int:
        """POST the batch (see the module docstring)."""
        if not alerts:
            return 0
        body = webhook_body(alerts)
        msg_id = message_id([a.id for a in alerts])
        await self.post(self.url, body, self.headers(body, msg_id=msg_id))
        return len(alerts)

    def describe(self) -> dict[str, Any]:
        """Where it sends (no secret)."""
        return {"sink": self.name, "url": self.url, "signed": bool(self.secret)}
