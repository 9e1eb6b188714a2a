"""``oplguard web``: run the lookup and delisting service on uvicorn.

Only the CLI calls this.  The socket is bound before uvicorn starts so a bad
or busy address is one clear error, and port 0 works for tests.
"""

from __future__ import annotations

import logging
import signal
import socket

import uvicorn

from oplguard.config.model import Config, Listener
from oplguard.errors import ConfigError
from oplguard.levelnames import LIFECYCLE_LOGGER
from oplguard.web.app import create_app
from oplguard.web.guard import guarded_protocol
from oplguard.web.state import build_state

log = logging.getLogger(__name__)
# Start, listen, reload, stop: INFO, shown at every log_level (levelnames.py).
lifecycle = logging.getLogger(LIFECYCLE_LOGGER)

# Idle keep-alive connections are closed after this; a browser reconnects cheaply.
KEEP_ALIVE_S = 5
# Connections served at once; more get 503 from uvicorn instead of queueing forever.
MAX_CONCURRENCY = 200


def bind(listener: Listener) -> socket.socket:
    """A listening TCP socket for ``listener``.

    Raises:
        ConfigError: the address cannot be bound (in use, not ours, bad).
    """
    family = socket.AF_INET6 if ":" in listener.host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((listener.host, listener.port))
    except OSError as err:
        sock.close()
        raise ConfigError(
            f"cannot listen on {listener}: {err.strerror or err}",
            fix="choose a free address with [web] listen or --listen HOST:PORT",
        ) from err
    sock.listen(128)
    sock.set_inheritable(True)
    return sock


def uvicorn_config(cfg: Config, listener: Listener) -> uvicorn.Config:
    """uvicorn settings: X-Forwarded-For only from [web] trusted_proxies, no Server header."""
    proxies = list(cfg.web.trusted_proxies)
    return uvicorn.Config(
        create_app(build_state(cfg)),
        host=listener.host,
        port=listener.port,
        proxy_headers=bool(proxies),
        forwarded_allow_ips=proxies or None,
        server_header=False,
        timeout_keep_alive=KEEP_ALIVE_S,
        http=guarded_protocol(cfg.web.header_timeout_s, cfg.web.max_connections_per_client),
        limit_concurrency=MAX_CONCURRENCY,
        log_config=None,
        access_log=False,
    )


def run_web(cfg: Config, listener: Listener | None = None) -> int:
    """Serve until SIGTERM/SIGINT (uvicorn's handlers finish in-flight requests)."""
    chosen = listener or cfg.web.listen
    config = uvicorn_config(cfg, chosen)
    sock = bind(chosen)
    lifecycle.info("oplguard web listening on http://%s", chosen)
    # uvicorn stops gracefully on SIGTERM, then re-raises it to the handler that
    # was there before it started: make that one a no-op so a clean stop exits 0.
    signal.signal(signal.SIGTERM, lambda signum, frame: None)
    uvicorn.Server(config).run(sockets=[sock])
    return 0
