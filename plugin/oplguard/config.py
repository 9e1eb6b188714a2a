"""Configuration: one TOML file parsed into frozen dataclasses.

Defaults live in the dataclass fields and nowhere else.  Every error names the
file, the line and the fix (raised as ConfigError, exit 78 on the CLI).
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field, fields
from datetime import UTC, date, datetime
from importlib import resources
from pathlib import Path
from typing import Any

from oplguard.config_locate import locate
from oplguard.errors import ConfigError
from oplguard.netparse import parse_listen, parse_network

ACTIONS = ("reject", "delete", "tag")
SCOPES = ("connection", "hop")
LIST_FORMATS = ("plain", "ip4set", "ip6tset")
# SpamAssassin 10_default_prefs.cf: the default originating_ip_headers.
SA_ORIGINATING_HEADERS = (
    "X-Yahoo-Post-IP",
    "X-Originating-IP",
    "X-Apparently-From",
    "X-SenderIP",
    "X-AOL-IP",
    "X-MS-Exchange-CrossTenant-OriginalAttributedTenantConnectingIp",
)
DEFAULT_SCORES = {
    "OPL_CONNECTING": 10.0,
    "OPL_RELAY": 8.0,
    "ZOMBIE_CONNECTING": 10.0,
    "ZOMBIE_RELAY": 8.0,
    "SPAM_SOURCE_CONNECTING": 6.0,
    "SPAM_SOURCE_RELAY": 3.0,
    "BLOCKED_SENDER_CONNECTING": 20.0,
    "BLOCKED_SENDER_RELAY": 20.0,
    "ALLOWED_SENDER": -5.0,
}
# A symbol whose score is not in the table falls back on these, by suffix.
FALLBACK_CONNECTING_SCORE = 10.0
FALLBACK_RELAY_SCORE = 8.0
# A list that cannot answer is weak evidence: a small nudge, not a verdict.
FALLBACK_UNAVAILABLE_SCORE = 1.0


@dataclass(frozen=True, slots=True)
class ListConfig:
    """One named list loaded from a local file.

    Attributes:
        name: the list's name, as shown in verdicts (``opl``).
        path: the file, already resolved relative to the config file.
        category: ``open-proxy``, ``zombie``, ``spam-source`` or a custom word.
        format: ``plain`` (one IP, CIDR or range a line, optional reason),
            ``ip4set`` or ``ip6tset`` (rbldnsd dataset syntax).
        description: free text shown in reports and on the lookup page.
    """

    name: str
    path: Path
    category: str = "open-proxy"
    format: str = "plain"
    description: str = ""


@dataclass(frozen=True, slots=True)
class DnsblConfig:
    """A list served over DNS (RFC 5782), queried per IP.

    Attributes:
        returncodes: (rule, category) pairs: ``127.0.0.2`` exact,
            ``127.0.0.0/29`` a range, ``mask:8`` a bitmask on the last octet.
            Empty: any 127/8 answer is a hit of ``category``.
        on_error: ``ignore`` (no hit), ``score`` (symbol ``error_symbol``) or
            ``tempfail`` (answer EX_TEMPFAIL so the MTA defers the message).
    """

    name: str
    zone: str
    category: str = "open-proxy"
    nameservers: tuple[str, ...] = ()
    timeout_s: float = 2.0
    on_error: str = "ignore"
    error_symbol: str = ""
    returncodes: tuple[tuple[str, str], ...] = ()
    description: str = ""


ON_ERROR = ("ignore", "score", "tempfail")


@dataclass(frozen=True, slots=True)
class Listener:
    """One socket to serve spamd on: ``tcp``, ``tls`` or ``unix``."""

    kind: str
    host: str = ""
    port: int = 0
    path: str = ""

    def __str__(self) -> str:
        if self.kind == "unix":
            return f"unix:{self.path}"
        host = f"[{self.host}]" if ":" in self.host else self.host
        prefix = "tls:" if self.kind == "tls" else ""
        return f"{prefix}{host}:{self.port}"


@dataclass(frozen=True, slots=True)
class TlsConfig:
    """Certificate for ``tls:`` listeners; ``client_ca`` makes client certificates required."""

    cert: Path | None = None
    key: Path | None = None
    client_ca: Path | None = None


@dataclass(frozen=True, slots=True)
class ServerConfig:
    """The spamd listener: sockets, access control and limits."""

    listen: tuple[Listener, ...] = (Listener("tcp", "127.0.0.1", 783),)
    # spamd accepts only loopback unless -A is given (spamd protocol §1).
    allowed_ips: tuple[str, ...] = ("127.0.0.1/32", "::1/128")
    max_connections: int = 64
    # spamc's -s default: larger messages are not sent by spamc at all.
    max_message_bytes: int = 512_000
    # spamd --timeout-tcp: waiting for the request line and headers.
    request_timeout_s: float = 30.0
    # spamd --timeout-child: from request line to finished reply.
    child_timeout_s: float = 300.0
    shutdown_grace_s: float = 10.0
    allow_tell: bool = False
    unix_socket_mode: int = 0o660
    # RFC 5782 test-entry probes of DNS lists (circuit breaker).
    list_probe_interval_s: float = 60.0
    tls: TlsConfig = field(default_factory=TlsConfig)


@dataclass(frozen=True, slots=True)
class TrustConfig:
    """Trust boundary settings, with SpamAssassin's names and semantics."""

    trusted_networks: tuple[str, ...] | None = None
    internal_networks: tuple[str, ...] | None = None
    msa_networks: tuple[str, ...] | None = None
    originating_ip_headers: tuple[str, ...] = SA_ORIGINATING_HEADERS
    sa_config: Path | None = None


