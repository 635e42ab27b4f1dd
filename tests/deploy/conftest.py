"""The reference deployment's fixture: nginx (Debian's package) in front of two palabre
processes on PostgreSQL and Redis. Without nginx the tests skip with the reason, or fail when
PALABRE_REQUIRE_SERVICES=1, as for every other real service (tests/conftest.py)."""

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from deploy.nginx import nginx_binary
from tests.conftest import _missing
from tests.deploy.arrangement import Deployment, deployed


@pytest.fixture
def nginx() -> str:
    binary = nginx_binary()
    if binary is None:
        _missing(
            "nginx is not installed (`apt-get install nginx`): no nginx on the PATH or in /usr/sbin"
        )
    return binary


@pytest.fixture
async def deployment(
    nginx: str, postgres_url: str, redis_url: str, tmp_path: Path
) -> AsyncIterator[Deployment]:
    async with deployed(postgres_url, redis_url, tmp_path) as arranged:
        yield arranged
