"""Settings from the environment, as hosting platforms give them."""

from pathlib import Path

import pytest
from pydantic import ValidationError

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


def test_the_public_url_alone_sets_the_allowed_origin(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("PALABRE_PUBLIC_URL", "https://Jury.example:443/palabre/")
    settings = Settings(data_dir=tmp_path)
    assert settings.address == "https://Jury.example:443/palabre/"
    # As a browser names it: lower case, no default port, no path.
    assert settings.origins == ["https://jury.example"]


def test_given_origins_are_kept_as_browsers_send_them(tmp_path: Path) -> None:
    settings = Settings(
        data_dir=tmp_path,
        public_url="https://jury.example",
        allowed_origins="https://jury.example/, http://Staff.example:8080",
    )
    assert settings.origins == ["https://jury.example", "http://staff.example:8080"]


@pytest.mark.parametrize(
    ("host", "port", "address"),
    [
        ("127.0.0.1", 8000, "http://127.0.0.1:8000"),
        ("0.0.0.0", 9000, "http://127.0.0.1:9000"),
        ("palabre.lan", 80, "http://palabre.lan:80"),
        ("::1", 9000, "http://[::1]:9000"),
    ],
)
def test_without_a_public_url_the_server_names_its_own_address(
    tmp_path: Path, host: str, port: int, address: str
) -> None:
    settings = Settings(data_dir=tmp_path, host=host, port=port)
    assert settings.address == address
    assert settings.origins[0] == address.removesuffix(":80")
    # Typed by hand in a browser during a local try-out.
    assert f"http://localhost:{port}".removesuffix(":80") in settings.origins


@pytest.mark.parametrize("url", ["jury.example", "ftp://jury.example", "https://", "https://a:x/"])
def test_a_public_url_that_no_browser_could_open_is_refused(tmp_path: Path, url: str) -> None:
    with pytest.raises(ValidationError):
        Settings(data_dir=tmp_path, public_url=url)
