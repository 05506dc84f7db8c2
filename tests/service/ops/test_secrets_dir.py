"""``DISTILLWATCH_SECRETS_DIR``: one file per secret setting; environment variables win."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from service.cli import main
from service.settings import SecretsDirError, get_service_settings, get_settings

TOKENS = [
    {"name": "gw", "role": "gateway", "token": "gw-secret-token"},
    {"name": "ana", "role": "analyst", "token": "sha256:" + "ab" * 32},
]


@pytest.fixture
def secrets(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name in ("WEBHOOK_SECRET", "API_TOKENS", "REDIS_URL", "SECRETS_DIR"):
        monkeypatch.delenv(f"DISTILLWATCH_{name}", raising=False)
    d = tmp_path / "run-secrets"
    d.mkdir()
    (d / "distillwatch_webhook_secret").write_text("whsec-from-file\n")
    (d / "distillwatch_api_tokens").write_text(json.dumps(TOKENS))
    (d / "distillwatch_redis_url").write_text("redis://10.1.2.3:6380/2\n")
    (d / "unrelated_file").write_text("ignored")
    monkeypatch.setenv("DISTILLWATCH_SECRETS_DIR", str(d))
    return d


def test_settings_read_from_the_secrets_dir(secrets: Path) -> None:
    s = get_service_settings()
    assert s.webhook_secret == "whsec-from-file"  # trailing newline stripped
    assert [(t.name, t.role, t.token) for t in s.api_tokens] == [
        (t["name"], t["role"], t["token"]) for t in TOKENS
    ]
    assert s.redis_url == "redis://10.1.2.3:6380/2"
    assert get_settings().redis_url == "redis://10.1.2.3:6380/2"  # the pipeline's too


def test_environment_wins_over_files_and_overrides_over_both(
    secrets: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DISTILLWATCH_WEBHOOK_SECRET", "from-env")
    monkeypatch.setenv("DISTILLWATCH_API_TOKENS", json.dumps(TOKENS[:1]))
    s = get_service_settings()
    assert s.webhook_secret == "from-env"
    assert [t.name for t in s.api_tokens] == ["gw"]
    assert s.redis_url == "redis://10.1.2.3:6380/2"  # still from its file
    assert get_service_settings(redis_url="redis://127.0.0.1:1/0").redis_url.endswith(":1/0")


def test_without_the_variable_no_file_is_read(secrets: Path, monkeypatch) -> None:
    monkeypatch.delenv("DISTILLWATCH_SECRETS_DIR")
    s = get_service_settings()
    assert s.webhook_secret is None and s.api_tokens == []


def test_a_missing_dir_is_a_clear_error(tmp_path: Path, monkeypatch) -> None:
    missing = tmp_path / "nope"
    monkeypatch.setenv("DISTILLWATCH_SECRETS_DIR", str(missing))
    with pytest.raises(SecretsDirError, match="no such directory"):
        get_service_settings()
    (tmp_path / "a-file").write_text("x")
    monkeypatch.setenv("DISTILLWATCH_SECRETS_DIR", str(tmp_path / "a-file"))
    with pytest.raises(SecretsDirError, match="not a directory"):
        get_settings()
    # the commands say so in one line, without a traceback
    monkeypatch.setenv("DISTILLWATCH_SECRETS_DIR", str(missing))
    for cmd in (["worker"], ["sinks"], ["serve"], ["ingest", "-"]):
        result = CliRunner().invoke(main, cmd)
        assert result.exit_code == 1, (cmd, result.output)
        assert f"DISTILLWATCH_SECRETS_DIR={missing}: no such directory" in result.output
        assert "Traceback" not in result.output
