"""Settings from the environment, as hosting platforms give them."""

import re
from pathlib import Path

import pytest
from pydantic import AliasChoices

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


README = Path(__file__).resolve().parents[2] / "README.md"
FIRST_NUMBER = re.compile(r"\d[\d,]*(?:\.\d+)?")


def readme_settings() -> dict[str, str]:
    """The README's settings table: variable -> its default cell."""
    rows = {}
    for line in README.read_text(encoding="utf-8").splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if len(cells) == 3 and cells[0].startswith("`") and cells[0].endswith("`"):
            rows[cells[0].strip("`")] = cells[1]
    return rows


def variable_of(name: str) -> str:
    alias = Settings.model_fields[name].validation_alias
    if isinstance(alias, AliasChoices):
        return str(alias.choices[0])
    return f"PALABRE_{name.upper()}"


def test_the_readme_lists_every_setting_with_its_numeric_default() -> None:
    documented = readme_settings()
    for name, field in Settings.model_fields.items():
        variable = variable_of(name)
        assert variable in documented, f"README.md's settings table lacks {variable}"
        default = field.default
        if isinstance(default, int | float) and not isinstance(default, bool):
            shown = FIRST_NUMBER.search(documented[variable])
            assert shown is not None, variable
            assert float(shown.group().replace(",", "")) == default, variable
