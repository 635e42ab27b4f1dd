"""A palabre server on real Janus instances, for the voice tests: settings that point at them,
and the server once voice works on each."""

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

from server.settings import Settings
from server.voice.janus_process import OwnJanus
from tests.server.harness import LiveServer, ManualClock, serving, settings_for

# palabre opens its Janus session within a second or two; the bound is generous.
VOICE_WAIT_SECONDS = 10.0
POLL_SECONDS = 0.02


def janus_settings(
    database_url: str, data_dir: Path, januses: list[OwnJanus], **overrides: Any
) -> Settings:
    """Settings for a server using these Janus instances (which share their secrets)."""
    first = januses[0]
    return settings_for(
        database_url,
        data_dir,
        janus_urls=[janus.url for janus in januses],
        janus_api_secret=first.options.api_secret,
        janus_admin_key=first.options.admin_key,
        **overrides,
    )


async def until_true(check: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + VOICE_WAIT_SECONDS
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(POLL_SECONDS)


@contextlib.asynccontextmanager
async def serving_voice(settings: Settings) -> AsyncIterator[LiveServer]:
    """The server on a manual clock, once every media server of its settings is available."""
    wanted = len(settings.janus_urls or [])
    async with serving(settings, clock=ManualClock()) as live:
        await until_true(
            lambda: sum(media.available for media in live.palabre.voice.media) == wanted,
            "every media server available",
        )
        yield live
