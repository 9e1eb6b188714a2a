"""What the web service holds while it runs: config, lists, removal store, limiters, resolver.

The lists are polled by file stamp, as ``oplguard serve`` does, so an approval
made by ``oplguard removals approve`` in another process shows here too.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from importlib import resources

import dns.asyncresolver
import jinja2

from oplguard.config.model import Config
from oplguard.lists.store import LIST_POLL_INTERVAL_S, ListStore
from oplguard.removals.intake import Limits
from oplguard.removals.model import RemovalRequest
from oplguard.removals.notify import deliver_due
from oplguard.removals.ratelimit import HOUR_S, MINUTE_S, WindowLimiter
from oplguard.removals.repair import recover
from oplguard.removals.review import decide
from oplguard.removals.store import RemovalStore, open_store
from oplguard.removals.vocabulary import ReviewAction
from oplguard.storage.db import StoreError
from oplguard.web.rdns import make_resolver

log = logging.getLogger(__name__)

# Due notices are looked for this often (and at once after a decision); retries
# wait minutes (removals.notify), so a few seconds here add nothing.
NOTIFY_POLL_S = 5.0


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
    notices_due: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def admin_token(self) -> str:
        return self.cfg.web.admin_token

    async def poll_lists(self) -> None:
        """Reload changed list files every LIST_POLL_INTERVAL_S seconds, off the event loop
        (stat calls included: a slow filesystem never stalls the pages)."""
        while True:
            await asyncio.sleep(LIST_POLL_INTERVAL_S)
            if await asyncio.to_thread(self.lists.changed_files):
                for error in await asyncio.to_thread(self.lists.reload):
                    log.error("list reload failed, keeping the last good version: %s", error)

    async def decide(
        self, action: ReviewAction, request_id: str, *, note: str, actor: str
    ) -> RemovalRequest:
        """Approve or deny a removal request off the event loop, then wake the notice sender
        (for the admin page and the admin API alike).

        Raises:
            ReviewError: no such request, or it is decided already.
            InputError: a bad note.
            ListError: the list could not be changed.
        """
        now = time.time()
        decided = await asyncio.to_thread(
            decide, self.store, self.lists, action, request_id, note=note, actor=actor, now=now
        )
        self.notices_due.set()
        return decided

    async def deliver_notices(self) -> None:
        """Send due decision notices (``[web.notify]``), at once after a decision, else by poll."""
        notify, url = self.cfg.web.notify, self.cfg.web.public_url
        while True:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(NOTIFY_POLL_S):
                    await self.notices_due.wait()
            self.notices_due.clear()
            try:
                now = time.time()
                await asyncio.to_thread(deliver_due, self.store, notify, now, public_url=url)
            except StoreError as err:  # the database is down: the notices wait in it
                log.error("cannot send decision notices: %s", err)

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[None]:
        """The lifespan: the list poller (and the notice sender) run while the app serves."""
        jobs = [(self.poll_lists(), "oplguard-web-list-poll")]
        if self.cfg.web.notify.enabled:
            jobs.append((self.deliver_notices(), "oplguard-web-notify"))
        started = {asyncio.create_task(job, name=name) for job, name in jobs}
        self.tasks |= started
        try:
            yield
        finally:
            for task in started:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            self.tasks -= started
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
    store = open_store(cfg)
    for line in recover(store, lists, actor="web:start", now=time.time()):
        log.warning("removal repair at start: %s", line)
    web = cfg.web
    stylesheet = resources.files("oplguard").joinpath("web/templates/style.css").read_bytes()
    return WebState(
        cfg=cfg,
        lists=lists,
        store=store,
        resolver=make_resolver(web.dns_servers, web.dns_timeout_s),
        templates=template_environment(),
        lookups=WindowLimiter(web.lookups_per_minute, MINUTE_S),
        limits=Limits(web.removals_per_hour, web.removals_per_ip_per_day),
        submissions=WindowLimiter(web.removals_per_hour, HOUR_S, what="removal requests"),
        stylesheet=stylesheet,
    )