@dataclass(frozen=True, slots=True)
class GroupConfig:
    """A sender group over one or more lists: enabled or not, and its action."""

    name: str
    lists: tuple[str, ...]
    enabled: bool = True
    action: str = "delete"
    symbol: str = ""
    reason: str = "Open Proxy sender violation"
    description: str = ""


@dataclass(frozen=True, slots=True)
class SenderEntry:
    """An Allowed Senders or Blocked Senders entry (IP, CIDR or range)."""

    network: str
    scope: str = "hop"
    expires: datetime | None = None
    comment: str = ""
    line: int = 0

    def is_active(self, now: datetime) -> bool:
        return self.expires is None or now < self.expires


@dataclass(frozen=True, slots=True)
class ScoringConfig:
    """Threshold and the symbol score table (kept apart from the rules)."""

    required_score: float = 5.0
    scores: tuple[tuple[str, float], ...] = tuple(DEFAULT_SCORES.items())
    lookup_url: str = ""
    # Per-message deadline for all DNS list queries together.
    lookup_deadline_s: float = 5.0

    def score_of(self, symbol: str) -> float:
        table = dict(self.scores)
        if symbol in table:
            return table[symbol]
        if symbol.endswith("_CONNECTING"):
            return FALLBACK_CONNECTING_SCORE
        if symbol.endswith("_UNAVAILABLE"):
            return FALLBACK_UNAVAILABLE_SCORE
        return FALLBACK_RELAY_SCORE


THRESHOLDS = ("upstream", "oplguard")


@dataclass(frozen=True, slots=True)
class PolicydConfig:
    """The Postfix policy service (``oplguard policyd``): sockets and limits."""

    listen: tuple[Listener, ...] = (Listener("tcp", "127.0.0.1", 10048),)
    # Postfix connects from the MTA host; others get no answer at all.
    allowed_ips: tuple[str, ...] = ("127.0.0.1/32", "::1/128")
    # Each smtpd process holds one connection; Postfix's default_process_limit is 100.
    max_connections: int = 200


