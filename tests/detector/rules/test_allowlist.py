"""Allowlists: loading, expiry, action capping, validation."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from detector.rules import Allowlist, RuleValidationError, cap_action
from detector.rules.allowlist import as_date

ENTRIES = """\
entries:
  - account_id: "acct-1"
    reason: eval team
    added_by: alice
    expires: 2026-12-31
  - account_id: "acct-2"
    reason: licensed pipeline
    added_by: bob
"""
PARTNERS = """\
description: partners
entries:
  - account_id: "acct-3"
    partner: Example Lab
    programme: research-access
    reason: calibration study
    added_by: carol
    expires: 2026-06-30
"""


@pytest.fixture
def allow_dir(tmp_path: Path) -> Path:
    (tmp_path / "accounts.yml").write_text(ENTRIES)
    (tmp_path / "partners.yml").write_text(PARTNERS)
    return tmp_path


def test_load_and_sources(allow_dir: Path) -> None:
    allow = Allowlist.load(allow_dir)
    assert len(allow) == 3
    assert {e.source for e in allow.entries} == {"accounts", "partners"}
    (partner,) = allow.entries_for("acct-3", "2026-01-01")
    assert (partner.partner, partner.programme) == ("Example Lab", "research-access")
    assert partner.to_dict()["expires"] == "2026-06-30"


def test_expiry_is_inclusive_and_expired_entries_are_ignored(allow_dir: Path) -> None:
    allow = Allowlist.load(allow_dir)
    assert allow.is_allowed("acct-1", dt.date(2026, 12, 31))
    assert not allow.is_allowed("acct-1", dt.date(2027, 1, 1))
    assert allow.is_allowed("acct-2", dt.date(2099, 1, 1))  # no expiry
    assert not allow.is_allowed("acct-unknown", dt.date(2026, 1, 1))
    assert [e.account_id for e in allow.expired("2027-01-01")] == ["acct-1", "acct-3"]


def test_as_of_accepts_datetimes_strings_and_epoch_seconds(allow_dir: Path) -> None:
    allow = Allowlist.load(allow_dir)
    last_second = dt.datetime(2026, 12, 31, 23, 59, 59, tzinfo=dt.UTC)
    assert allow.is_allowed("acct-1", last_second)
    assert allow.is_allowed("acct-1", last_second.timestamp())
    assert not allow.is_allowed("acct-1", last_second.timestamp() + 1)
    assert allow.is_allowed("acct-1", "2026-12-31T12:00:00+00:00")
    berlin = dt.timezone(dt.timedelta(hours=1))
    assert allow.is_allowed("acct-1", dt.datetime(2027, 1, 1, 0, 30, tzinfo=berlin))  # UTC: Dec 31
    assert as_date(None) == dt.datetime.now(dt.UTC).date()


def test_cap_action(allow_dir: Path) -> None:
    allow = Allowlist.load(allow_dir)
    assert allow.cap("block", "acct-1", "2026-12-01") == "review"
    assert allow.cap("throttle", "acct-1", "2026-12-01") == "review"
    assert allow.cap("block", "acct-1", "2027-01-02") == "block"
    assert allow.cap("block", "acct-9", "2026-12-01") == "block"
    assert cap_action("review") == "review"
    assert cap_action("allow") == "allow"
    assert cap_action("block", allowed=False) == "block"


def test_allowed_mask(allow_dir: Path) -> None:
    allow = Allowlist.load(allow_dir)
    mask = allow.allowed_mask(["acct-1", "acct-9", "acct-3", "acct-2"], "2026-09-01")
    assert mask.tolist() == [True, False, False, True]


def test_shipped_allowlists_load(repo_root: Path) -> None:
    allow = Allowlist.load(repo_root / "rules" / "allowlists")
    assert {e.source for e in allow.entries} == {"accounts", "partners"}
    assert all(e.account_id.startswith("acct-example-") for e in allow.entries)
    assert all(e.expires is not None for e in allow.entries)


def test_missing_directories(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(FileNotFoundError):
        Allowlist.load(tmp_path / "nope")
    assert len(Allowlist.load(tmp_path / "nope", missing_ok=True)) == 0
    (tmp_path / "rules").mkdir()  # ./rules without allowlists/: the default is just empty
    monkeypatch.chdir(tmp_path)
    assert len(Allowlist.load()) == 0


def test_empty_file_is_no_entries(tmp_path: Path) -> None:
    (tmp_path / "accounts.yml").write_text("# nothing yet\n")
    (tmp_path / "partners.yml").write_text("entries: []\n")
    assert len(Allowlist.load(tmp_path)) == 0


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("entries:\n  - account_id: 123\n    reason: r\n    added_by: a\n", "quote ids"),
        ("entries:\n  - account_id: a\n    added_by: a\n", "entries[0].reason: required"),
        (
            "entries:\n  - account_id: a\n    reason: r\n    added_by: a\n    expires: soon\n",
            "entries[0].expires: must be a date",
        ),
        (
            "entries:\n  - account_id: a\n    reason: r\n    added_by: a\n    until: 2026-01-01\n",
            "unknown key(s) until",
        ),
        (
            "entries:\n  - {account_id: a, reason: r, added_by: x}\n"
            "  - {account_id: a, reason: r, added_by: x}\n",
            "duplicate account_id 'a'",
        ),
        ("- account_id: a\n", "expected a mapping with an 'entries:' list"),
        ("entries: {a: 1}\n", "'entries' must be a list"),
        ("entries: []\nowner: x\n", "unknown top-level key(s): owner"),
        ("entries: [\n", "invalid YAML"),
    ],
)
def test_invalid_files(tmp_path: Path, text: str, fragment: str) -> None:
    path = tmp_path / "accounts.yml"
    path.write_text(text)
    with pytest.raises(RuleValidationError) as info:
        Allowlist.load(tmp_path)
    assert fragment in str(info.value)
    assert str(path) in str(info.value)
