"""Pieces shared by the analyst routers: note bodies, error mapping, CSV, documented errors."""

from __future__ import annotations

import contextlib
import csv
import io
from collections.abc import Iterable, Iterator, Sequence
from typing import Annotated, Any

from fastapi import Body, HTTPException, Path
from pydantic import BaseModel, Field, field_validator

from service.store.common import Conflict, NotFound

__all__ = [
    "LIST_ERRORS",
    "READ_ERRORS",
    "WRITE_ERRORS",
    "AccountId",
    "ErrorResponse",
    "NoteBody",
    "OptionalNote",
    "RequiredNote",
    "clean_text",
    "csv_text",
    "store_errors",
]

#: an account id in a path (the same bounds as ``POST /v1/score``)
AccountId = Annotated[
    str,
    Path(
        min_length=1,
        max_length=256,
        pattern=r"^[^\x00-\x1f\x7f]+$",
        description="The account id.",
    ),
]


class ErrorResponse(BaseModel):
    """An error answer."""

    detail: Any = Field(description="What went wrong.")


_AUTH = {
    401: {"model": ErrorResponse, "description": "Missing or invalid API token."},
    403: {"model": ErrorResponse, "description": "The token's role lacks the scope."},
    429: {"model": ErrorResponse, "description": "Rate limit exceeded for this token."},
    503: {"model": ErrorResponse, "description": "Redis is unavailable."},
}
#: documented error answers of read endpoints with a path id
READ_ERRORS: dict[int | str, dict[str, Any]] = {
    **_AUTH,
    404: {"model": ErrorResponse, "description": "Unknown id."},
}
#: documented error answers of triage endpoints
WRITE_ERRORS: dict[int | str, dict[str, Any]] = {
    **READ_ERRORS,
    409: {"model": ErrorResponse, "description": "Not allowed in the current state."},
}
#: documented error answers of list endpoints
LIST_ERRORS: dict[int | str, dict[str, Any]] = dict(_AUTH)


def clean_text(v: str | None) -> str | None:
    """``v`` unchanged, or ValueError when it cannot be stored as UTF-8 (lone surrogates)."""
    if v is None:
        return v
    try:
        v.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ValueError("note must be valid UTF-8 text") from exc
    return v


class NoteBody(BaseModel):
    """Optional explanation recorded with a triage action."""

    model_config = {"extra": "forbid"}

    note: str | None = Field(
        default=None, max_length=2000, description="Why (kept on the alert's trail)."
    )

    @field_validator("note")
    @classmethod
    def _utf8(cls, v: str | None) -> str | None:
        return clean_text(v)


#: an optional JSON body ``{"note": ...}`` of a triage endpoint
OptionalNote = Annotated[NoteBody | None, Body()]


class RequiredNote(BaseModel):
    """A note to add to an alert's trail."""

    model_config = {"extra": "forbid"}

    note: str = Field(min_length=1, max_length=2000, description="The note.")

    @field_validator("note")
    @classmethod
    def _utf8(cls, v: str) -> str:
        return clean_text(v) or ""


@contextlib.contextmanager
def store_errors() -> Iterator[None]:
    """Map store errors to HTTP answers: 404 unknown, 409 conflict, 503 Redis down."""
    import redis

    try:
        yield
    except NotFound as exc:
        raise HTTPException(404, detail=str(exc)) from exc
    except Conflict as exc:
        raise HTTPException(409, detail=str(exc)) from exc
    except redis.RedisError as exc:
        raise HTTPException(503, detail=f"redis unavailable ({type(exc).__name__})") from exc


def _cell(v: Any) -> Any:
    if isinstance(v, list | tuple):
        v = ";".join(str(x) for x in v)
    if v is None:
        return ""
    if isinstance(v, str) and v[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + v  # never let a spreadsheet evaluate an account id
    return v


def csv_text(columns: Sequence[str], rows: Iterable[dict[str, Any]]) -> str:
    """Rows as CSV with a header; lists joined by ``;``, formula-like cells defused."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow([_cell(row.get(c)) for c in columns])
    return buf.getvalue()
