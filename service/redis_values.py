"""Decoding Redis replies (bytes) into ``str``: one definition for every module."""

from __future__ import annotations

from typing import Any

__all__ = ["decode_hash", "text", "text_or_none"]


def text(v: Any) -> str:
    """Bytes from Redis as ``str`` (``str(v)`` for anything else)."""
    return v.decode("utf-8", "replace") if isinstance(v, bytes) else str(v)


def text_or_none(v: Any) -> str | None:
    """:func:`text`, keeping ``None`` (a missing key) as ``None``."""
    return None if v is None else text(v)


def decode_hash(raw: dict[Any, Any] | None) -> dict[str, str]:
    """A hash reply as a ``str -> str`` dict (empty for a missing key)."""
    return {text(k): text(v) for k, v in (raw or {}).items()}
