"""Allowlists: accounts (and partner programmes) whose action is capped at *review*.

``rules/allowlists/*.yml`` each hold ``entries:``, a list of
``{account_id, reason, added_by, expires?, added?, partner?, programme?, ticket?, contact?}``.
The file name (``accounts``, ``partners``) is kept as the entry's ``source``. An
allowlisted account is still scored and reported (its alerts carry the entry as
context); only the recommended action is capped, see :func:`cap_action`. An entry is
valid up to and including its ``expires`` date; expired entries are ignored.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import numpy as np

from detector.rules._yaml import YamlError, load_yaml
from detector.rules.model import Problem, RuleValidationError
from detector.rules.paths import default_allowlist_dir

__all__ = ["CAPPED_ACTION", "AllowEntry", "Allowlist", "as_date", "cap_action"]

CAPPED_ACTION = "review"
_CAPPED_FROM = frozenset({"throttle", "block"})
_REQUIRED = ("account_id", "reason", "added_by")
_OPTIONAL_STR = ("partner", "programme", "ticket", "contact")
_OPTIONAL_DATE = ("expires", "added")
_ALLOWED = frozenset(_REQUIRED + _OPTIONAL_STR + _OPTIONAL_DATE)

DateLike = dt.date | dt.datetime | str | float | int | None


def as_date(value: DateLike) -> dt.date:
    """A calendar date (UTC) from a date, datetime, ISO string or epoch seconds.

    Parameters
    ----------
    value : date, datetime, str, float, int or None
        ``None`` means today (UTC); aware datetimes are converted to UTC first; numbers
        are Unix epoch seconds.

    Returns
    -------
    datetime.date
    """
    if value is None:
        return dt.datetime.now(dt.UTC).date()
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC).date() if value.tzinfo else value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return dt.datetime.fromtimestamp(float(value), dt.UTC).date()
    if isinstance(value, str):
        return as_date(dt.datetime.fromisoformat(value))
    raise TypeError(f"cannot read a date from {value!r}")


def cap_action(action: str, allowed: bool = True) -> str:
    """The action to apply to an account, capped at ``review`` when it is allowlisted.

    Parameters
    ----------
    action : str
        Recommended action (``block``, ``throttle``, ``review``, or anything milder such as
        ``allow``, which passes through).
    allowed : bool
        Whether the account is allowlisted.

    Returns
    -------
    str
    """
    return CAPPED_ACTION if allowed and action in _CAPPED_FROM else action


@dataclass(frozen=True, slots=True)
class AllowEntry:
    """One allowlist entry.

    Attributes
    ----------
    account_id : str
    reason : str
        Why the account's look-alike traffic is legitimate (shown to analysts).
    added_by : str
    expires : datetime.date or None
        Last day the entry applies; ``None`` never expires.
    added : datetime.date or None
    source : str
        File stem the entry came from (``accounts``, ``partners``...).
    partner, programme, ticket, contact : str or None
        Optional context (evaluation partner, research programme, approval ticket).
    """

    account_id: str
    reason: str
    added_by: str
    expires: dt.date | None = None
    added: dt.date | None = None
    source: str = ""
    partner: str | None = None
    programme: str | None = None
    ticket: str | None = None
    contact: str | None = None

    def active(self, as_of: DateLike = None) -> bool:
        """Whether the entry applies on ``as_of`` (not past its ``expires`` date)."""
        return self.expires is None or as_date(as_of) <= self.expires

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (dates as ISO strings)."""
        out: dict[str, Any] = {}
        for name in self.__slots__:
            value = getattr(self, name)
            out[name] = value.isoformat() if isinstance(value, dt.date) else value
        return out


def _parse_date(value: Any) -> dt.date | None:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str):
        try:
            return dt.date.fromisoformat(value)
        except ValueError:
            return None
    return None


