"""Fixtures: the real ``oplguard web`` (uvicorn) on loopback, over copies of the sample lists."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path

import httpx
import pytest
from tests.conftest import ConfigWriter
from tests.integration.web_harness import ADMIN_TOKEN, RunningWeb, write_web_config

MakeClient = Callable[..., httpx.Client]


@pytest.fixture
def make_client(write_config: ConfigWriter, tmp_path: Path) -> Iterator[MakeClient]:
    """Start a server and return a client for it; ``web`` adds lines to [web].

    DNS goes to a UDP port nobody answers on, so reverse-DNS checks time out
    after ``dns_timeout_s`` (integration tests use a real nsd).
    """
    with ExitStack() as stack:

        def make(
            web: str = "", dns_timeout_s: float = 0.2, admin_token: str = ADMIN_TOKEN
        ) -> httpx.Client:
            path = write_web_config(
                write_config,
                tmp_path,
                web=web,
                dns_timeout_s=dns_timeout_s,
                admin_token=admin_token,
            )
            server = stack.enter_context(RunningWeb(path))
            return stack.enter_context(httpx.Client(base_url=server.url, timeout=10.0))

        yield make


@pytest.fixture
def client(make_client: MakeClient) -> httpx.Client:
    return make_client()
