"""Bearer tokens, roles, scopes and per-token rate limits.

Each token belongs to a named caller with one role. Roles grant scopes:

========  ==========================================================================
role      scopes
========  ==========================================================================
gateway   ``score`` (``/v1/score``, ``/v1/check``, the LiteLLM guardrail), ``events``
analyst   ``read`` (alerts, accounts, clusters, blocklist, dashboard), ``triage``
admin     all of the above and ``admin`` (rules reload, retrain)
========  ==========================================================================

Tokens are kept only as SHA-256 digests; a presented token is hashed and compared with
every configured digest by :func:`hmac.compare_digest` (no early exit), so neither the
comparison nor the table lookup leaks timing. A token is read from ``Authorization:
Bearer <token>`` or, for LiteLLM's Generic Guardrail API, from ``x-api-key``.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from service.settings import ServiceSettings, TokenSpec

__all__ = [
    "ROLE_SCOPES",
    "Principal",
    "RateLimiter",
    "TokenTable",
    "load_tokens",
    "principal_of",
]

ROLE_SCOPES: dict[str, frozenset[str]] = {
    "gateway": frozenset({"score", "events"}),
    "analyst": frozenset({"read", "triage"}),
    "admin": frozenset({"score", "events", "read", "triage", "admin"}),
}


@dataclass(frozen=True, slots=True)
class Principal:
    """The authenticated caller: a name (recorded on triage actions), a role, and the
    token's own rate limit when it has one (else its role's)."""

    name: str
    role: str
    rate: float | None = None

    @property
    def scopes(self) -> frozenset[str]:
        """What the role may do."""
        return ROLE_SCOPES.get(self.role, frozenset())

    def can(self, scope: str) -> bool:
        """Whether the caller holds ``scope``."""
        return scope in self.scopes


def _digest(secret: str) -> bytes:
    if secret.startswith("sha256:"):
        return bytes.fromhex(secret[7:])
    return hashlib.sha256(secret.encode()).digest()


def load_tokens(settings: ServiceSettings) -> list[TokenSpec]:
    """Tokens from the settings and the tokens file (JSON, or YAML when PyYAML is there).

    Raises
    ------
    ValueError
        When the file cannot be read or holds something other than a list of tokens.
    """
    specs = list(settings.api_tokens)
    if settings.api_tokens_file:
        path = Path(settings.api_tokens_file)
        try:
            text = path.read_text()
        except OSError as exc:
            raise ValueError(f"cannot read tokens file {path}: {exc}") from exc
        if path.suffix in (".yml", ".yaml"):
            import yaml

            data = yaml.safe_load(text)
        else:
            data = json.loads(text)
        if isinstance(data, dict):
            data = data.get("tokens", [])
        if not isinstance(data, list):
            raise ValueError(f"{path}: expected a list of tokens")
        specs.extend(TokenSpec.model_validate(d) for d in data)
    names = [s.name for s in specs]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise ValueError(f"duplicate token names: {', '.join(dupes)}")
    return specs


def principal_of(spec: TokenSpec) -> Principal:
    """The caller a configured token authenticates."""
    return Principal(spec.name, spec.role, spec.rate)


class TokenTable:
    """Configured tokens as digests; :meth:`lookup` finds a presented token's caller.

    Parameters
    ----------
    specs : list of TokenSpec
        Configured tokens.
    """

    def __init__(self, specs: list[TokenSpec]) -> None:
        self._entries = [(_digest(s.token), principal_of(s)) for s in specs]

    def __len__(self) -> int:
        return len(self._entries)

    def lookup(self, presented: str | None) -> Principal | None:
        """The caller owning ``presented``, or None; constant time in the token."""
        if not presented:
            return None
        digest = hashlib.sha256(presented.encode("utf-8", "surrogatepass")).digest()
        found: Principal | None = None
        for known, principal in self._entries:
            if hmac.compare_digest(known, digest):
                found = principal
        return found


class RateLimiter:
    """Token buckets per caller name: ``rate`` requests/s sustained, bursts of ``2 s``.

    Per process: with several service processes each enforces its own share.
    """

    def __init__(self, rates: dict[str, float], burst_s: float = 2.0) -> None:
        self._rates = rates
        self._burst_s = burst_s
        self._buckets: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def rate_of(self, principal: Principal) -> float:
        """Requests/s the caller may make: its token's own rate, else its role's (0: no
        limit)."""
        if principal.rate is not None:
            return float(principal.rate)
        return self._rates.get(principal.role, 0.0)

    def allow(self, principal: Principal, now: float | None = None) -> float:
        """0.0 when the request may go on, else seconds to wait before retrying."""
        rate = self.rate_of(principal)
        if rate <= 0:
            return 0.0
        now = time.monotonic() if now is None else now
        capacity = max(rate * self._burst_s, 1.0)
        with self._lock:
            level, at = self._buckets.get(principal.name, (capacity, now))
            level = min(capacity, level + (now - at) * rate)
            if level < 1.0:
                self._buckets[principal.name] = (level, now)
                return (1.0 - level) / rate
            self._buckets[principal.name] = (level - 1.0, now)
            return 0.0
