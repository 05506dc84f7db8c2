"""Ingest: real log formats in, validated canonical events (and quarantine) out.

- :mod:`detector.ingest.adapters`: one raw record -> one event (LiteLLM
  ``StandardLoggingPayload``, OpenAI request/response pairs, the canonical flat schema).
- :mod:`detector.ingest.readers`: files (JSONL / JSON / CSV / Parquet, ``.gz``), stdin
  and HTTP bodies -> chunks of events with progress.
- :mod:`detector.ingest.quarantine`: rejected records, reason codes, JSONL writer.
- :mod:`detector.ingest.timestamps`: epoch / RFC 3339 conversions.
"""

from __future__ import annotations

from detector.ingest.adapters import (
    ADAPTERS,
    DEFAULT_ACCOUNT_FIELDS,
    FORMATS,
    AccountChain,
    canonical_to_event,
    detect_record_format,
    litellm_to_event,
    openai_to_event,
    parse_account_field,
    resolve_account,
)
from detector.ingest.quarantine import (
    RAW_LIMIT,
    REASONS,
    QuarantineRecord,
    QuarantineWriter,
    count_reasons,
)
from detector.ingest.readers import (
    CONTAINERS,
    EventChunk,
    expand_paths,
    iter_event_chunks,
    parse_payload,
    read_events,
)
from detector.ingest.timestamps import format_rfc3339, to_epoch

__all__ = [
    "ADAPTERS",
    "CONTAINERS",
    "DEFAULT_ACCOUNT_FIELDS",
    "FORMATS",
    "RAW_LIMIT",
    "REASONS",
    "AccountChain",
    "EventChunk",
    "QuarantineRecord",
    "QuarantineWriter",
    "canonical_to_event",
    "count_reasons",
    "detect_record_format",
    "expand_paths",
    "format_rfc3339",
    "iter_event_chunks",
    "litellm_to_event",
    "openai_to_event",
    "parse_account_field",
    "parse_payload",
    "read_events",
    "resolve_account",
    "to_epoch",
]
