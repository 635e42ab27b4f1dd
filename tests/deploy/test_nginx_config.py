"""deploy/nginx/palabre.conf as a deployment renders it (`python -m deploy.nginx site`): nginx
accepts it, and what is not a palabre process's address is refused before nginx sees it."""

from pathlib import Path

import httpx
import pytest

from deploy.nginx import (
    Balancer,
    check_config,
    free_port,
    main,
    site_config,
    standalone_config,
)

# A real deployment's private addresses, only ever written into config text: `nginx -t` parses
# the file and contacts no upstream, and the balancer refuses anything but loopback before it
# starts, so no test sends traffic to them.
DEPLOYMENT = ["10.0.0.11:8000", "10.0.0.12:8000"]


def test_the_site_file_of_a_deployment_is_filled_in_and_nginx_accepts_it(
    nginx: str, tmp_path: Path
) -> None:
    text = site_config(
        "80", DEPLOYMENT, server_name="jury.example.org", access_log=str(tmp_path / "access.log")
    )
    assert "{{" not in text
    assert "    server 10.0.0.11:8000 max_fails=1 fail_timeout=2s;" in text
    assert "    server 10.0.0.12:8000 max_fails=1 fail_timeout=2s;" in text
    site = tmp_path / "palabre.conf"
    site.write_text(text)
    configuration = tmp_path / "nginx.conf"
    configuration.write_text(standalone_config(tmp_path, site))
    # `nginx -t` reads and checks everything, and binds nothing.
    check_config(nginx, tmp_path, configuration)


@pytest.mark.parametrize(
    "backend", ["10.0.0.11", "10.0.0.11:http", ":8000", "10.0.0.11:8000; include /etc/x", ""]
)
def test_a_backend_that_is_not_host_and_port_is_refused(backend: str) -> None:
    with pytest.raises(ValueError, match="HOST:PORT"):
        site_config("80", [backend])


def test_a_site_without_any_palabre_process_is_refused() -> None:
    with pytest.raises(ValueError, match="at least one"):
        site_config("80", [])


def test_the_balancer_of_the_tests_stays_on_loopback() -> None:
    with pytest.raises(ValueError, match="loopback"):
        Balancer(["127.0.0.1:8001", "10.0.0.12:8000"])


def test_the_command_line_prints_the_site_file_or_says_what_is_wrong(
    capsys: pytest.CaptureFixture[str],
) -> None:
    argv = ["site", "--listen", "443 ssl", "--server-name", "jury.example.org"]
    assert main([*argv, "--backend", DEPLOYMENT[0], "--backend", DEPLOYMENT[1]]) == 0
    printed = capsys.readouterr().out
    assert "listen 443 ssl;" in printed and "server_name jury.example.org;" in printed
    assert main([*argv, "--backend", "10.0.0.11"]) == 2
    assert "is not HOST:PORT" in capsys.readouterr().err


def test_nginx_refuses_long_polling_which_would_need_sticky_sessions(nginx: str) -> None:
    # No palabre process behind it: what is asked here is nginx's own answer.
    with Balancer([f"127.0.0.1:{free_port()}"]) as balancer:
        polling = httpx.get(
            f"{balancer.url}/socket.io/", params={"EIO": "4", "transport": "polling"}, timeout=10
        )
        # Each process's figures are scraped on its own port, never through the balancer.
        metrics = httpx.get(f"{balancer.url}/metrics", timeout=10)
        down = httpx.get(f"{balancer.url}/healthz", timeout=10)
    assert polling.status_code == 400
    assert metrics.status_code == 404
    # With every process down, nginx says so (502) rather than hang.
    assert down.status_code == 502