def _parse_entries(data: Any, source: str, stem: str) -> tuple[list[AllowEntry], list[Problem]]:
    problems: list[Problem] = []
    if data is None:
        return [], problems
    if not isinstance(data, Mapping) or "entries" not in data:
        return [], [Problem(source, "expected a mapping with an 'entries:' list")]
    extra = sorted(set(map(str, data)) - {"entries", "description"})
    if extra:
        problems.append(Problem(source, f"unknown top-level key(s): {', '.join(extra)}"))
    raw_entries = data["entries"] or []
    if not isinstance(raw_entries, list):
        return [], [Problem(source, "'entries' must be a list")]
    entries: list[AllowEntry] = []
    seen: set[str] = set()
    for i, raw in enumerate(raw_entries):
        where = f"entries[{i}]"
        if not isinstance(raw, Mapping):
            problems.append(Problem(source, f"{where}: must be a mapping"))
            continue
        bad = len(problems)
        unknown = sorted(set(map(str, raw)) - _ALLOWED)
        if unknown:
            problems.append(
                Problem(
                    source,
                    f"{where}: unknown key(s) {', '.join(unknown)} "
                    f"(allowed: {', '.join(sorted(_ALLOWED))})",
                )
            )
        for key in _REQUIRED:
            value = raw.get(key)
            if not isinstance(value, str) or not value.strip():
                hint = " (quote ids so YAML keeps them as text)" if key == "account_id" else ""
                problems.append(
                    Problem(
                        source, f"{where}.{key}: required non-empty string, got {value!r}{hint}"
                    )
                )
        for key in _OPTIONAL_STR:
            if key in raw and not isinstance(raw[key], str):
                problems.append(Problem(source, f"{where}.{key}: must be a string"))
        dates: dict[str, dt.date | None] = {}
        for key in _OPTIONAL_DATE:
            dates[key] = _parse_date(raw[key]) if raw.get(key) is not None else None
            if raw.get(key) is not None and dates[key] is None:
                problems.append(Problem(source, f"{where}.{key}: must be a date YYYY-MM-DD"))
        account = raw.get("account_id")
        if isinstance(account, str) and account in seen:
            problems.append(Problem(source, f"{where}: duplicate account_id {account!r}"))
        if len(problems) > bad:
            continue
        account = cast(str, account)  # validated above
        seen.add(account)
        entries.append(
            AllowEntry(
                account_id=account.strip(),
                reason=raw["reason"].strip(),
                added_by=raw["added_by"].strip(),
                expires=dates["expires"],
                added=dates["added"],
                source=stem,
                **{key: raw.get(key) for key in _OPTIONAL_STR},
            )
        )
    return entries, problems


class Allowlist:
    """Allowlisted accounts, from every ``*.yml`` file of a directory.

    Parameters
    ----------
    entries : iterable of AllowEntry
        An account may appear in several entries (e.g. both files); it is allowed while
        any of them is active.
    """

    def __init__(self, entries: Iterable[AllowEntry] = ()) -> None:
        self._entries = tuple(entries)
        self._by_account: dict[str, list[AllowEntry]] = {}
        for entry in self._entries:
            self._by_account.setdefault(entry.account_id, []).append(entry)

    @classmethod
    def load(cls, directory: Path | str | None = None, *, missing_ok: bool = False) -> Allowlist:
        """Read every allowlist file of a directory.

        Parameters
        ----------
        directory : path, optional
            Default: ``allowlists/`` in the default rules directory; a missing default
            directory gives an empty allowlist, a missing explicit one raises.
        missing_ok : bool
            Give an empty allowlist for a missing explicit directory too (e.g. a user's
            rules directory without ``allowlists/``).

        Returns
        -------
        Allowlist

        Raises
        ------
        FileNotFoundError
            When an explicitly given directory does not exist (and not ``missing_ok``).
        RuleValidationError
            Listing every problem in the files.
        """
        if directory is None:
            path = default_allowlist_dir()
            if not path.is_dir():
                return cls()
        else:
            path = Path(directory)
            if not path.is_dir():
                if missing_ok:
                    return cls()
                raise FileNotFoundError(f"allowlist directory not found: {path}")
        entries: list[AllowEntry] = []
        problems: list[Problem] = []
        files = sorted({*path.glob("*.yml"), *path.glob("*.yaml")}, key=lambda p: p.name)
        for file in files:
            try:
                data = load_yaml(file)
            except (YamlError, OSError, UnicodeDecodeError) as exc:
                problems.append(Problem(str(file), str(exc)))
                continue
            found, bad = _parse_entries(data, str(file), file.stem)
            entries.extend(found)
            problems.extend(bad)
        if problems:
            raise RuleValidationError(problems)
        return cls(entries)

    @property
    def entries(self) -> tuple[AllowEntry, ...]:
        """Every entry, expired ones included."""
        return self._entries

    def __len__(self) -> int:
        return len(self._entries)

    def entries_for(self, account_id: str, as_of_date: DateLike = None) -> list[AllowEntry]:
        """Active entries for an account on a date (default: today, UTC)."""
        day = as_date(as_of_date)
        return [e for e in self._by_account.get(account_id, ()) if e.active(day)]

    def is_allowed(self, account_id: str, as_of_date: DateLike = None) -> bool:
        """Whether the account has an unexpired entry on ``as_of_date`` (default today)."""
        return bool(self.entries_for(account_id, as_of_date))

    def allowed_mask(self, account_ids: Iterable[str], as_of_date: DateLike = None) -> np.ndarray:
        """:meth:`is_allowed` for many accounts (e.g. a feature frame's index).

        Returns
        -------
        numpy.ndarray
            Boolean, one value per account id, in order.
        """
        day = as_date(as_of_date)
        allowed = {a for a, es in self._by_account.items() if any(e.active(day) for e in es)}
        return np.fromiter((a in allowed for a in account_ids), dtype=bool)

    def cap(self, action: str, account_id: str, as_of_date: DateLike = None) -> str:
        """``action`` capped at ``review`` when the account is allowlisted on the date."""
        return cap_action(action, self.is_allowed(account_id, as_of_date))

    def expired(self, as_of_date: DateLike = None) -> list[AllowEntry]:
        """Entries past their ``expires`` date (to prune or renew)."""
        day = as_date(as_of_date)
        return [e for e in self._entries if not e.active(day)]