@dataclass(frozen=True, slots=True)
class UpstreamConfig:
    """A SpamAssassin spamd that gets every scan request too; the answers are merged.

    Attributes:
        address: ``HOST:PORT`` or ``unix:/PATH``; None = no upstream.
        timeout_s: connect plus answer; past it oplguard answers alone.
        threshold: whose required score decides spam, ``upstream`` or ``oplguard``.
    """

    address: Listener | None = None
    # Well under Exim's spamd tmo (120 s) and spamc's -t (600 s): a hung
    # spamd costs this much, and the client still gets oplguard's verdict.
    timeout_s: float = 30.0
    threshold: str = "upstream"


@dataclass(frozen=True, slots=True)
class Config:
    """The whole configuration of one oplguard host."""

    path: Path
    server: ServerConfig = field(default_factory=ServerConfig)
    trust: TrustConfig = field(default_factory=TrustConfig)
    scoring: ScoringConfig = field(default_factory=ScoringConfig)
    lists: tuple[ListConfig, ...] = ()
    dnsbls: tuple[DnsblConfig, ...] = ()
    groups: tuple[GroupConfig, ...] = ()
    allowed_senders: tuple[SenderEntry, ...] = ()
    blocked_senders: tuple[SenderEntry, ...] = ()
    control_socket: str = ""
    tracking_db: str = ""
    log_level: str = "WARNING"
    senders_file: Path | None = None
    policyd: PolicydConfig = field(default_factory=PolicydConfig)
    upstream: UpstreamConfig = field(default_factory=UpstreamConfig)


def default_config_path() -> Path:
    """The embedded default config (sample lists), shipped as package data."""
    return Path(str(resources.files("oplguard") / "defaults" / "oplguard.toml"))


def toml_error_line(err: tomllib.TOMLDecodeError) -> int:
    """The line tomllib reports ("... (at line 3, column 1)"), or 0."""
    match = re.search(r"at line (\d+)", str(err))
    return int(match.group(1)) if match else 0


