"""Settings from the environment, as hosting platforms give them."""

import os
import re
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from pydantic import AliasChoices, ValidationError

from server.settings import SecretFileEmpty, Settings
from tests.server.harness import ROOT


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


def test_processes_starting_together_agree_on_one_generated_secret(tmp_path: Path) -> None:
    rounds, starters = 20, 4
    # Each process waits for the round's signal (busy, so that they all start at once), reads
    # the round's secret and says what it got.
    program = (
        "import sys, time\n"
        "from pathlib import Path\n"
        "from server.settings import Settings\n"
        "folder = Path(sys.argv[1])\n"
        f"for round_ in range({rounds}):\n"
        "    go = folder / f'go{round_}'\n"
        "    deadline = time.monotonic() + 20\n"
        "    while not go.exists() and time.monotonic() < deadline:\n"
        "        pass\n"
        "    print(Settings(data_dir=folder / f'var{round_}').admin_key, flush=True)\n"
    )
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", program, str(tmp_path)],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(starters)
    ]
    time.sleep(1.5)  # Let them all import and reach the first round.
    for round_ in range(rounds):
        (tmp_path / f"go{round_}").touch()
        time.sleep(0.05)
    outputs = [process.communicate(timeout=60)[0].split() for process in processes]
    assert all(process.returncode == 0 for process in processes)
    for round_ in range(rounds):
        keys = {output[round_] for output in outputs}
        assert len(keys) == 1, (round_, keys)


def test_a_secret_file_being_written_is_waited_for(tmp_path: Path) -> None:
    path = tmp_path / "secret_key"
    path.write_text("first-half-")  # Another process created it and is writing it right now.

    def finish() -> None:
        time.sleep(0.2)
        with path.open("a") as file:
            file.write("second-half\n")

    writer = threading.Thread(target=finish)
    writer.start()
    try:
        assert Settings(data_dir=tmp_path).signing_key == "first-half-second-half"
    finally:
        writer.join()


def test_an_old_secret_file_is_read_as_it_is_and_an_empty_one_is_reported(tmp_path: Path) -> None:
    long_ago = time.time() - 3_600
    (tmp_path / "secret_key").write_text("written-by-an-older-palabre")
    os.utime(tmp_path / "secret_key", (long_ago, long_ago))
    assert Settings(data_dir=tmp_path).signing_key == "written-by-an-older-palabre"
    (tmp_path / "admin_token").touch()
    os.utime(tmp_path / "admin_token", (long_ago, long_ago))
    with pytest.raises(SecretFileEmpty, match="admin_token"):
        _ = Settings(data_dir=tmp_path).admin_key


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
