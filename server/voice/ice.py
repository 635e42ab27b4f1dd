"""The STUN and TURN servers a page's peer connection is given (`PALABRE_ICE_SERVERS`).

A TURN server relays media for people whose network blocks UDP. Its credentials either come
as set, or, with `PALABRE_TURN_SECRET`, are made for each connection and expire: the shared
secret scheme of coturn's `use-auth-secret` (the "TURN REST API" draft), so a credential copied
out of a page stops working a few hours later and the secret itself never leaves the server.
"""

import base64
import hashlib
import hmac
from typing import Any

from server.settings import IceServer, Settings


def turn_credential(secret: str, username: str) -> str:
    """coturn's password for a time-limited username: base64(HMAC-SHA1(secret, username))."""
    digest = hmac.new(secret.encode(), username.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


def ice_servers_for(settings: Settings, who: str, now_s: float) -> list[dict[str, Any]]:
    """The RTCIceServer list for one connection: TURN servers without their own credential
    get one minted for `who` (an opaque id), valid for `turn_credential_seconds`."""
    return [_for(server, settings, who, now_s) for server in settings.ice_servers]


def _for(server: IceServer, settings: Settings, who: str, now_s: float) -> dict[str, Any]:
    given = server.for_page()
    if settings.turn_secret is None or server.credential is not None or not server.turn:
        return given
    expires = int(now_s) + settings.turn_credential_seconds
    username = f"{expires}:{who}"
    credential = turn_credential(settings.turn_secret, username)
    return {**given, "username": username, "credential": credential}
