"""The STUN and TURN servers the pages get (`PALABRE_ICE_SERVERS`), and TURN credentials made
for each connection from a shared secret (`PALABRE_TURN_SECRET`, coturn's use-auth-secret)."""

import base64
import hashlib
import hmac
import time
from pathlib import Path

import pytest
from pydantic import ValidationError

from server.settings import IceServer, Settings
from server.voice.ice import ice_servers_for
from tests.server.harness import connected, demo_people, protocol_problem, serving, settings_for

STUN = {"urls": "stun:stun.example.org:3478"}
TURN = {"urls": ["turns:turn.example.org:443?transport=tcp", "turn:turn.example.org:3478"]}


def test_ice_servers_come_from_the_environment_as_json(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(
        "PALABRE_ICE_SERVERS",
        '[{"urls": "stun:stun.example.org:3478"},'
        ' {"urls": ["turns:turn.example.org:443"], "username": "u", "credential": "c"}]',
    )
    servers = Settings().ice_servers
    assert [server.for_page() for server in servers] == [
        {"urls": ["stun:stun.example.org:3478"]},
        {"urls": ["turns:turn.example.org:443"], "username": "u", "credential": "c"},
    ]
    monkeypatch.delenv("PALABRE_ICE_SERVERS")
    assert Settings().ice_servers == []


@pytest.mark.parametrize(
    "given",
    [
        {"urls": "http://turn.example.org"},
        {"urls": []},
        {"urls": "turn:"},
        {"urls": "stun:x", "password": "c"},
        {"username": "u"},
    ],
)
def test_an_ice_server_that_is_no_stun_or_turn_server_is_refused(given: object) -> None:
    with pytest.raises(ValidationError):
        Settings(ice_servers=[given])


async def test_the_sync_reply_gives_every_page_the_configured_ice_servers(
    sqlite_url: str, tmp_path: Path
) -> None:
    turn = {**TURN, "username": "palabre", "credential": "given"}
    settings = settings_for(sqlite_url, tmp_path, ice_servers=[STUN, turn])
    async with serving(settings) as server:
        tokens = await demo_people(server.organiser)
        for who in ("j1", "f1", "obs"):
            async with connected(server.url, token=tokens[who]) as client:
                reply = await client.raw("sync", {})
                assert protocol_problem("sync_reply", reply) is None
                assert reply["you"]["voice"]["ice_servers"] == [
                    {"urls": [STUN["urls"]]},
                    {**turn, "urls": TURN["urls"]},
                ]


async def test_turn_credentials_are_made_for_each_connection_and_expire(
    sqlite_url: str, tmp_path: Path
) -> None:
    secret, lasting = "shared-with-coturn", 3600
    settings = settings_for(
        sqlite_url,
        tmp_path,
        ice_servers=[STUN, TURN],
        turn_secret=secret,
        turn_credential_seconds=lasting,
    )
    async with serving(settings) as server:
        tokens = await demo_people(server.organiser)
        given = []
        for who in ("j1", "j2"):
            async with connected(server.url, token=tokens[who]) as client:
                before = time.time()
                reply = await client.raw("sync", {})
                assert protocol_problem("sync_reply", reply) is None
                stun, turn = reply["you"]["voice"]["ice_servers"]
                # STUN needs no credential: none is made for it.
                assert stun == {"urls": [STUN["urls"]]}
                expires, _, _ = turn["username"].partition(":")
                assert before + lasting - 1 <= int(expires) <= time.time() + lasting
                # What coturn computes from its static-auth-secret for that username.
                digest = hmac.new(secret.encode(), turn["username"].encode(), hashlib.sha1)
                assert turn["credential"] == base64.b64encode(digest.digest()).decode()
                assert secret not in str(reply)
                given.append(turn["username"])
        assert given[0] != given[1]


def test_a_turn_server_without_a_credential_or_a_secret_is_refused() -> None:
    with pytest.raises(ValidationError, match="needs a username and credential"):
        Settings(ice_servers=[TURN])
    assert Settings(ice_servers=[TURN], turn_secret="s").turn_secret == "s"


def test_a_turn_server_given_its_own_credential_keeps_it_even_with_a_secret() -> None:
    settings = Settings(
        ice_servers=[{**TURN, "username": "fixed", "credential": "kept"}], turn_secret="s"
    )
    (server,) = ice_servers_for(settings, "sid", 1_000.0)
    assert (server["username"], server["credential"]) == ("fixed", "kept")
    assert IceServer.model_validate(server).urls == TURN["urls"]
