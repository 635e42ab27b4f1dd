"""An asyncio client of Janus's HTTP API: sessions, plugin handles, requests and their events.

Every request carries the API secret and a fresh transaction id, and has a timeout. A
session receives its events by long poll (one GET at a time) and is kept alive by a
keepalive; when either fails, or Janus says the session is gone, the session is marked lost
and its owner told once, through `on_lost`: Janus went away or restarted, and whatever
lived in that session (handles, and what they joined) is gone with it.
"""

import asyncio
import contextlib
import logging
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Literal

import httpx
from pydantic import BaseModel, ConfigDict, Field, JsonValue, ValidationError

log = logging.getLogger("palabre.voice")

# A request on loopback or a LAN answers in milliseconds; one that takes this long is lost.
REQUEST_TIMEOUT_SECONDS = 5.0
# An asynchronous plugin request (join, configure with an SDP offer) answers by event once
# Janus has done the work: gathering its ICE candidates can take a few seconds.
EVENT_TIMEOUT_SECONDS = 10.0
# Janus answers a long poll after this long when it has no event for the session.
LONG_POLL_SECONDS = 30.0
# Events fetched per long poll: a burst of talking events comes back in one answer.
EVENTS_PER_POLL = 20
# Janus drops a session without requests for its `session_timeout` (60 s by default); a
# keepalive this often also notices a Janus that stopped answering.
KEEPALIVE_SECONDS = 10.0

Json = dict[str, JsonValue]


class JanusError(Exception):
    """Anything that went wrong talking to Janus."""


class JanusUnavailable(JanusError):
    """Janus could not be reached, or did not answer in time."""


class JanusRefused(JanusError):
    """Janus answered with an error of its own (the core's, or HTTP's)."""

    def __init__(self, code: int, reason: str) -> None:
        super().__init__(f"Janus error {code}: {reason}")
        self.code = code
        self.reason = reason


class Unauthorized(JanusRefused):
    """A wrong or missing API secret."""


class SessionGone(JanusRefused):
    """The session no longer exists: Janus restarted, or timed it out."""


class PluginError(JanusError):
    """A plugin refused a request (AudioBridge's and Streaming's `error_code`)."""

    def __init__(self, code: int, reason: str) -> None:
        super().__init__(f"plugin error {code}: {reason}")
        self.code = code
        self.reason = reason


# Janus's core error codes (its apierror.h) that the client tells apart.
UNAUTHORIZED = 403
SESSION_NOT_FOUND = 458


class Jsep(BaseModel):
    """An SDP offer or answer, passed between the browser and Janus as it is."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    type: Literal["offer", "answer"]
    sdp: str
    trickle: bool | None = None


class JanusInfo(BaseModel):
    """What `/janus/info` says about a server."""

    model_config = ConfigDict(frozen=True, extra="ignore", populate_by_name=True)

    version_string: str
    server_name: str = Field(alias="server-name")
    session_timeout: int = Field(alias="session-timeout")
    api_secret: bool = False
    plugins: dict[str, JsonValue] = {}
    transports: dict[str, JsonValue] = {}


class _Error(BaseModel):
    code: int
    reason: str


class _PluginData(BaseModel):
    plugin: str
    data: Json


class JanusMessage(BaseModel):
    """One message of Janus's API, as it came: an answer or an event."""

    model_config = ConfigDict(extra="allow")

    janus: str
    transaction: str | None = None
    session_id: int | None = None
    sender: int | None = None
    data: Json | None = None
    error: _Error | None = None
    plugindata: _PluginData | None = None
    jsep: Jsep | None = None


@dataclass(frozen=True)
class PluginReply:
    """A plugin's answer to a request: its data, and an SDP when it brings one."""

    data: Json
    jsep: Jsep | None = None


@dataclass(frozen=True)
class PluginEvent:
    """An event a plugin sent to one handle unasked (someone joined, someone talks...)."""

    handle_id: int
    data: Json
    jsep: Jsep | None = None


