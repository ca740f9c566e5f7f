"""Settings: every key is documented in .env.example, secrets never appear in repr or describe()."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from data.settings import PROJECT_ROOT, Settings

pytestmark = pytest.mark.fast


def test_env_example_lists_every_key_the_code_reads() -> None:
    code = (PROJECT_ROOT / "data" / "settings.py").read_text()
    read = set(re.findall(r'env\.get\("([A-Z_]+)"', code))
    documented = set(re.findall(r"^([A-Z_]+)=", (PROJECT_ROOT / ".env.example").read_text(), re.MULTILINE))
    assert read == documented


def test_secrets_are_not_shown(tmp_path: Path) -> None:
    env = {
        "MUREC_HOME": str(tmp_path),
        "DISCORD_TOKEN": "discord-secret-123",
        "TELEGRAM_TOKEN": "123:telegram-secret",
        "SPOTIFY_CLIENT_SECRET": "spotify-secret",
        "DATABASE_URL": "postgresql+psycopg://u:pg-secret@127.0.0.1/murecom",
    }
    s = Settings.from_env(env)
    shown = repr(s) + str(s.describe())
    for secret in ("discord-secret-123", "telegram-secret", "spotify-secret", "pg-secret"):
        assert secret not in shown
    assert s.describe()["discord_token"] == "set"
    assert s.describe()["spotify_client_id"] == "unset"


def test_defaults_live_under_home(tmp_path: Path) -> None:
    s = Settings.from_env({"MUREC_HOME": str(tmp_path)})
    assert s.database_url == f"sqlite:///{tmp_path / 'murecom.db'}"
    assert s.models_dir == tmp_path / "models"
    assert s.preview_allowed_hosts[0] == "www.youtube.com" and "p.scdn.co" not in s.preview_allowed_hosts
    s2 = Settings.from_env({"MUREC_HOME": str(tmp_path), "MUREC_PREVIEW_ALLOWED_HOSTS": "127.0.0.1, example.org"})
    assert s2.preview_allowed_hosts == ("127.0.0.1", "example.org")
