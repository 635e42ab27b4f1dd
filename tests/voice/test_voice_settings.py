"""The voice settings: which Janus to use, and the secrets palabre holds for it."""

from pathlib import Path

import pytest
from pydantic import ValidationError

from server.settings import Settings


def test_janus_urls_are_a_comma_separated_list_of_http_urls(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(
        "PALABRE_JANUS_URLS", " http://10.0.0.5:8088/janus/ , https://janus.example/janus"
    )
    assert Settings().janus_urls == ["http://10.0.0.5:8088/janus", "https://janus.example/janus"]
    monkeypatch.setenv("PALABRE_JANUS_URLS", "")
    assert Settings().janus_urls == []
    monkeypatch.delenv("PALABRE_JANUS_URLS")
    assert Settings().janus_urls is None


@pytest.mark.parametrize("url", ["ws://127.0.0.1:8188", "127.0.0.1:8088/janus", "http://"])
def test_a_janus_url_that_is_no_http_url_is_refused(url: str) -> None:
    with pytest.raises(ValidationError, match="Janus API"):
        Settings(janus_urls=[url])


def test_janus_secrets_are_generated_once_into_the_data_dir(tmp_path: Path) -> None:
    first = Settings(data_dir=tmp_path)
    again = Settings(data_dir=tmp_path)
    assert first.janus_secret == again.janus_secret
    assert first.janus_plugin_key == again.janus_plugin_key
    assert first.janus_secret != first.janus_plugin_key
    for name in ("janus_api_secret", "janus_admin_key"):
        assert (tmp_path / name).stat().st_mode & 0o077 == 0


def test_given_janus_secrets_are_used_and_nothing_is_generated(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, janus_api_secret="given", janus_admin_key="key")
    assert (settings.janus_secret, settings.janus_plugin_key) == ("given", "key")
    assert not (tmp_path / "janus_api_secret").exists()
    assert not (tmp_path / "janus_admin_key").exists()


def test_a_janus_port_out_of_range_is_refused() -> None:
    with pytest.raises(ValidationError):
        Settings(janus_port=70_000)