def load(path: Path | str) -> Config:
    """Read and check a config file.

    Raises:
        ConfigError: the file is missing, not TOML, or has a bad value; the
            message names the file, the line and the fix.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        raise ConfigError(f"cannot read config: {err}", path=str(path)) from err
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise ConfigError(
            f"not valid TOML: {err}",
            path=str(path),
            line=toml_error_line(err),
            fix="check quoting and brackets",
        ) from err
    return _Builder(path, text).build(data)


class _Builder:
    """Turns parsed TOML into Config, locating each error's line."""

    def __init__(self, path: Path, text: str) -> None:
        self.path = path
        self.text = text
        self.base = path.parent

    def fail(self, table: str, key: str, message: str, fix: str, index: int = 0) -> ConfigError:
        line = locate(self.text, table, key, index)
        return ConfigError(message, path=str(self.path), line=line, fix=fix)

    def build(self, data: dict[str, Any]) -> Config:
        known = {"server", "trust", "scoring", "scores", "lists", "dnsbls", "groups"}
        known |= {"allowed_senders", "blocked_senders", "control_socket", "tracking_db"}
        known |= {"log_level", "senders_file", "policyd", "upstream"}
        self.check_keys("", data, known)
        lists = tuple(self.list_config(i, d) for i, d in enumerate(self.array(data, "lists")))
        dnsbls = tuple(self.dnsbl(i, d) for i, d in enumerate(self.array(data, "dnsbls")))
        names = [item.name for item in lists] + [item.name for item in dnsbls]
        for name in names:
            if names.count(name) > 1:
                raise self.fail(
                    "lists",
                    "name",
                    f"two lists are named {name!r}",
                    "give every [[lists]] and [[dnsbls]] entry its own name",
                )
        groups = self.groups(data.get("groups", {}), set(names))
        level = str(data.get("log_level", "WARNING")).upper()
        if level not in ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"):
            raise self.fail(
                "", "log_level", f"unknown log level {level!r}", "use DEBUG|INFO|WARNING|ERROR"
            )
        senders_file = self.string(data, "", "senders_file", "")
        extra = _load_senders(self.path_of(senders_file)) if senders_file else None
        allowed = self.senders(data, "allowed_senders")
        blocked = self.senders(data, "blocked_senders")
        if extra is not None:
            groups = extra.override_groups(groups)
            allowed += extra.allowed
            blocked += extra.blocked
        return Config(
            path=self.path,
            server=self.server(self.table(data, "server")),
            trust=self.trust(self.table(data, "trust")),
            scoring=self.scoring(self.table(data, "scoring"), self.table(data, "scores")),
            lists=lists,
            dnsbls=dnsbls,
            groups=groups,
            allowed_senders=allowed,
            blocked_senders=blocked,
            control_socket=self.string(data, "", "control_socket", ""),
            tracking_db=self.string(data, "", "tracking_db", ""),
            log_level=level,
            senders_file=self.path_of(senders_file) if senders_file else None,
            policyd=self.policyd(self.table(data, "policyd")),
            upstream=self.upstream(self.table(data, "upstream")),
        )

    # region helpers for typed access

    def table(self, data: dict[str, Any], name: str) -> dict[str, Any]:
        value = data.get(name, {})
        if not isinstance(value, dict):
            raise self.fail("", name, f"[{name}] must be a table", f"write it as [{name}]")
        return value

    def array(self, data: dict[str, Any], name: str) -> list[dict[str, Any]]:
        value = data.get(name, [])
        if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
            raise self.fail("", name, f"{name} must be an array of tables", f"write [[{name}]]")
        return value

    def check_keys(self, table: str, data: dict[str, Any], known: set[str], index: int = 0) -> None:
        for key in data:
            if key not in known:
                where = f"[{table}]" if table else "the top level"
                raise self.fail(
                    table,
                    key,
                    f"unknown key {key!r} in {where}",
                    f"use one of: {', '.join(sorted(known))}",
                    index,
                )

    def string(
        self, data: dict[str, Any], table: str, key: str, default: str, index: int = 0
    ) -> str:
        value = data.get(key, default)
        if not isinstance(value, str):
            raise self.fail(table, key, f"{key} must be a string", f'write {key} = "..."', index)
        return value

    def number(self, data: dict[str, Any], table: str, key: str, default: float) -> float:
        value = data.get(key, default)
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self.fail(table, key, f"{key} must be a number", f"write {key} = {default}")
        if value < 0:
            raise self.fail(table, key, f"{key} must not be negative", f"write {key} = {default}")
        return float(value)

    def boolean(self, data: dict[str, Any], table: str, key: str, default: bool) -> bool:
        value = data.get(key, default)
        if not isinstance(value, bool):
            raise self.fail(table, key, f"{key} must be true or false", f"write {key} = false")
        return value

    def strings(self, data: dict[str, Any], table: str, key: str) -> tuple[str, ...] | None:
        if key not in data:
            return None
        value = data[key]
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise self.fail(
                table, key, f"{key} must be a list of strings", f'write {key} = ["..."]'
            )
        return tuple(value)

    def path_of(self, value: str) -> Path:
        candidate = Path(value)
        return candidate if candidate.is_absolute() else self.base / candidate

    # endregion

    def server(self, data: dict[str, Any]) -> ServerConfig:
        names = {f.name for f in fields(ServerConfig)}
        self.check_keys("server", data, names)
        default = ServerConfig()
        listen = default.listen
        if (raw := self.strings(data, "server", "listen")) is not None:
            listen = tuple(self.listener(item) for item in raw)
        allowed = default.allowed_ips
        if (raw := self.strings(data, "server", "allowed_ips")) is not None:
            allowed = tuple(self.network("server", "allowed_ips", item) for item in raw)
        tls = self.tls(self.table(data, "tls") if "tls" in data else {})
        if any(item.kind == "tls" for item in listen) and tls.cert is None:
            raise self.fail(
                "server",
                "listen",
                "a tls: listener needs a certificate",
                "add [server.tls] cert = ... and key = ...",
            )
        return ServerConfig(
            listen=listen,
            allowed_ips=allowed,
            max_connections=int(self.number(data, "server", "max_connections", 64)),
            max_message_bytes=int(self.number(data, "server", "max_message_bytes", 512_000)),
            request_timeout_s=self.number(data, "server", "request_timeout_s", 30.0),
            child_timeout_s=self.number(data, "server", "child_timeout_s", 300.0),
            shutdown_grace_s=self.number(data, "server", "shutdown_grace_s", 10.0),
            allow_tell=self.boolean(data, "server", "allow_tell", False),
            unix_socket_mode=int(self.number(data, "server", "unix_socket_mode", 0o660)),
            list_probe_interval_s=self.number(data, "server", "list_probe_interval_s", 60.0),
            tls=tls,
        )

    def listener(self, text: str) -> Listener:
        try:
            kind, host, port, path = parse_listen(text)
        except ValueError as err:
            raise self.fail(
                "server",
                "listen",
                f"bad listen address {text!r}: {err}",
                'write "127.0.0.1:783", "[::1]:783", "tls:0.0.0.0:7830" or '
                '"unix:/run/oplguard/spamd.sock"',
            ) from err
        return Listener(kind, host, port, path)

    def policyd(self, data: dict[str, Any]) -> PolicydConfig:
        self.check_keys("policyd", data, {f.name for f in fields(PolicydConfig)})
        default = PolicydConfig()
        listen = default.listen
        if (raw := self.strings(data, "policyd", "listen")) is not None:
            listen = tuple(self.address("policyd", "listen", item) for item in raw)
        allowed = default.allowed_ips
        if (raw := self.strings(data, "policyd", "allowed_ips")) is not None:
            allowed = tuple(self.network("policyd", "allowed_ips", item) for item in raw)
        limit = self.number(data, "policyd", "max_connections", default.max_connections)
        return PolicydConfig(listen=listen, allowed_ips=allowed, max_connections=int(limit))

    def upstream(self, data: dict[str, Any]) -> UpstreamConfig:
        self.check_keys("upstream", data, {f.name for f in fields(UpstreamConfig)})
        default = UpstreamConfig()
        raw = self.string(data, "upstream", "address", "")
        threshold = self.string(data, "upstream", "threshold", default.threshold)
        if threshold not in THRESHOLDS:
            raise self.fail(
                "upstream",
                "threshold",
                f"unknown threshold {threshold!r}",
                "use upstream (SpamAssassin's required_score) or oplguard ([scoring])",
            )
        return UpstreamConfig(
            address=self.address("upstream", "address", raw) if raw else None,
            timeout_s=self.number(data, "upstream", "timeout_s", default.timeout_s),
            threshold=threshold,
        )

    def address(self, table: str, key: str, text: str) -> Listener:
        """A plain TCP or Unix socket address (no TLS) for [policyd] and [upstream]."""
        try:
            kind, host, port, path = parse_listen(text)
            if kind == "tls" or (kind == "tcp" and host == "*"):
                raise ValueError("use a plain HOST:PORT or unix:/PATH")
        except ValueError as err:
            raise self.fail(
                table,
                key,
                f"bad address {text!r}: {err}",
                'write "127.0.0.1:10048", "[::1]:783" or "unix:/run/oplguard/policy.sock"',
            ) from err
        return Listener(kind, host, port, path)

    def tls(self, data: dict[str, Any]) -> TlsConfig:
        self.check_keys("server.tls", data, {"cert", "key", "client_ca"})

        def opt(key: str) -> Path | None:
            value = self.string(data, "server.tls", key, "")
            return self.path_of(value) if value else None

        cert, key = opt("cert"), opt("key")
        if (cert is None) != (key is None):
            raise self.fail(
                "server.tls",
                "cert",
                "cert and key go together",
                "set both cert and key, or neither",
            )
        return TlsConfig(cert=cert, key=key, client_ca=opt("client_ca"))

    def network(self, table: str, key: str, text: str, index: int = 0) -> str:
        try:
            return parse_network(text)
        except ValueError as err:
            raise self.fail(
                table,
                key,
                f"bad IP, CIDR or range {text!r}: {err}",
                'write "192.0.2.7", "192.0.2.0/24" or "192.0.2.7-192.0.2.9"',
                index,
            ) from err

    def trust(self, data: dict[str, Any]) -> TrustConfig:
        self.check_keys("trust", data, {f.name for f in fields(TrustConfig)})

        def nets(key: str) -> tuple[str, ...] | None:
            raw = self.strings(data, "trust", key)
            if raw is None:
                return None
            for item in raw:
                self.network("trust", key, item.lstrip("!").strip("[]"))
            return raw

        headers = self.strings(data, "trust", "originating_ip_headers")
        sa = self.string(data, "trust", "sa_config", "")
        return TrustConfig(
            trusted_networks=nets("trusted_networks"),
            internal_networks=nets("internal_networks"),
            msa_networks=nets("msa_networks"),
            originating_ip_headers=SA_ORIGINATING_HEADERS if headers is None else headers,
            sa_config=self.path_of(sa) if sa else None,
        )

    def scoring(self, data: dict[str, Any], scores: dict[str, Any]) -> ScoringConfig:
        self.check_keys("scoring", data, {"required_score", "lookup_url", "lookup_deadline_s"})
        table = dict(DEFAULT_SCORES)
        for name, value in scores.items():
            if not name.replace("_", "").isalnum() or not name.isupper():
                raise self.fail(
                    "scores",
                    name,
                    f"bad symbol name {name!r}",
                    "symbols are upper case letters, digits and _",
                )
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise self.fail(
                    "scores", name, f"score of {name} must be a number", f"write {name} = 10.0"
                )
            table[name] = float(value)
        required = data.get("required_score", 5.0)
        if isinstance(required, bool) or not isinstance(required, int | float):
            raise self.fail(
                "scoring",
                "required_score",
                "required_score must be a number",
                "write required_score = 5.0",
            )
        return ScoringConfig(
            required_score=float(required),
            scores=tuple(table.items()),
            lookup_url=self.string(data, "scoring", "lookup_url", ""),
            lookup_deadline_s=self.number(data, "scoring", "lookup_deadline_s", 5.0),
        )

    def list_config(self, index: int, data: dict[str, Any]) -> ListConfig:
        self.check_keys("lists", data, {"name", "path", "category", "format", "description"}, index)
        name = self.string(data, "lists", "name", "", index)
        if not name or not all(c.isalnum() or c in "-_" for c in name):
            raise self.fail(
                "lists",
                "name",
                f"list #{index + 1} needs a name of letters, digits, - or _",
                'write name = "opl"',
                index,
            )
        raw_path = self.string(data, "lists", "path", "", index)
        if not raw_path:
            raise self.fail(
                "lists", "name", f"list {name!r} has no path", 'write path = "lists/opl.txt"', index
            )
        fmt = self.string(data, "lists", "format", "plain", index)
        if fmt not in LIST_FORMATS:
            raise self.fail(
                "lists",
                "format",
                f"unknown list format {fmt!r}",
                f"use one of: {', '.join(LIST_FORMATS)}",
                index,
            )
        return ListConfig(
            name=name,
            path=self.path_of(raw_path),
            category=self.string(data, "lists", "category", "open-proxy", index),
            format=fmt,
            description=self.string(data, "lists", "description", "", index),
        )

    def dnsbl(self, index: int, data: dict[str, Any]) -> DnsblConfig:
        table = "dnsbls"
        self.check_keys(table, data, {f.name for f in fields(DnsblConfig)}, index)
        name = self.string(data, table, "name", "", index)
        zone = self.string(data, table, "zone", "", index).strip(".")
        if not name or not zone:
            raise self.fail(
                table,
                "name",
                f"dnsbl #{index + 1} needs a name and a zone",
                'write name = "opl-dns" and zone = "opl.example.net"',
                index,
            )
        on_error = self.string(data, table, "on_error", "ignore", index)
        if on_error not in ON_ERROR:
            raise self.fail(
                table,
                "on_error",
                f"unknown on_error {on_error!r}",
                "use ignore, score or tempfail",
                index,
            )
        codes = data.get("returncodes", {})
        if not isinstance(codes, dict) or not all(isinstance(v, str) for v in codes.values()):
            raise self.fail(
                table,
                "returncodes",
                "returncodes must map codes to categories",
                '[dnsbls.returncodes] "127.0.0.2" = "open-proxy"',
                index,
            )
        for rule in codes:
            self.returncode(rule, index)
        return DnsblConfig(
            name=name,
            zone=zone,
            category=self.string(data, table, "category", "open-proxy", index),
            nameservers=self.strings(data, table, "nameservers") or (),
            timeout_s=self.number(data, table, "timeout_s", 2.0),
            on_error=on_error,
            error_symbol=self.string(data, table, "error_symbol", "", index)
            or name.upper().replace("-", "_") + "_UNAVAILABLE",
            returncodes=tuple(codes.items()),
            description=self.string(data, table, "description", "", index),
        )

    def returncode(self, rule: str, index: int) -> None:
        try:
            if rule.startswith("mask:"):
                int(rule[len("mask:") :], 0)
            else:
                parse_network(rule)
        except ValueError as err:
            raise self.fail(
                "dnsbls",
                "returncodes",
                f"bad return code rule {rule!r}",
                'use "127.0.0.2", "127.0.0.0/29" or "mask:8"',
                index,
            ) from err

    def groups(self, data: Any, list_names: set[str]) -> tuple[GroupConfig, ...]:
        if not isinstance(data, dict):
            raise self.fail("", "groups", "groups must be tables", "write [groups.open_proxy_list]")
        built = []
        for name, body in data.items():
            table = f"groups.{name}"
            if not isinstance(body, dict):
                raise self.fail(
                    "groups", name, f"group {name!r} must be a table", f"write [{table}]"
                )
            self.check_keys(table, body, {f.name for f in fields(GroupConfig)} - {"name"})
            lists = self.strings(body, table, "lists") or ()
            for item in lists:
                if item not in list_names and item != BLOCKED_LIST_NAME:
                    raise self.fail(
                        table,
                        "lists",
                        f"group {name!r} names unknown list {item!r}",
                        f"define it with [[lists]] name = {item!r}, or use one of: "
                        f"{', '.join(sorted(list_names))}",
                    )
            action = self.string(body, table, "action", "delete")
            if action not in ACTIONS:
                raise self.fail(
                    table,
                    "action",
                    f"unknown action {action!r}",
                    "use reject (connecting IP only), delete (every header IP) or tag",
                )
            built.append(
                GroupConfig(
                    name=name,
                    lists=lists,
                    enabled=self.boolean(body, table, "enabled", True),
                    action=action,
                    symbol=self.string(body, table, "symbol", "") or name.upper(),
                    reason=self.string(body, table, "reason", "Open Proxy sender violation"),
                    description=self.string(body, table, "description", ""),
                )
            )
        return tuple(built)

    def senders(self, data: dict[str, Any], name: str) -> tuple[SenderEntry, ...]:
        built = []
        for index, body in enumerate(self.array(data, name)):
            self.check_keys(name, body, {"ip", "scope", "expires", "comment"}, index)
            raw = self.string(body, name, "ip", "", index)
            if not raw:
                raise self.fail(
                    name,
                    "ip",
                    f"{name} entry #{index + 1} has no ip",
                    'write ip = "203.0.113.7"',
                    index,
                )
            scope = self.string(body, name, "scope", "hop", index)
            if scope not in SCOPES:
                raise self.fail(
                    name,
                    "scope",
                    f"unknown scope {scope!r}",
                    "use connection (the connecting IP skips all checks) or hop "
                    "(that IP is exempt wherever it appears)",
                    index,
                )
            built.append(
                SenderEntry(
                    network=self.network(name, "ip", raw, index),
                    scope=scope,
                    expires=self.expiry(body.get("expires"), name, index),
                    comment=self.string(body, name, "comment", "", index),
                    line=locate(self.text, name, "ip", index),
                )
            )
        return tuple(built)

    def expiry(self, value: Any, table: str, index: int) -> datetime | None:
        if value is None:
            return None
        if isinstance(value, datetime):
            return value if value.tzinfo else value.replace(tzinfo=UTC)
        if isinstance(value, date):
            return datetime(value.year, value.month, value.day, tzinfo=UTC)
        if isinstance(value, str):
            try:
                return self.expiry(datetime.fromisoformat(value), table, index)
            except ValueError:
                pass
        raise self.fail(
            table,
            "expires",
            f"bad expires value {value!r}",
            "write expires = 2027-01-31 (a TOML date) or 2027-01-31T12:00:00Z",
            index,
        )


