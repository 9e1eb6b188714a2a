"""The configuration model: frozen dataclasses and their defaults (vocabularies: vocabulary.py).

Defaults live in the dataclass fields and nowhere else.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from oplguard.config.vocabulary import Action, ListFormat, LogFormat, OnError, Scope, Threshold
from oplguard.ipaddr import parse_span

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
    format: ListFormat = ListFormat.PLAIN
    description: str = ""


# A DNS list's return-code rule, parsed: (mask, version, first, last); a mask rule has version 0.
ReturnRule = tuple[int, int, int, int]
MASK_PREFIX = "mask:"


def parse_returncode(rule: str) -> ReturnRule:
    """``mask:N`` (a bitmask on the last octet), or an address, network or range of answers.

    Raises:
        ValueError: neither.
    """
    if rule.startswith(MASK_PREFIX):
        return int(rule[len(MASK_PREFIX) :], 0), 0, 0, 0
    return (0, *parse_span(rule))


@dataclass(frozen=True, slots=True)
class DnsblConfig:
    """A list served over DNS (RFC 5782), queried per IP.

    Attributes:
        returncodes: (rule, category) pairs: ``127.0.0.2`` exact,
            ``127.0.0.0/29`` or ``127.0.0.2-127.0.0.5`` a range, ``mask:8`` a
            bitmask on the last octet (``rules``: the same, parsed).
            Empty: any 127/8 answer is a hit of ``category``.
        on_error: ``ignore`` (no hit), ``score`` (symbol ``error_symbol``) or
            ``tempfail`` (answer EX_TEMPFAIL so the MTA defers the message,
            unless the lists that answered already make it spam).  Applies
            while the list is unreachable too (answered at once by its
            breaker); a monitor-only list's errors count as ``ignore``.
    """

    name: str
    zone: str
    category: str = "open-proxy"
    nameservers: tuple[str, ...] = ()
    timeout_s: float = 2.0
    on_error: OnError = OnError.IGNORE
    error_symbol: str = ""
    returncodes: tuple[tuple[str, str], ...] = ()
    description: str = ""
    # ``returncodes`` parsed once, not per answer: (rule, category) pairs.
    rules: tuple[tuple[ReturnRule, str], ...] = field(
        default=(), init=False, compare=False, repr=False
    )

    def __post_init__(self) -> None:
        rules = tuple((parse_returncode(rule), category) for rule, category in self.returncodes)
        object.__setattr__(self, "rules", rules)


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
class ServiceConfig:
    """What the table of every listening service ([server], [policyd]) holds: its sockets,
    who may connect, how many at once, and one request's deadline.  A service's own
    dataclass restates the fields whose default differs."""

    listen: tuple[Listener, ...] = ()
    # spamd accepts only loopback unless -A is given (spamd-protocol.md §1); so does policyd.
    allowed_ips: tuple[str, ...] = ("127.0.0.1", "::1")
    max_connections: int = 64
    # Open connections one peer address may hold (0 = no cap below max_connections).
    max_connections_per_peer: int = 0
    # spamd --timeout-tcp: waiting for the request line and headers.
    request_timeout_s: float = 30.0


@dataclass(frozen=True, slots=True)
class ServerConfig(ServiceConfig):
    """The spamd listener: sockets, access control and limits."""

    listen: tuple[Listener, ...] = (Listener("tcp", "127.0.0.1", 783),)
    # TLS handshakes in progress, a pool apart from max_connections, and their deadline.
    max_tls_handshakes: int = 64
    tls_handshake_timeout_s: float = 10.0
    # spamc's -s default: larger messages are not sent by spamc at all.
    max_message_bytes: int = 512_000
    # spamd --timeout-child: from request line to finished reply.
    child_timeout_s: float = 300.0
    shutdown_grace_s: float = 10.0
    allow_tell: bool = False
    unix_socket_mode: int = 0o660
    # RFC 5782 test-entry probes of DNS lists (circuit breaker).
    list_probe_interval_s: float = 60.0
    tls: TlsConfig = field(default_factory=TlsConfig)
    # Pre-forked scoring processes sharing the listeners (server/workers.py); 0 = one per CPU.
    workers: int = 1


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
    action: Action = Action.DELETE
    symbol: str = ""
    reason: str = "Open Proxy sender violation"
    description: str = ""


@dataclass(frozen=True, slots=True)
class SenderEntry:
    """An Allowed Senders or Blocked Senders entry (IP, CIDR or range)."""

    network: str
    scope: Scope = Scope.HOP
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
    # CPU time one message's header parsing may take (oplguard.mail.limits).
    scan_cpu_budget_ms: float = 250.0

    def score_of(self, symbol: str) -> float:
        table = dict(self.scores)
        if symbol in table:
            return table[symbol]
        if symbol.endswith("_CONNECTING"):
            return FALLBACK_CONNECTING_SCORE
        if symbol.endswith("_UNAVAILABLE"):
            return FALLBACK_UNAVAILABLE_SCORE
        return FALLBACK_RELAY_SCORE


@dataclass(frozen=True, slots=True)
class PolicydConfig(ServiceConfig):
    """The Postfix policy service (``oplguard policyd``): sockets and limits.

    Postfix connects from the MTA host (loopback by default); others get no answer at all.
    """

    listen: tuple[Listener, ...] = (Listener("tcp", "127.0.0.1", 10048),)
    # Each smtpd process holds one connection; Postfix's default_process_limit is 100.
    max_connections: int = 200
    # From a request's first byte to its end (Postfix's smtpd_policy_service_timeout).
    request_timeout_s: float = 100.0


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
    threshold: Threshold = Threshold.UPSTREAM


@dataclass(frozen=True, slots=True)
class TrackingConfig:
    """[tracking]: how records reach ``tracking_db`` and how long they stay.

    Attributes:
        host: the name each record carries (a fleet shares one database); "" = hostname.
        batch_size: records per transaction; also what wakes the writer early.
        batch_interval_s: the longest a record waits in memory (the kill -9 loss bound).
        max_queue: records held while the database is unavailable; more are dropped.
        max_age_days: records older than this are deleted (0 = keep).
        max_records: only the newest this many are kept (0 = no limit).
    """

    host: str = ""
    # Large enough that a busy server commits about once per batch_interval_s: SQLite's
    # cost per commit (index pages written to the WAL) outweighs its cost per row.
    batch_size: int = 1000
    batch_interval_s: float = 1.0
    max_queue: int = 10_000
    max_age_days: float = 30.0
    max_records: int = 1_000_000


@dataclass(frozen=True, slots=True)
class MetricsConfig:
    """[metrics]: the Prometheus scrape endpoint; ``listen`` "" = off."""

    listen: str = ""


@dataclass(frozen=True, slots=True)
class NotifyConfig:
    """``[web.notify]``: tell requesters of decisions by e-mail through an SMTP relay.

    Attributes:
        enabled: off by default; the status page is the source of truth.
        host, port: the relay (a local MTA, or the site's submission server).
        sender: the From address (the ``from`` key).
        starttls: upgrade the connection with STARTTLS (certificate checked).
        username, password: SMTP AUTH after STARTTLS; the password comes
            from ``password_file``.
    """

    enabled: bool = False
    host: str = "localhost"
    port: int = 25
    sender: str = ""
    starttls: bool = False
    username: str = ""
    password: str = field(default="", repr=False)
    # One SMTP conversation; a relay that hangs is retried later, not waited on.
    timeout_s: float = 10.0


@dataclass(frozen=True, slots=True)
class WebConfig:
    """The IP lookup and delisting service (``oplguard web``).

    Attributes:
        listen: one ``HOST:PORT`` (put a TLS reverse proxy in front).
        public_url: base URL the service is reached at, for links it prints
            (``https://lookup.example.net/``); empty = relative links.
        admin_token: read from ``admin_token`` or ``admin_token_file``; empty
            turns the admin page and admin API off.
        trusted_proxies: reverse proxies whose X-Forwarded-For names the client.
        dns_servers: resolvers for reverse-DNS diagnostics (``IP`` or
            ``IP:PORT``); empty = the system's /etc/resolv.conf.
    """

    listen: Listener = Listener("tcp", "127.0.0.1", 8080)
    public_url: str = ""
    admin_token: str = field(default="", repr=False)
    trusted_proxies: tuple[str, ...] = ()
    # A person checks a handful of IPs; a script hammering the page is not one.
    lookups_per_minute: int = 30
    # Per client and per listed IP: a requester rarely needs more than one.
    removals_per_hour: int = 5
    removals_per_ip_per_day: int = 3
    dns_servers: tuple[tuple[str, int], ...] = ()
    # Whole PTR + forward check; a page must not hang on a dead resolver.
    dns_timeout_s: float = 3.0
    notify: NotifyConfig = field(default_factory=NotifyConfig)
    # A client must send complete request headers, then a complete body, within these.
    header_timeout_s: float = 10.0
    body_timeout_s: float = 10.0
    # Open connections from one address; more get 503 at once.
    max_connections_per_client: int = 16
    # Rate limits count per network of this prefix length, not per address.
    rate_limit_prefix_v4: int = 24
    rate_limit_prefix_v6: int = 64


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
    log_format: LogFormat = LogFormat.TEXT
    tracking: TrackingConfig = field(default_factory=TrackingConfig)
    metrics: MetricsConfig = field(default_factory=MetricsConfig)
    senders_file: Path | None = None
    policyd: PolicydConfig = field(default_factory=PolicydConfig)
    upstream: UpstreamConfig = field(default_factory=UpstreamConfig)
    web: WebConfig = field(default_factory=WebConfig)


# The local Blocked Senders entries form a list of this name.
BLOCKED_LIST_NAME = "blocked_senders"
