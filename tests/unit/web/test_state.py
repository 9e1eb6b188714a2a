"""The web service's list poller: the shared poll interval, and file checks off the event loop."""

from __future__ import annotations

import asyncio
import threading
from types import SimpleNamespace

import pytest

from oplguard.lists import store as lists_store
from oplguard.web import state as state_mod


class _Lists:
    """Records the thread each file check runs on; nothing ever changes."""

    def __init__(self) -> None:
        self.threads: list[threading.Thread] = []
        self.checked = asyncio.Event()
        self.loop = asyncio.get_running_loop()

    def changed_files(self) -> list[str]:
        self.threads.append(threading.current_thread())
        self.loop.call_soon_threadsafe(self.checked.set)
        return []


async def test_list_files_are_checked_off_the_event_loop(monkeypatch: pytest.MonkeyPatch) -> None:
    # Issue 15: the web poller stat()ed every list file on the event loop.
    monkeypatch.setattr(state_mod, "LIST_POLL_INTERVAL_S", 0.01)
    lists = _Lists()
    poller = asyncio.ensure_future(state_mod.WebState.poll_lists(SimpleNamespace(lists=lists)))  # type: ignore[arg-type]
    try:
        async with asyncio.timeout(30):
            await lists.checked.wait()
    finally:
        poller.cancel()
    assert lists.threads and threading.main_thread() not in lists.threads


def test_one_poll_interval_for_every_service() -> None:
    assert vars(state_mod)["LIST_POLL_INTERVAL_S"] is lists_store.LIST_POLL_INTERVAL_S
    assert not hasattr(state_mod, "LIST_POLL_S")
