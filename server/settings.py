"""Settings from the environment, with embedded defaults: a SQLite file, one process, no Redis."""

import secrets
from functools import cached_property
from pathlib import Path
from typing import Annotated

from pydantic import AliasChoices, Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

# A socket.io message over this size is refused with `payload_too_large` (issue 3: 16 KiB).
MAX_PAYLOAD_BYTES = 16 * 1024
# Engine.IO closes a connection whose single message exceeds this: abuse, not a mistake.
HARD_MESSAGE_LIMIT_BYTES = 64 * 1024


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="PALABRE_", extra="ignore")

    database_url: str = Field(
        default="sqlite+aiosqlite:///var/palabre.sqlite3",
        validation_alias=AliasChoices("DATABASE_URL", "PALABRE_DATABASE_URL"),
    )
    redis_url: str | None = Field(
        default=None, validation_alias=AliasChoices("REDIS_URL", "PALABRE_REDIS_URL")
    )
    host: str = "127.0.0.1"
    port: int = 8000
    # The address people use to reach this server: invite links start with it.
    public_url: str = "http://127.0.0.1:8000"
    allowed_origins: Annotated[list[str], NoDecode] = Field(
        default=["http://127.0.0.1:8000", "http://localhost:8000"]
    )
    # Where the embedded defaults keep their files: the SQLite database and generated secrets.
    data_dir: Path = Path("var")
    secret_key: str | None = None
    admin_token: str | None = None

    max_payload_bytes: int = MAX_PAYLOAD_BYTES
    # A person clicks a few times a second at most; bursts cover a reconnect's catch-up.
    rate_per_second: float = 10.0
    rate_burst: int = 30
    invite_ttl_days: int = 30
    # Snapshot an assembly every so many events, so a restart replays a short tail of the log.
    snapshot_every_events: int = 500
    # How long a command or a read waits for its assembly before the answer is `unavailable`.
    command_timeout_seconds: float = 10.0
    # A client further behind than this gets a fresh snapshot instead of the missed events.
    resume_max_events: int = 1_000

    @field_validator("database_url")
    @classmethod
    def _async_driver(cls, value: str) -> str:
        """Hosting platforms hand out `postgres://...`: palabre talks to it through asyncpg."""
        for plain, driver in (
            ("postgres://", "postgresql+asyncpg://"),
            ("postgresql://", "postgresql+asyncpg://"),
            ("sqlite:///", "sqlite+aiosqlite:///"),
        ):
            if value.startswith(plain):
                return driver + value[len(plain) :]
        return value

    @field_validator("allowed_origins", mode="before")
    @classmethod
    def _split_origins(cls, value: object) -> object:
        if isinstance(value, str):
            return [origin.strip() for origin in value.split(",") if origin.strip()]
        return value

    @cached_property
    def signing_key(self) -> str:
        return self.secret_key or self._generated("secret_key")

    @cached_property
    def admin_key(self) -> str:
        return self.admin_token or self._generated("admin_token")

    def _generated(self, name: str) -> str:
        """A secret made once and kept in the data folder, so links survive a restart."""
        path = self.data_dir / name
        if path.exists():
            return path.read_text().strip()
        self.data_dir.mkdir(parents=True, exist_ok=True)
        value = secrets.token_urlsafe(32)
        path.touch(mode=0o600)
        path.write_text(value)
        return value
