"""systemd socket activation: listening sockets handed over by systemd (``sd_listen_fds``).

With ``oplguard.socket`` (the Ansible role's ``oplguard_socket_activation``) systemd owns the
listening sockets and passes them to ``oplguard serve`` as file descriptors 3, 4, ... with
``LISTEN_PID`` (this process) and ``LISTEN_FDS`` (how many) in the environment. A restart then
never refuses a connection: while the old process drains and the new one starts, connections
wait in the socket's backlog, which systemd keeps open, and the new process accepts them.

Each handed-over socket is matched to a ``[server] listen`` entry by its bound address; a
listener without one is bound by the server as usual. A socket that matches no listener is a
config error (the socket unit and the config disagree), never silently ignored.
"""

from __future__ import annotations

import ipaddress
import os
import socket
from collections.abc import Iterable, MutableMapping

from oplguard.config.model import Listener
from oplguard.errors import ConfigError

SD_LISTEN_FDS_START = 3
# Upper bound on what LISTEN_FDS may claim: a few listeners, never thousands of descriptors.
MAX_LISTEN_FDS = 64
ENV_KEYS = ("LISTEN_PID", "LISTEN_FDS", "LISTEN_FDNAMES")


def listen_fds(environ: MutableMapping[str, str] | None = None) -> list[socket.socket]:
    """The sockets systemd passed to this process (none without socket activation).

    The variables are removed from the environment, as ``sd_listen_fds(1)`` does, so that a
    child process never takes them for its own.

    Raises:
        ConfigError: LISTEN_FDS is not a small number.
    """
    env = os.environ if environ is None else environ
    pid, count = env.get("LISTEN_PID", ""), env.get("LISTEN_FDS", "")
    for key in ENV_KEYS:
        env.pop(key, None)
    if not count or pid != str(os.getpid()):
        return []
    if not count.isdigit() or not 0 < int(count) <= MAX_LISTEN_FDS:
        raise ConfigError(
            f"LISTEN_FDS={count!r} from systemd is not a number of sockets (1..{MAX_LISTEN_FDS})",
            fix="check the oplguard.socket unit",
        )
    fds = range(SD_LISTEN_FDS_START, SD_LISTEN_FDS_START + int(count))
    return [socket.socket(fileno=fd) for fd in fds]


def _address_of(sock: socket.socket) -> tuple[str, str, int]:
    """(kind, host or path, port) of a bound socket; kind is "unix" or "tcp"."""
    if sock.family == socket.AF_UNIX:
        name = sock.getsockname()
        return "unix", name.decode() if isinstance(name, bytes) else str(name), 0
    host, port = sock.getsockname()[:2]
    return "tcp", str(ipaddress.ip_address(host)), int(port)


def _wants(listener: Listener, kind: str, host: str, port: int) -> bool:
    if listener.kind == "unix" or kind == "unix":
        return listener.kind == kind == "unix" and listener.path == host
    if listener.port != port:
        return False
    if listener.host in ("*", ""):
        return ipaddress.ip_address(host).is_unspecified
    try:
        return ipaddress.ip_address(listener.host.strip("[]")) == ipaddress.ip_address(host)
    except ValueError:  # a host name: it was resolved when bound; trust the port
        return True


def match(
    listeners: Iterable[Listener], sockets: list[socket.socket]
) -> dict[Listener, socket.socket]:
    """Each handed-over socket keyed by the ``[server] listen`` entry it serves.

    Raises:
        ConfigError: a socket matches no listener (the socket unit and the config disagree).
    """
    wanted = list(listeners)
    found: dict[Listener, socket.socket] = {}
    for sock in sockets:
        kind, host, port = _address_of(sock)
        free = (lst for lst in wanted if lst not in found)
        listener = next((lst for lst in free if _wants(lst, kind, host, port)), None)
        if listener is None:
            where = host if kind == "unix" else f"{host}:{port}"
            raise ConfigError(
                f"systemd passed a listening socket on {where} that no [server] listen entry names",
                fix="make ListenStream= of oplguard.socket and [server] listen the same",
            )
        sock.setblocking(False)
        found[listener] = sock
    return found


def inherited(listeners: Iterable[Listener]) -> dict[Listener, socket.socket]:
    """The sockets systemd handed over, keyed by listener (empty without socket activation).

    Raises:
        ConfigError: LISTEN_FDS is bad or a socket matches no listener.
    """
    sockets = listen_fds()
    return match(listeners, sockets) if sockets else {}
