"""``oplguard log-level`` and signals against a real running service (control socket)."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
from collections.abc import Iterator
from pathlib import Path

import aiospamc
import pytest

from tests.conftest import ConfigWriter, config_writer
from tests.integration.harness import RunningServer
from tests.integration.service_process import ServiceProcess, oplguard, wait_for
from tests.samples import message

pytestmark = pytest.mark.integration
COMPONENTS = {"protocol", "relays", "lists", "policy", "tracking", "web"}


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServiceProcess]:
    """One service for the module (start-up is the slow part); levels reset after each test."""
    folder = tmp_path_factory.mktemp("log-level")
    config = config_writer(folder)(top=f'control_socket = "{folder / "control.sock"}"')
    with ServiceProcess(config, folder / "serve.log") as running:
        yield running


@pytest.fixture(autouse=True)
def reset_levels(request: pytest.FixtureRequest) -> Iterator[None]:
    yield
    if "service" in request.fixturenames:
        service: ServiceProcess = request.getfixturevalue("service")
        assert log_level(service, "warning")[0] == 0


def log_level(service: ServiceProcess, *args: str) -> tuple[int, dict[str, object], str]:
    result = oplguard("log-level", "--config", str(service.config), "--json", *args)
    body = json.loads(result.stdout) if result.returncode == 0 else {}
    return result.returncode, body, result.stderr


def test_levels_default_to_warning_and_socket_is_owner_only(service: ServiceProcess) -> None:
    code, body, _ = log_level(service)
    assert code == 0
    assert body == {"levels": dict.fromkeys(COMPONENTS, "WARNING"), "reverts": []}
    mode = (service.config.parent / "control.sock").stat().st_mode & 0o777
    assert mode == 0o600


def test_set_one_component_reports_previous_and_revert_time(service: ServiceProcess) -> None:
    code, body, _ = log_level(service, "relays", "debug", "--for", "1h30m")
    assert code == 0
    assert body["previous"] == {"relays": "WARNING"}
    assert body["levels"] == {**dict.fromkeys(COMPONENTS, "WARNING"), "relays": "DEBUG"}
    assert isinstance(body["revert_at"], str) and body["revert_at"].endswith("Z")
    reverts = service.levels()["reverts"]
    assert [(r["component"], r["level"]) for r in reverts] == [("relays", "WARNING")]
    code, body, _ = log_level(service, "INFO")
    assert body["previous"] == {**dict.fromkeys(COMPONENTS, "WARNING"), "relays": "DEBUG"}
    assert body["revert_at"] is None
    assert service.levels() == {"levels": dict.fromkeys(COMPONENTS, "INFO"), "reverts": []}


async def _load(port: int, stop: asyncio.Event) -> tuple[int, list[BaseException]]:
    """A small bounded load: 4 aiospamc clients in a loop until ``stop``."""
    done, failed = 0, []

    async def client() -> None:
        nonlocal done
        while not stop.is_set():
            try:
                response = await aiospamc.check(
                    message("listed-deep.eml"), host="127.0.0.1", port=port
                )
                assert response.headers["Spam"].value is True
                done += 1
            except Exception as err:  # every failure is collected and asserted on
                failed.append(err)

    await asyncio.gather(*(client() for _ in range(4)))
    return done, failed


def test_for_reverts_by_itself_under_load_and_no_request_fails(service: ServiceProcess) -> None:
    code, body, _ = log_level(service, "debug", "--for", "3s")
    assert code == 0 and set(body["levels"].values()) == {"DEBUG"}

    async def run() -> tuple[int, list[BaseException]]:
        stop = asyncio.Event()
        load = asyncio.ensure_future(_load(service.port, stop))

        def reverted() -> bool:
            return set(service.levels()["levels"].values()) == {"WARNING"}

        await asyncio.to_thread(wait_for, reverted, 60.0)
        stop.set()
        return await load

    done, failed = asyncio.run(run())
    assert failed == []
    assert done > 0
    assert service.levels()["reverts"] == []
    assert "log level relays reverted to WARNING" in service.log.read_text()


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["loud"], "unknown level 'loud'"),
        (["kernel", "debug"], "unknown component 'kernel'"),
        (["debug", "--for", "half an hour"], "bad duration"),
        (["relays", "debug", "extra"], "usage"),
    ],
    ids=["level", "component", "duration", "too-many"],
)
def test_usage_errors_exit_64_before_asking(
    write_config: ConfigWriter, tmp_path: Path, args: list[str], says: str
) -> None:
    config = write_config(top=f'control_socket = "{tmp_path / "none.sock"}"')
    result = oplguard("log-level", "--config", str(config), "--json", *args)
    assert result.returncode == 64
    assert says in result.stderr


def test_unreachable_service_exits_69(write_config: ConfigWriter, tmp_path: Path) -> None:
    config = write_config(top=f'control_socket = "{tmp_path / "none.sock"}"')
    result = oplguard("log-level", "--config", str(config), "--json")
    assert result.returncode == 69
    assert f"no control socket at {tmp_path / 'none.sock'}" in result.stderr
    assert result.stderr.count("\n") == 1


def test_config_without_control_socket_exits_69(write_config: ConfigWriter) -> None:
    result = oplguard("log-level", "--config", str(write_config()), "--json", "debug")
    assert result.returncode == 69
    assert "control_socket is not set" in result.stderr


def test_signals_step_every_component(service: ServiceProcess) -> None:
    service.signal(signal.SIGUSR1)
    wait_for(lambda: set(service.levels()["levels"].values()) == {"INFO"})
    # One at a time: signals that arrive together are delivered once.
    service.signal(signal.SIGUSR2)
    wait_for(lambda: set(service.levels()["levels"].values()) == {"WARNING"})
    service.signal(signal.SIGUSR2)
    wait_for(lambda: set(service.levels()["levels"].values()) == {"ERROR"})


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to make a socket owned by another user")
def test_foreign_owned_socket_is_refused_by_client_and_server(
    write_config: ConfigWriter, tmp_path: Path
) -> None:
    path = tmp_path / "control.sock"
    planted = socket.socket(socket.AF_UNIX)
    planted.bind(str(path))
    os.chown(path, 65534, 65534)
    config = write_config(top=f'control_socket = "{path}"')
    result = oplguard("log-level", "--config", str(config), "--json")
    assert result.returncode == 69
    assert "is owned by uid 65534" in result.stderr
    # The service refuses to replace it, says so, and still scores.
    with RunningServer(config) as running:
        assert running.server is not None
        assert running.server.obs.control is None
        host, port = running.address()
        response = asyncio.run(aiospamc.check(message("listed-deep.eml"), host=host, port=port))
        assert response.headers["Spam"].value is True
    assert path.stat().st_uid == 65534
    planted.close()
