"""Read the trust settings of an existing SpamAssassin config (``local.cf``).

Reads files only; everything else is pure.  Understands ``trusted_networks``,
``internal_networks``, ``msa_networks``, ``originating_ip_headers``, their ``clear_*``
forms and ``include``; every other directive is ignored.  Bad networks raise ConfigError.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from oplguard.errors import ConfigError
from oplguard.mail.networks import NETWORK_FIX, NetEntry, NetworkList, parse_entry
from oplguard.mail.relays import DEFAULT_ORIGINATING_HEADERS, TrustSettings

# SA Conf/Parser.pm: "#" starts a comment unless escaped as "\#".
_COMMENT = re.compile(r"(?<!\\)#.*$")
# Include loops and runaway nesting stop here; SA has no limit of its own.
MAX_INCLUDE_DEPTH = 16
CF_SUFFIX = ".cf"
LISTS = ("trusted_networks", "internal_networks", "msa_networks")
_KEY_VALUE = re.compile(r"(\S+)\s*(.*)")


@dataclass(frozen=True, slots=True)
class Line:
    """One directive with its place, for error messages."""

    path: Path
    number: int
    key: str
    value: str


@dataclass(slots=True)
class _State:
    """What the directives read so far say (SA's semantics: lines add up)."""

    nets: dict[str, list[NetEntry]] = field(default_factory=lambda: {k: [] for k in LISTS})
    configured: dict[str, bool] = field(default_factory=lambda: dict.fromkeys(LISTS, False))
    headers: list[str] | None = None

    def add_networks(self, line: Line) -> None:
        """trusted/internal/msa_networks: add every item, mark the list configured."""
        if not line.value:
            raise _error(line, f"{line.key} needs at least one network")
        for item in line.value.split():
            try:
                self.nets[line.key].extend(parse_entry(item))
            except ValueError as err:
                raise _error(line, f"bad network {item!r} in {line.key}: {err}") from err
        self.configured[line.key] = True

    def clear_networks(self, line: Line) -> None:
        """clear_*_networks: empty the list, "not configured" again."""
        key = line.key.removeprefix("clear_")
        self.nets[key] = []
        self.configured[key] = False

    def add_headers(self, line: Line) -> None:
        """originating_ip_headers: add names to the list in force (case-insensitive)."""
        if not line.value:
            raise _error(line, "originating_ip_headers needs at least one header name")
        # SA's defaults (10_default_prefs.cf) are in force before local.cf is read.
        headers = list(DEFAULT_ORIGINATING_HEADERS) if self.headers is None else self.headers
        for name in line.value.split():
            if name.lower() not in (known.lower() for known in headers):
                headers.append(name)
        self.headers = headers

    def clear_headers(self, line: Line) -> None:
        """clear_originating_ip_headers: empty the list."""
        self.headers = []

    def settings(self) -> TrustSettings:
        """The TrustSettings the directives so far describe."""

        def listed(key: str) -> NetworkList | None:
            """A configured list, else None."""
            is_set = self.configured[key] or (key == "msa_networks" and self.nets[key])
            return NetworkList(tuple(self.nets[key])) if is_set else None

        return TrustSettings(
            trusted=listed("trusted_networks"),
            internal=listed("internal_networks"),
            msa=listed("msa_networks"),
            originating_ip_headers=None if self.headers is None else tuple(self.headers),
        )


HANDLERS: dict[str, Callable[[_State, Line], None]] = {
    "trusted_networks": _State.add_networks,
    "internal_networks": _State.add_networks,
    "msa_networks": _State.add_networks,
    "clear_trusted_networks": _State.clear_networks,
    "clear_internal_networks": _State.clear_networks,
    "clear_msa_networks": _State.clear_networks,
    "originating_ip_headers": _State.add_headers,
    "clear_originating_ip_headers": _State.clear_headers,
}


def _error(line: Line, message: str, fix: str = NETWORK_FIX) -> ConfigError:
    return ConfigError(message, path=str(line.path), line=line.number, fix=fix)


def read_sa_trust(path: Path) -> TrustSettings:
    """Trust settings from a SpamAssassin config file (or a directory of ``*.cf``).

    Lists that the files never set are None; ``clear_*`` empties what came
    before it.  ``if``/``ifplugin`` blocks are not evaluated: their lines count.

    Raises:
        ConfigError: a file cannot be read, an include loops, or a network is bad.
    """
    state = _State()
    for line in _directives(path, depth=0):
        handler = HANDLERS.get(line.key)
        if handler is not None:
            handler(state, line)
    return state.settings()


def _read(path: Path, origin: Line | None) -> str:
    try:
        return path.read_bytes().decode("latin-1")
    except OSError as err:
        where, number = (origin.path, origin.number) if origin else (path, 0)
        raise ConfigError(
            f"cannot read SpamAssassin config {str(path)!r}: {err.strerror or err}",
            path=str(where),
            line=number,
            fix="check the path and its permissions",
        ) from err


def _files(path: Path) -> list[Path]:
    # SA reads every *.cf of a config directory in sorted order.
    return sorted(p for p in path.iterdir() if p.suffix == CF_SUFFIX) if path.is_dir() else [path]


def _directives(path: Path, depth: int, origin: Line | None = None) -> Iterator[Line]:
    if depth > MAX_INCLUDE_DEPTH and origin is not None:
        message = f"includes nest deeper than {MAX_INCLUDE_DEPTH} (an include loop?)"
        raise _error(origin, message, fix="remove the include that leads back to this file")
    for source in _files(path):
        for number, raw in enumerate(_read(source, origin).splitlines(), start=1):
            line = _parse_line(source, number, raw)
            if line is None:
                continue
            if line.key == "include":
                if not line.value:
                    raise _error(line, "include needs a file name", fix="include other.cf")
                target = Path(line.value).expanduser()
                yield from _directives(source.parent / target, depth + 1, line)
            else:
                yield line


def _parse_line(path: Path, number: int, raw: str) -> Line | None:
    text = _COMMENT.sub("", raw).replace("\\#", "#").strip()
    if not text or text.startswith("lang "):
        return None
    match = _KEY_VALUE.fullmatch(text)
    if match is None:
        return None
    key, value = match.groups()
    return Line(path, number, key.lower().replace("-", "_"), value.strip())
