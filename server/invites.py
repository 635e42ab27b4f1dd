"""Invite links: signed, expiring, revocable; the database keeps only a hash of each token.

A token is the invite's id signed with the server's secret key, so the organiser can print a
person's link again from the id, while a copy of the database alone opens no door.
"""

import hashlib
import secrets
from datetime import UTC, datetime, timedelta

from itsdangerous import BadSignature, URLSafeSerializer

from facilitation import Role
from server.store import Invite, Store

SALT = "palabre-invite"
# A token is an invite id and its signature in URL-safe ASCII, about 40 characters.
MAX_TOKEN_CHARS = 256


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
        return invite, token

    async def resolve(self, token: str, *, now: datetime | None = None) -> Invite:
        """The invite a token opens, or `InviteRefused` with the reason."""
        # Anything else (a lone surrogate, say) could not even be hashed.
        if len(token) > MAX_TOKEN_CHARS or not token.isascii():
            raise InviteRefused("invalid_token", "this link is not a palabre invite")
        try:
            self._signer.loads(token)
        except BadSignature:
            raise InviteRefused("invalid_token", "this link is not a palabre invite") from None
        invite = await self._store.invite_by_hash(token_hash(token))
        if invite is None:
            raise InviteRefused("invalid_token", "this invite does not exist")
        if invite.revoked_at is not None:
            raise InviteRefused("revoked_token", "this invite was withdrawn by the organiser")
        if invite.expires_at <= (now or datetime.now(UTC)):
            raise InviteRefused("expired_token", "this invite has expired")
        return invite
