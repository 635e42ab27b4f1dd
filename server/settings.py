"""Settings from the environment, with embedded defaults: a SQLite file, one process, no Redis."""

import os
import secrets
import time
from functools import cached_property
from pathlib import Path
from typing import Annotated
from urllib.parse import urlsplit

from pydantic import (
    AliasChoices,
    BaseModel,
    ConfigDict,
    Field,
    PositiveFloat,
    PositiveInt,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

# A socket.io message over this size is refused with `payload_too_large` (issue 3: 16 KiB).
MAX_PAYLOAD_BYTES = 16 * 1024
# Engine.IO closes a connection whose single message exceeds this: abuse, not a mistake.
HARD_MESSAGE_LIMIT_BYTES = 64 * 1024
# Writing a 44-byte secret takes microseconds; a process that finds one unfinished waits this
# long for it, polling at the second interval.
SECRET_WRITE_SECONDS = 2.0
SECRET_POLL_SECONDS = 0.01


# Hosts that listen everywhere: a link must name an address a browser can reach instead.
WILDCARD_HOSTS = frozenset({"0.0.0.0", "::", ""})
DEFAULT_PORTS = {"http": 80, "https": 443}


def origin_of(url: str) -> str:
    """The origin a browser sends for pages under `url` (scheme, host, and the port unless it
    is the scheme's default); ValueError for a URL no browser could open."""
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    if scheme not in DEFAULT_PORTS or not parts.hostname:
        raise ValueError(f"{url!r} is not an http or https URL with a host")
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    port = parts.port  # ValueError when it is no port number
    shown = "" if port is None or port == DEFAULT_PORTS[scheme] else f":{port}"
    return f"{scheme}://{host}{shown}"


# What an RTCIceServer's URLs may name (RFC 7064, RFC 7065): STUN and TURN, over UDP, TCP or TLS.
ICE_URL_SCHEMES = ("stun:", "stuns:", "turn:", "turns:")
# More would only slow every page's ICE gathering; a deployment needs one or two.
MAX_ICE_SERVERS = 8


class IceServer(BaseModel):
    """One STUN or TURN server the pages give their peer connection (an RTCIceServer)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    urls: list[str] = Field(min_length=1, max_length=MAX_ICE_SERVERS)
    username: str | None = None
    credential: str | None = None

    @field_validator("urls", mode="before")
    @classmethod
    def _one_or_many(cls, value: object) -> object:
        return [value] if isinstance(value, str) else value

    @field_validator("urls")
    @classmethod
    def _stun_or_turn(cls, value: list[str]) -> list[str]:
        for url in value:
            if not url.startswith(ICE_URL_SCHEMES) or len(url) <= len("turn:"):
                raise ValueError(f"{url!r} is not a stun:, stuns:, turn: or turns: URL")
        return value

    @property
    def turn(self) -> bool:
        return any(url.startswith(("turn:", "turns:")) for url in self.urls)

    def for_page(self) -> dict[str, object]:
        """As a browser's RTCPeerConnection takes it."""
        return self.model_dump(exclude_none=True)


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
    # The address people use to reach this server: invite links start with it. Unset, it is
    # the server's own (`address`), which follows `host` and `port`.
    public_url: str | None = None
    # The browser origins whose pages may use the socket. Unset, the public URL's (`origins`).
    allowed_origins: Annotated[list[str] | None, NoDecode] = None
    # Where the embedded defaults keep their files: the SQLite database and generated secrets.
    data_dir: Path = Path("var")
    secret_key: str | None = None
    admin_token: str | None = None

    max_payload_bytes: int = MAX_PAYLOAD_BYTES
    # A person clicks a few times a second at most; bursts cover a reconnect's catch-up.
    rate_per_second: float = 10.0
    rate_burst: int = 30
    # Per client address (see server/throttle.py). Connecting: a venue's whole jury may share
    # one address and reconnect at once after a network blip.
    connect_rate_per_second: PositiveFloat = 20.0
    connect_burst: PositiveInt = 300
    # Server-Sent Events streams: a newsroom's script may follow every room of an assembly.
    sse_rate_per_second: PositiveFloat = 2.0
    sse_burst: PositiveInt = 120
    sse_streams_per_address: PositiveInt = 120
    # The organiser's API: scripts, a few calls a second at most.
    api_rate_per_second: PositiveFloat = 5.0
    api_burst: PositiveInt = 50
    invite_ttl_days: int = 30
    # Snapshot an assembly every so many events, so a restart replays a short tail of the log.
    snapshot_every_events: int = 500
    # How long a command or a read waits for its assembly before the answer is `unavailable`.
    command_timeout_seconds: float = 10.0
    # A client further behind than this gets a fresh snapshot instead of the missed events. A
    # busy room makes about 30 events a minute: 200 covers a few minutes away, and keeps the
    # memory of a 100-room assembly about 70 MiB (the soak measured 3 to 4 KiB an event kept).
    resume_max_events: int = 200

    # The garbage collector (server/heap.py): freeze the heap once the assemblies are loaded,
    # and again every so many seconds (0: once), so full collections skip the long-lived state.
    gc_freeze: bool = True
    gc_freeze_every_seconds: float = Field(default=10.0, ge=0)
    # `gc.set_threshold`'s three numbers (`700,10,10` is Python's own); unset, left as they are.
    gc_thresholds: Annotated[tuple[PositiveInt, PositiveInt, PositiveInt] | None, NoDecode] = None
    # Per-message deflate on the websocket (uvicorn's `ws_per_message_deflate`), when the
    # client offers it. Off: palabre's events are small, and each socket paid for a deflater
    # of its own, about 40 KiB, and CPU on every delivery (docs/benchmarks.md).
    ws_per_message_deflate: bool = False

    # Voice (server/voice/): existing Janus instances to use, comma-separated HTTP API URLs
    # (`http://10.0.0.5:8088/janus`). Unset, palabre starts its own Janus when the `janus`
    # binary is installed, on loopback, with a configuration it writes under the data dir.
    janus_urls: Annotated[list[str] | None, NoDecode] = None
    # The API secret and the plugins' admin key palabre sends; unset, generated into the data
    # dir (and written into the configuration of palabre's own Janus).
    janus_api_secret: str | None = None
    janus_admin_key: str | None = None
    # The loopback port of palabre's own Janus API; 0 picks a free one at each start.
    janus_port: int = Field(default=0, ge=0, le=65_535)
    # What palabre's own Janus offers browsers for media (its `nat` settings): the only
    # interfaces or addresses to gather ICE candidates on, and the public address to put in
    # place of the private one behind a 1:1 NAT. Unset, Janus uses every interface as is.
    janus_ice_enforce_list: str | None = None
    janus_nat_1_1_mapping: str | None = None
    # The UDP ports its media uses (`20000-40000`), to open in a firewall; unset, Janus's own.
    janus_rtp_port_range: str | None = None
    # When Janus says someone talks: the mean audio level (-dBov, 0 loudest, 127 silence) of
    # the last so many 20 ms packets must be under the level. Janus's defaults; speech with
    # long pauses, or quiet microphones, may need a higher level (measure with real voices).
    voice_talking_level: int = Field(default=25, ge=1, le=127)
    voice_talking_packets: int = Field(default=25, ge=5, le=250)
    # The STUN and TURN servers the pages give their peer connections, as JSON:
    # `[{"urls": "turns:turn.example.org:443?transport=tcp", "username": "u", "credential": "c"}]`.
    # None by default: Janus's own candidates do on an open network; behind firewalls that
    # block UDP, a TURN server relays the media (docs/deploy.md).
    ice_servers: list[IceServer] = Field(default_factory=list, max_length=MAX_ICE_SERVERS)
    # With this secret (coturn's `static-auth-secret`), TURN servers listed without a credential
    # get one made for each connection, valid this long; nothing is shared with the pages.
    turn_secret: str | None = None
    turn_credential_seconds: PositiveInt = 6 * 3600

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

    @field_validator("allowed_origins", "janus_urls", mode="before")
    @classmethod
    def _split_list(cls, value: object) -> object:
        if isinstance(value, str):
            return [item.strip() for item in value.split(",") if item.strip()]
        return value

    @field_validator("gc_thresholds", mode="before")
    @classmethod
    def _three_numbers(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",")] if value.strip() else None
        return value

    @field_validator("janus_urls")
    @classmethod
    def _janus_api_urls(cls, value: list[str] | None) -> list[str] | None:
        """Each an http(s) URL with a host, kept without a trailing slash."""
        if value is None:
            return None
        for url in value:
            parts = urlsplit(url)
            if parts.scheme not in DEFAULT_PORTS or not parts.hostname:
                raise ValueError(f"{url!r} is not an http or https URL of a Janus API")
        return [url.rstrip("/") for url in value]

    @model_validator(mode="after")
    def _turn_credentials(self) -> "Settings":
        """A browser refuses a TURN server without a credential (its whole peer connection
        fails): each needs its own, or the shared secret that makes them."""
        if self.turn_secret is None:
            for server in self.ice_servers:
                if server.turn and (server.username is None or server.credential is None):
                    raise ValueError(
                        f"the TURN server {server.urls[0]!r} needs a username and credential,"
                        " or PALABRE_TURN_SECRET to make them"
                    )
        return self

    @field_validator("public_url")
    @classmethod
    def _browsable(cls, value: str | None) -> str | None:
        if value is not None:
            origin_of(value)
        return value

    @field_validator("allowed_origins")
    @classmethod
    def _as_browsers_send_them(cls, value: list[str] | None) -> list[str] | None:
        return None if value is None else [origin_of(url) for url in value]

    @property
    def address(self) -> str:
        """The public URL, or this server's own address when none is set."""
        if self.public_url is not None:
            return self.public_url
        host = "127.0.0.1" if self.host in WILDCARD_HOSTS else self.host
        return f"http://[{host}]:{self.port}" if ":" in host else f"http://{host}:{self.port}"

    @property
    def origins(self) -> list[str]:
        """The allowed origins, or the public URL's (and, when that is unset too, localhost's
        on the same port: what a browser on this machine may be typed)."""
        if self.allowed_origins is not None:
            return self.allowed_origins
        if self.public_url is not None:
            return [origin_of(self.public_url)]
        return [origin_of(self.address), origin_of(f"http://localhost:{self.port}")]

    @cached_property
    def signing_key(self) -> str:
        return self.secret_key or self._generated("secret_key")

    @cached_property
    def admin_key(self) -> str:
        return self.admin_token or self._generated("admin_token")

    @cached_property
    def janus_secret(self) -> str:
        """The API secret every request to Janus carries."""
        return self.janus_api_secret or self._generated("janus_api_secret")

    @cached_property
    def janus_plugin_key(self) -> str:
        """The AudioBridge and Streaming plugins' admin key: creating rooms, mountpoints and
        forwarders needs it."""
        return self.janus_admin_key or self._generated("janus_admin_key")

    def _generated(self, name: str) -> str:
        """A secret made once and kept in the data folder, so links survive a restart."""
        return kept_secret(self.data_dir / name)


class SecretFileEmpty(Exception):
    """A secret file that a process created and never wrote: nothing was signed with it."""


def kept_secret(path: Path) -> str:
    """The secret in `path`, made there first if there is none. The file is created exclusively,
    so of processes starting together one writes it and the others read what it wrote."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return _written_secret(path)
    value = secrets.token_urlsafe(32)
    with os.fdopen(descriptor, "w") as file:
        # The newline marks the file complete for a process reading it meanwhile.
        file.write(f"{value}\n")
        file.flush()
        os.fsync(file.fileno())
    return value


def _written_secret(path: Path) -> str:
    """The secret another process wrote, waiting for it to finish when it is writing it now."""
    deadline = time.monotonic() + SECRET_WRITE_SECONDS
    while True:
        text = path.read_text()
        # Older versions wrote no newline: a file left alone this long is complete too.
        settled = time.time() - path.stat().st_mtime > SECRET_WRITE_SECONDS
        if text.endswith("\n") or settled or time.monotonic() > deadline:
            break
        time.sleep(SECRET_POLL_SECONDS)
    if not text.strip():
        raise SecretFileEmpty(
            f"{path} is empty: a process stopped while creating it. Delete it and start again."
        )
    return text.strip()
