"""Settings from the environment, as hosting platforms give them."""

from pathlib import Path

import pytest

from server.settings import Settings


@pytest.mark.parametrize(
    ("given", "used"),
    [
        ("postgres://u:p@db:5432/jury", "postgresql+asyncpg://u:p@db:5432/jury"),
        ("postgresql://u@db/jury", "postgresql+asyncpg://u@db/jury"),
        ("postgresql+asyncpg://u@db/jury", "postgresql+asyncpg://u@db/jury"),
        ("sqlite:///var/jury.sqlite3", "sqlite+aiosqlite:///var/jury.sqlite3"),
    ],
)
def test_database_urls_get_an_async_driver(given: str, used: str) -> None:
    assert Settings(database_url=given).database_url == used


def test_the_environment_sets_urls_and_origins(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgres://db/jury")
    monkeypatch.setenv("REDIS_URL", "redis://cache:6379/0")
    monkeypatch.setenv("PALABRE_ALLOWED_ORIGINS", "https://jury.example, https://www.jury.example")
    settings = Settings(data_dir=tmp_path)
    assert settings.database_url == "postgresql+asyncpg://db/jury"
    assert settings.redis_url == "redis://cache:6379/0"
    assert settings.allowed_origins == ["https://jury.example", "https://www.jury.example"]


def test_generated_secrets_are_kept_private_and_survive_a_restart(tmp_path: Path) -> None:
    first = Settings(data_dir=tmp_path).signing_key
    assert Settings(data_dir=tmp_path).signing_key == first
    assert (tmp_path / "secret_key").stat().st_mode & 0o077 == 0