# The local Blocked Senders entries form a list of this name.
BLOCKED_LIST_NAME = "blocked_senders"


@dataclass(frozen=True, slots=True)
class _SendersFile:
    """A separate file of sender groups: allowed/blocked entries, group switches."""

    allowed: tuple[SenderEntry, ...]
    blocked: tuple[SenderEntry, ...]
    switches: tuple[tuple[str, int, bool | None, str | None], ...]  # name, line, enabled, action
    path: Path

    def override_groups(self, groups: tuple[GroupConfig, ...]) -> tuple[GroupConfig, ...]:
        by_name = {group.name: group for group in groups}
        for name, line, enabled, action in self.switches:
            if name not in by_name:
                raise ConfigError(
                    f"unknown sender group {name!r}",
                    path=str(self.path),
                    line=line,
                    fix=f"use one of: {', '.join(sorted(by_name))}",
                )
            group = by_name[name]
            by_name[name] = GroupConfig(
                name=group.name,
                lists=group.lists,
                enabled=group.enabled if enabled is None else enabled,
                action=group.action if action is None else action,
                symbol=group.symbol,
                reason=group.reason,
                description=group.description,
            )
        return tuple(by_name[group.name] for group in groups)


def _load_senders(path: Path) -> _SendersFile:
    """Read a senders file: [[allowed_senders]], [[blocked_senders]], [groups.NAME]."""
    try:
        text = path.read_text(encoding="utf-8")
        data = tomllib.loads(text)
    except (OSError, UnicodeDecodeError) as err:
        raise ConfigError(f"cannot read senders file: {err}", path=str(path)) from err
    except tomllib.TOMLDecodeError as err:
        raise ConfigError(
            f"not valid TOML: {err}",
            path=str(path),
            line=toml_error_line(err),
            fix="check quoting and brackets",
        ) from err
    builder = _Builder(path, text)
    builder.check_keys("", data, {"allowed_senders", "blocked_senders", "groups"})
    switches = []
    groups = data.get("groups", {})
    if not isinstance(groups, dict):
        raise builder.fail("", "groups", "groups must be tables", "write [groups.open_proxy_list]")
    for name, body in groups.items():
        table = f"groups.{name}"
        if not isinstance(body, dict):
            raise builder.fail(
                "groups", name, f"group {name!r} must be a table", f"write [{table}]"
            )
        builder.check_keys(table, body, {"enabled", "action"})
        action = body.get("action")
        if action is not None and action not in ACTIONS:
            raise builder.fail(
                table, "action", f"unknown action {action!r}", "use reject, delete or tag"
            )
        enabled = builder.boolean(body, table, "enabled", True) if "enabled" in body else None
        switches.append(
            (name, locate(text, table, "enabled") or locate(text, table, "action"), enabled, action)
        )
    return _SendersFile(
        allowed=builder.senders(data, "allowed_senders"),
        blocked=builder.senders(data, "blocked_senders"),
        switches=tuple(switches),
        path=path,
    )
