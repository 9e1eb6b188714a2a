"""What the web service holds while it runs: config, lists, removal store, limiters, resolver.

The lists are polled by file stamp, as ``oplguard serve`` does, so an approval
made by ``oplguard removals approve`` in another process shows here too.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from importlib import resources

import dns.asyncresolver
import jinja2

from oplguard.config import Config
from oplguard.lists import ListStore
from oplguard.removals.command import open_store
from oplguard.removals.intake import Limits
from oplguard.removals.ratelimit import HOUR_S, MINUTE_S, WindowLimiter
from oplguard.removals.store import RemovalStore
from oplguard.web.rdns import make_resolver

log = logging.getLogger(__name__)

# As server/lifecycle.py: a changed list file is seen within this many seconds.
LIST_POLL_S = 2.0


@dataclass
class WebState:
    """The running service's parts; built once by ``build_state``."""

    cfg: Config
    lists: ListStore
    store: RemovalStore
    resolver: dns.asyncresolver.Resolver
    templates: jinja2.Environment
    lookups: WindowLimiter
    limits: Limits
    # Removal submissions per client network, in this process (the store
    # counts per address and per listed IP for the whole fleet).
    submissions: WindowLimiter
    stylesheet: bytes
    tasks: set[asyncio.Task[None]] = field(default_factory=set)

    @property
    def admin_token(self) -> str:
        return self.cfg.web.admin_token

    async def poll_lists(self) -> None:
        """Reload changed list files every LIST_POLL_S seconds, off the event loop."""
        while True:
            await asyncio.sleep(LIST_POLL_S)
            if self.lists.changed_files():
                for error in await asyncio.to_thread(self.lists.reload):
                    log.error("list reload failed, keeping the last good version: %s", error)

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[None]:
        """The lifespan: the list poller runs while the app serves."""
        task = asyncio.create_task(self.poll_lists(), name="oplguard-web-list-poll")
        self.tasks.add(task)
        try:
            yield
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            self.tasks.discard(task)
            self.store.db.close()


def template_environment() -> jinja2.Environment:
    """Jinja2 over the packaged templates; autoescape everywhere, undefined names fail."""
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("oplguard", "web/templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    return env


def build_state(cfg: Config) -> WebState:
    """Load the lists and open the store.

    Raises:
        ConfigError: no tracking_db.
        ListError: a list file is bad.
        StoreError: the database cannot be opened.
    """
    lists = ListStore(cfg.lists)
    lists.load()
    web = cfg.web
    stylesheet = resources.files("oplguard").joinpath("web/templates/style.css").read_bytes()
    return WebState(
        cfg=cfg,
        lists=lists,
        store=open_store(cfg),
        resolver=make_resolver(web.dns_servers, web.dns_timeout_s),
        templates=template_environment(),
        lookups=WindowLimiter(web.lookups_per_minute, MINUTE_S),
        limits=Limits(web.removals_per_hour, web.removals_per_ip_per_day),
        submissions=WindowLimiter(web.removals_per_hour, HOUR_S, what="removal requests"),
        stylesheet=stylesheet,
    )