@dataclass(frozen=True)
class MediaEvent:
    """The core's news about a handle's PeerConnection: `webrtcup`, `media`, `slowlink`,
    `hangup`, `detached`; `body` is the message as Janus sent it."""

    handle_id: int
    kind: str
    body: Json


HandleEvent = PluginEvent | MediaEvent


def _plugin_failure(data: Json) -> PluginError | None:
    code = data.get("error_code")
    if isinstance(code, int):
        return PluginError(code, str(data.get("error", "")))
    return None


class JanusClient:
    """One Janus server's API (`http://127.0.0.1:8088/janus`), with its API secret."""

    def __init__(
        self,
        url: str,
        api_secret: str,
        *,
        timeout_seconds: float = REQUEST_TIMEOUT_SECONDS,
        event_timeout_seconds: float = EVENT_TIMEOUT_SECONDS,
        keepalive_seconds: float = KEEPALIVE_SECONDS,
    ) -> None:
        self.url = url.rstrip("/")
        self.timeout_seconds = timeout_seconds
        self.event_timeout_seconds = event_timeout_seconds
        self.keepalive_seconds = keepalive_seconds
        self._secret = api_secret
        self._http = httpx.AsyncClient(timeout=timeout_seconds)

    async def aclose(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> "JanusClient":
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.aclose()

    async def info(self) -> JanusInfo:
        """The server's description (Janus answers it without the secret)."""
        answer = await self._send(self._http.get(f"{self.url}/info"))
        try:
            return JanusInfo.model_validate(answer)
        except ValidationError as error:
            raise JanusRefused(0, f"not a Janus info answer: {error}") from None

    async def create_session(
        self, *, on_lost: Callable[[JanusError], None] | None = None
    ) -> "JanusSession":
        """A new session, polled for events and kept alive until destroyed or lost."""
        answer = await self.post("", {"janus": "create"})
        session = JanusSession(self, _created_id(answer), on_lost)
        session.start()
        return session

    async def post(self, path: str, message: Json) -> JanusMessage:
        """One request of the API under `path` (`""`, `"/<session>"`,
        `"/<session>/<handle>"`), with a transaction id and the secret added; Janus's error
        answers raised."""
        body: Json = {
            **message,
            "transaction": message.get("transaction") or new_transaction(),
            "apisecret": self._secret,
        }
        envelope = _parsed(await self._send(self._http.post(f"{self.url}{path}", json=body)))
        error = _error_of(envelope)
        if error is not None:
            raise error
        return envelope

    async def poll(self, session_id: int) -> list[JanusMessage]:
        """The session's next events, waiting up to LONG_POLL_SECONDS for one."""
        try:
            answer = await self._send(
                self._http.get(
                    f"{self.url}/{session_id}",
                    params={"maxev": EVENTS_PER_POLL, "apisecret": self._secret},
                    timeout=httpx.Timeout(
                        self.timeout_seconds, read=LONG_POLL_SECONDS + self.timeout_seconds
                    ),
                )
            )
        except JanusRefused as error:
            # Janus answers a long poll on a session it does not know with a bare 404.
            if error.code == httpx.codes.NOT_FOUND:
                raise SessionGone(SESSION_NOT_FOUND, f"no session {session_id}") from None
            raise
        messages = answer if isinstance(answer, list) else [answer]
        return [_parsed(message) for message in messages]

    async def _send(self, exchange: Awaitable[httpx.Response]) -> JsonValue:
        """The JSON of an HTTP exchange, its failures as JanusError (never with the URL, which
        may hold the secret)."""
        try:
            response = await exchange
        except httpx.TimeoutException:
            raise JanusUnavailable(f"Janus at {self.url} did not answer in time") from None
        except httpx.HTTPError as error:
            raise JanusUnavailable(
                f"Janus at {self.url} is unreachable: {type(error).__name__}"
            ) from None
        if response.status_code == UNAUTHORIZED:
            raise Unauthorized(UNAUTHORIZED, "wrong or missing API secret")
        if response.status_code != httpx.codes.OK:
            raise JanusRefused(response.status_code, f"HTTP {response.status_code}")
        try:
            answer: JsonValue = response.json()
        except ValueError:
            raise JanusRefused(0, "an answer that is not JSON") from None
        return answer


def new_transaction() -> str:
    return secrets.token_urlsafe(12)


def _parsed(message: JsonValue) -> JanusMessage:
    try:
        return JanusMessage.model_validate(message)
    except ValidationError as error:
        raise JanusRefused(0, f"not a Janus message: {error}") from None


def _error_of(envelope: JanusMessage) -> JanusRefused | None:
    if envelope.janus != "error" or envelope.error is None:
        return None
    code, reason = envelope.error.code, envelope.error.reason
    if code == UNAUTHORIZED:
        return Unauthorized(code, reason)
    if code == SESSION_NOT_FOUND:
        return SessionGone(code, reason)
    return JanusRefused(code, reason)


def _created_id(envelope: JanusMessage) -> int:
    identifier = (envelope.data or {}).get("id")
    if envelope.janus != "success" or not isinstance(identifier, int):
        raise JanusRefused(0, f"unexpected answer {envelope.janus!r} to a create or attach")
    return identifier


class JanusSession:
    """A session on one Janus: its plugin handles, and the loop that brings their events."""

    def __init__(
        self,
        client: JanusClient,
        session_id: int,
        on_lost: Callable[[JanusError], None] | None,
    ) -> None:
        self.client = client
        self.id = session_id
        self.lost: JanusError | None = None
        self.ended = asyncio.Event()
        self._on_lost = on_lost
        # Set by `destroy`: what fails from then on is no loss.
        self._closing = False
        self._handles: dict[int, PluginHandle] = {}
        # Asynchronous requests waiting for their event, by transaction.
        self._waiting: dict[str, asyncio.Future[JanusMessage]] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    def start(self) -> None:
        for loop in (self._poll_events(), self._keep_alive()):
            task = asyncio.create_task(loop)
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    @property
    def path(self) -> str:
        return f"/{self.id}"

    async def attach(
        self, plugin: str, *, on_event: Callable[[HandleEvent], None] | None = None
    ) -> "PluginHandle":
        """A handle on `plugin` (`janus.plugin.audiobridge`); its unasked events go to
        `on_event`."""
        self._check_alive()
        answer = await self.request({"janus": "attach", "plugin": plugin})
        handle = PluginHandle(self, _created_id(answer), plugin, on_event)
        self._handles[handle.id] = handle
        return handle

    async def request(self, message: Json, path: str = "") -> JanusMessage:
        """A request in this session; a `SessionGone` answer also marks the session lost."""
        self._check_alive()
        try:
            return await self.client.post(self.path + path, message)
        except SessionGone as error:
            self._lose(error)
            raise

    async def destroy(self) -> None:
        """End the session on Janus (when it is still there) and stop its loops."""
        self._closing = True
        with contextlib.suppress(JanusError):
            await self.request({"janus": "destroy"})
        self._end()

    def expect(self, transaction: str) -> None:
        """Wait for the event that will answer the asynchronous request sent with
        `transaction`: registered before the request goes, as the event may come first."""
        self._check_alive()
        self._waiting[transaction] = asyncio.get_running_loop().create_future()

    async def wait_for_event(self, transaction: str) -> JanusMessage:
        try:
            async with asyncio.timeout(self.client.event_timeout_seconds):
                return await self._waiting[transaction]
        except TimeoutError:
            raise JanusUnavailable(
                f"no answer from Janus within {self.client.event_timeout_seconds:.0f} s"
            ) from None

    def forget(self, transaction: str) -> None:
        future = self._waiting.pop(transaction, None)
        if future is not None and future.done() and not future.cancelled():
            # A loss may have failed it while nobody waited: its error is known already.
            future.exception()

    def _check_alive(self) -> None:
        if self.lost is not None:
            raise self.lost
        if self.ended.is_set():
            raise JanusError("the session was destroyed")

    async def _poll_events(self) -> None:
        while True:
            try:
                envelopes = await self.client.poll(self.id)
            except JanusError as error:
                self._lose(error)
                return
            for envelope in envelopes:
                self._dispatch(envelope)

    async def _keep_alive(self) -> None:
        while True:
            await asyncio.sleep(self.client.keepalive_seconds)
            try:
                await self.request({"janus": "keepalive"})
            except JanusError as error:
                self._lose(error)
                return

    def _dispatch(self, envelope: JanusMessage) -> None:
        if envelope.janus == "timeout":
            self._lose(SessionGone(SESSION_NOT_FOUND, "Janus timed the session out"))
            return
        error = _error_of(envelope)
        waiting = self._waiting.get(envelope.transaction or "")
        if waiting is not None and not waiting.done():
            if error is not None:
                waiting.set_exception(error)
                return
            if envelope.janus == "event":
                waiting.set_result(envelope)
                return
        if isinstance(error, SessionGone | Unauthorized):
            self._lose(error)
            return
        handle = self._handles.get(envelope.sender or 0)
        if handle is None:
            return
        if envelope.janus == "detached":
            self._handles.pop(handle.id, None)
        handle.deliver(envelope)

    def _lose(self, error: JanusError) -> None:
        """Mark the session lost, once: fail what waits, stop the loops, tell the owner."""
        if self.lost is not None or self.ended.is_set() or self._closing:
            return
        self.lost = error
        log.warning("janus session lost", extra={"janus": self.client.url, "reason": str(error)})
        for future in self._waiting.values():
            if not future.done():
                future.set_exception(error)
        self._end()
        if self._on_lost is not None:
            self._on_lost(error)

    def _end(self) -> None:
        self.ended.set()
        current = asyncio.current_task()
        for task in list(self._tasks):
            if task is not current:
                task.cancel()


class PluginHandle:
    """A handle on one plugin within a session."""

    def __init__(
        self,
        session: JanusSession,
        handle_id: int,
        plugin: str,
        on_event: Callable[[HandleEvent], None] | None,
    ) -> None:
        self.session = session
        self.id = handle_id
        self.plugin = plugin
        self._on_event = on_event

    @property
    def path(self) -> str:
        return f"/{self.id}"

    async def send(self, body: Json, jsep: Jsep | None = None) -> PluginReply:
        """A plugin request. A synchronous one (create, mute, listparticipants...) is answered
        at once; an asynchronous one (join, configure, changeroom, leave) is acknowledged,
        and answered by the event that carries its transaction. A plugin's refusal is raised
        as PluginError."""
        transaction = new_transaction()
        message: Json = {"janus": "message", "transaction": transaction, "body": body}
        if jsep is not None:
            message["jsep"] = jsep.model_dump(exclude_none=True)
        self.session.expect(transaction)
        try:
            answer = await self.session.request(message, self.path)
            if answer.janus == "ack":
                answer = await self.session.wait_for_event(transaction)
        finally:
            self.session.forget(transaction)
        if answer.plugindata is None:
            raise JanusRefused(0, f"unexpected answer {answer.janus!r} to a plugin request")
        failure = _plugin_failure(answer.plugindata.data)
        if failure is not None:
            raise failure
        return PluginReply(answer.plugindata.data, answer.jsep)

    async def trickle(self, candidate: Json | None) -> None:
        """Pass on one of the browser's ICE candidates; None says it has no more."""
        message: Json = {"janus": "trickle"}
        message["candidate"] = candidate if candidate is not None else {"completed": True}
        await self.session.request(message, self.path)

    async def detach(self) -> None:
        await self.session.request({"janus": "detach"}, self.path)

    def deliver(self, envelope: JanusMessage) -> None:
        if self._on_event is None:
            return
        if envelope.janus == "event" and envelope.plugindata is not None:
            self._on_event(PluginEvent(self.id, envelope.plugindata.data, envelope.jsep))
        elif envelope.janus not in {"ack", "success", "keepalive"}:
            body = envelope.model_dump(exclude_none=True, exclude={"transaction"})
            self._on_event(MediaEvent(self.id, envelope.janus, body))
