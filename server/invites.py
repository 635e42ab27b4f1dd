"""Invite links: signed, expiring, revocable; the database keeps only a hash of each token.

A token is the invite's id signed with the server's secret key, so the organiser can print a
person's link again from the id, while a copy of the database alone opens no door.

Invites are resolved from memory, by the token's hash, once read: a person opens the page, then
the socket, then reconnects, and a thousand do so within a minute. The tokens nobody has
resolved lately are read together, one query for all that are waiting, so a connect storm
takes one database connection, not one each. A withdrawn invite leaves the memory of this
process at once, and of the others when the bus tells them; an invite withdrawn where no bus
reaches (the command line on a server without Redis) is refused here within `CACHE_SECONDS`.
"""

import asyncio
import hashlib
import logging
import secrets
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from itsdangerous import BadSignature, URLSafeSerializer

from facilitation import Role
from server.store import Invite, Store

log = logging.getLogger("palabre.invites")

SALT = "palabre-invite"
# A token is an invite id and its signature in URL-safe ASCII, about 40 characters.
MAX_TOKEN_CHARS = 256
# How long an invite read from the database is trusted without reading it again: covers a
# person's page load, socket and reconnects; bounds how late a revocation that came by no bus
# (the command line, Redis away) is seen.
CACHE_SECONDS = 30.0
# Tokens read in one query at most (well under every database's limit on bound parameters).
MAX_READ_TOGETHER = 500


@dataclass(frozen=True)
class _Known:
    invite: Invite
    read_at: float


class InviteRefused(Exception):
    """A token that opens nothing, with the stable code a client shows."""

    def __init__(self, code: str, detail: str) -> None:
        super().__init__(detail)
        self.code = code
        self.detail = detail


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class Invites:
    def __init__(self, store: Store, secret_key: str, public_url: str, ttl: timedelta) -> None:
        self._store = store
        self._signer = URLSafeSerializer(secret_key, salt=SALT)
        self._public_url = public_url.rstrip("/")
        self._ttl = ttl
        self._known: dict[str, _Known] = {}
        # Token hashes waiting to be read, and the one task reading them.
        self._wanted: dict[str, asyncio.Future[Invite | None]] = {}
        self._reader: asyncio.Task[None] | None = None
        # Counts withdrawals, so a read that began before one does not bring the invite back.
        self._withdrawals = 0

    def token(self, invite_id: str) -> str:
        return str(self._signer.dumps(invite_id))

    def link(self, token: str) -> str:
        return f"{self._public_url}/join/{token}"

    async def issue(
        self, assembly_id: str, participant_id: str | None, role: Role, *, now: datetime
    ) -> tuple[Invite, str]:
        # Hex, so an id never starts with "-" and reads as an option on a command line.
        invite_id = secrets.token_hex(12)
        token = self.token(invite_id)
        invite = Invite(
            id=invite_id,
            assembly_id=assembly_id,
            participant_id=participant_id,
            role=role.value,
            token_hash=token_hash(token),
            created_at=now,
            expires_at=now + self._ttl,
            revoked_at=None,
        )
        await self._store.add_invite(invite)
        self._known[invite.token_hash] = _Known(invite, time.monotonic())
        return invite, token

    async def forget(self, invite_id: str, local: bool = True) -> None:
        """An invite was withdrawn (here, or on another process): read it again when next used.
        A `Hub.on_revoke` listener."""
        self._withdrawals += 1
        for hashed, known in list(self._known.items()):
            if known.invite.id == invite_id:
                del self._known[hashed]

    async def _find(self, hashed: str) -> Invite | None:
        known = self._known.get(hashed)
        if known is not None and time.monotonic() - known.read_at < CACHE_SECONDS:
            return known.invite
        wanted = self._wanted.get(hashed)
        if wanted is None:
            wanted = self._wanted[hashed] = asyncio.get_running_loop().create_future()
        if self._reader is None or self._reader.done():
            self._reader = asyncio.create_task(self._read_wanted(), name="palabre-invites")
        # Shielded: a caller that gives up must not cancel the read the others wait for.
        return await asyncio.shield(wanted)

    async def _read_wanted(self) -> None:
        """Read every wanted token hash, a few hundred a query, until none is left."""
        while self._wanted:
            batch = dict(list(self._wanted.items())[:MAX_READ_TOGETHER])
            for hashed in batch:
                del self._wanted[hashed]
            withdrawals = self._withdrawals
            try:
                found = {i.token_hash: i for i in await self._store.invites_by_hash(list(batch))}
            except Exception as error:
                for future in batch.values():
                    if not future.done():
                        future.set_exception(error)
                continue
            read_at = time.monotonic()
            for hashed, future in batch.items():
                invite = found.get(hashed)
                if invite is not None and withdrawals == self._withdrawals:
                    self._known[hashed] = _Known(invite, read_at)
                if not future.done():
                    future.set_result(invite)

    async def resolve(self, token: str, *, now: datetime | None = None) -> Invite:
        """The invite a token opens, or `InviteRefused` with the reason."""
        # Anything else (a lone surrogate, say) could not even be hashed.
        if len(token) > MAX_TOKEN_CHARS or not token.isascii():
            raise InviteRefused("invalid_token", "this link is not a palabre invite")
        try:
            self._signer.loads(token)
        except BadSignature:
            raise InviteRefused("invalid_token", "this link is not a palabre invite") from None
        invite = await self._find(token_hash(token))
        if invite is None:
            raise InviteRefused("invalid_token", "this invite does not exist")
        if invite.revoked_at is not None:
            raise InviteRefused("revoked_token", "this invite was withdrawn by the organiser")
        if invite.expires_at <= (now or datetime.now(UTC)):
            raise InviteRefused("expired_token", "this invite has expired")
        return invite
