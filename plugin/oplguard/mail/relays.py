"""The relay chain of a message: SA's trust walk and the IP selections (relay-chain.md §4, §5).

Pure: no I/O, and ``build_chain`` never raises on message input.  Trust follows
SpamAssassin 4.0 ``parse_received_headers``; selections follow DNSEval, without
its 9-cap but within the per-message limits of ``oplguard.mail.limits``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass, field, replace
from typing import Any

from oplguard.config.model import SA_ORIGINATING_HEADERS
from oplguard.mail.addresses import is_loopback, is_private, is_skipped
from oplguard.mail.headers import Header, fields_of, header_section_within, section_pieces
from oplguard.mail.limits import (
    MAX_CHECKED_IPS,
    MAX_EVIDENCE_CHARS,
    MAX_HEADER_BYTES,
    MAX_RECEIVED_HEADERS,
    MIN_RECEIVED_WALKED,
    PIECE_CHARS,
    Cut,
    Slices,
)
from oplguard.mail.networks import NetworkList
from oplguard.mail.originating import originating_relays
from oplguard.mail.received import (
    Fetch,
    ParseResult,
    Relay,
    Skipped,
    Unparseable,
    parse_received,
)
from oplguard.textsafe import printable

# SpamAssassin rules/10_default_prefs.cf: the default originating_ip_headers.
DEFAULT_ORIGINATING_HEADERS = SA_ORIGINATING_HEADERS

log = logging.getLogger("oplguard.relays")


def _join(first: NetworkList | None, second: NetworkList | None) -> NetworkList | None:
    if first is None or second is None:
        return first if second is None else second
    return first + second


@dataclass(frozen=True, slots=True)
class TrustSettings:
    """Trust configuration with SA's names; ``None`` means "not configured"."""

    trusted: NetworkList | None = None
    internal: NetworkList | None = None
    msa: NetworkList | None = None
    originating_ip_headers: tuple[str, ...] | None = DEFAULT_ORIGINATING_HEADERS

    def merged(self, other: TrustSettings) -> TrustSettings:
        """These settings with ``other``'s added behind (lines add up, like SA's)."""
        headers: dict[str, str] = {}
        for name in self.originating_headers() + (other.originating_ip_headers or ()):
            headers.setdefault(name.lower(), name)
        return TrustSettings(
            trusted=_join(self.trusted, other.trusted),
            internal=_join(self.internal, other.internal),
            msa=_join(self.msa, other.msa),
            originating_ip_headers=tuple(headers.values()),
        )

    def originating_headers(self) -> tuple[str, ...]:
        """The originating-IP header names in force (SA's defaults when unset)."""
        if self.originating_ip_headers is None:
            return DEFAULT_ORIGINATING_HEADERS
        return self.originating_ip_headers


@dataclass(frozen=True, slots=True)
class ChainRelay:
    """One relay of the chain: SA's fields, its place and its trust."""

    ip: str
    rdns: str
    helo: str
    by: str
    ident: str
    envfrom: str
    id: str
    auth: str
    msa: bool
    hop: int
    trusted: bool
    internal: bool
    originating: bool
    is_skipped: bool
    raw: str

    def as_dict(self) -> dict[str, Any]:
        """The ``explain --json`` fields of this relay."""
        names = ("ip", "rdns", "helo", "by", "ident", "envfrom", "id", "auth", "msa")
        out: dict[str, Any] = {name: getattr(self, name) for name in names}
        out.update(
            hop=self.hop,
            trusted=self.trusted,
            internal=self.internal,
            originating=self.originating,
            skipped=self.is_skipped,
        )
        return out


@dataclass(frozen=True, slots=True)
class RelayChain:
    """The relays of one message (newest first) and what is checked."""

    relays: tuple[ChainRelay, ...] = ()
    connecting_ip: str | None = None
    last_external: str | None = None
    checked: tuple[ChainRelay, ...] = ()
    unparseable: int = 0
    ignored: int = 0
    cuts: tuple[Cut, ...] = ()
    # The parsed header fields, so that tracking and tracing need not parse again.
    fields: tuple[Header, ...] = field(default=(), compare=False, repr=False)

    @property
    def trusted(self) -> tuple[ChainRelay, ...]:
        """The trusted relays, top-down (SA relays_trusted)."""
        return tuple(relay for relay in self.relays if relay.trusted)

    @property
    def untrusted(self) -> tuple[ChainRelay, ...]:
        """The untrusted relays, top-down (SA relays_untrusted)."""
        return tuple(relay for relay in self.relays if not relay.trusted)


@dataclass(slots=True)
class _Walk:
    """The state of SA's trust walk, one relay at a time."""

    trust: TrustSettings
    in_trusted: bool = True
    in_internal: bool = True
    found_msa: bool = False
    allow_fetch_restart: bool = True
    relays: list[ChainRelay] = field(default_factory=list)

    def is_configured(self) -> bool:
        """True when trusted or internal networks are set (else SA infers)."""
        return self.trust.trusted is not None or self.trust.internal is not None

    def in_list(self, ip: str, networks: NetworkList | None) -> bool:
        """Membership in an effective list; 127/8 and ::1 always belong (SA Conf.pm)."""
        # 127/8 and ::1 are always trusted and internal (SA Conf.pm).
        return is_loopback(ip) or (networks is not None and networks.contains(ip))

    def effective(self) -> tuple[NetworkList | None, NetworkList | None]:
        """(trusted, internal) as SA uses them: each stands in for the other when unset."""
        trust = self.trust
        trusted = trust.trusted if trust.trusted is not None else trust.internal
        internal = trust.internal if trust.internal is not None else trust.trusted
        return trusted, internal

    def step(self, relay: Relay, raw: str, *, originating: bool = False) -> None:
        """SA's walk for one relay: trust only changes inside the trusted part."""
        ip, msa = relay.ip, False
        if self.in_trusted and not self.found_msa:
            if not self.is_configured():
                # Inference: a private IP or an auth token keeps trust going.
                if not (is_private(ip) or relay.auth):
                    self.in_trusted = self.in_internal = False
            else:
                trusted, internal = self.effective()
                if not relay.auth and not self.in_list(ip, trusted):
                    self.in_trusted = self.in_internal = False
                else:
                    if self.in_internal and not relay.auth and not self.in_list(ip, internal):
                        self.in_internal = False
                    if self.trust.msa is not None and self.trust.msa.contains(ip):
                        self.found_msa = msa = True
        self.allow_fetch_restart = self.in_trusted
        self.relays.append(
            ChainRelay(  # Relay's fields, spelled out: a dict of them costs more
                ip=ip,
                rdns=relay.rdns,
                helo=relay.helo,
                by=relay.by,
                ident=relay.ident,
                envfrom=relay.envfrom,
                id=relay.id,
                auth=relay.auth,
                msa=msa,
                hop=len(self.relays) + 1,
                trusted=self.in_trusted,
                internal=self.in_internal,
                originating=originating,
                is_skipped=is_skipped(ip),
                raw=raw,
            )
        )

    def fetch(self) -> None:
        """A POP/IMAP fetch inside the trusted part discards the relays above it."""
        if self.allow_fetch_restart:
            self.relays.clear()


def build_chain(message: bytes, trust: TrustSettings) -> RelayChain:
    """The relay chain of ``message`` under ``trust``; never raises on message input.

    The limits of ``oplguard.mail.limits`` apply; every cut is in ``RelayChain.cuts``.
    """
    steps = chain_steps(message, trust)
    while (chain := advance(steps)) is None:
        pass  # without slices the walk never pauses: one call finishes it
    return chain


ChainSteps = Generator[None, None, RelayChain]


def advance(steps: ChainSteps) -> RelayChain | None:
    """Run ``steps`` to its next pause: None there, the chain once the walk is done."""
    try:
        next(steps)
    except StopIteration as done:
        chain: RelayChain = done.value
        return chain
    return None


def chain_steps(message: bytes, trust: TrustSettings, slices: Slices | None = None) -> ChainSteps:
    """``build_chain`` in steps: with ``slices``, it yields whenever a slice is due.

    The caller pauses the clock, lets others run and resumes it.  Once
    ``slices`` is exhausted the walk stops; the chain is what was examined.
    """
    cuts: list[Cut] = []
    fields = yield from _fields_steps(message, slices, cuts)
    walk = _Walk(trust)
    unparseable, ignored = yield from _received_steps(fields, walk, slices, cuts)
    if slices is None or not slices.exhausted():
        for relay, raw in originating_relays(fields, trust.originating_headers(), cuts):
            walk.step(relay, raw, originating=True)
    chain = select(
        tuple(walk.relays),
        unparseable,
        lambda ip: walk.in_list(ip, walk.effective()[0]),
        cuts,
        ignored=ignored,
        fields=fields,
    )
    if log.isEnabledFor(logging.DEBUG):
        _log_chain(chain, walk.is_configured())
    return chain


def _fields_steps(
    message: bytes, slices: Slices | None, cuts: list[Cut]
) -> Generator[None, None, tuple[Header, ...]]:
    """The header fields within MAX_HEADER_BYTES, read in pieces when sliced."""
    section, clipped = header_section_within(message, MAX_HEADER_BYTES)
    if clipped:
        cuts.append(Cut("MAX_HEADER_BYTES", f"header section cut at {MAX_HEADER_BYTES} bytes"))
    if slices is None:
        return fields_of(section)
    found: list[Header] = []
    for piece in section_pieces(section, PIECE_CHARS):
        found += fields_of(piece)
        if slices.due():
            yield
    return tuple(found)


def _received_steps(
    fields: tuple[Header, ...], walk: _Walk, slices: Slices | None, cuts: list[Cut]
) -> Generator[None, None, tuple[int, int]]:
    """SA's walk over the Received fields; (unparseable, ignored) counts."""
    unparseable = ignored = seen = 0
    carried = ""  # SA's qmail_scanner_env_from: lives for exactly one more Received line
    for name, value in fields:
        if name.lower() != "received":
            continue
        seen += 1
        if seen > MAX_RECEIVED_HEADERS:
            ignored += 1
            continue
        if slices is not None:
            if slices.due():
                yield
            if seen > MIN_RECEIVED_WALKED and slices.exhausted():
                cuts.append(_budget_cut(slices, seen - 1))
                break
        result: ParseResult = parse_received(value)
        envfrom, carried = carried, ""
        if isinstance(result, Relay):
            walk.step(
                replace(result, envfrom=envfrom) if envfrom else result, value[:MAX_EVIDENCE_CHARS]
            )
        elif isinstance(result, Skipped):
            carried = result.envfrom
        elif isinstance(result, Fetch):
            walk.fetch()
        elif isinstance(result, Unparseable):
            unparseable += 1
    if ignored:
        text = f"{ignored} Received headers beyond the first {MAX_RECEIVED_HEADERS} ignored"
        cuts.append(Cut("MAX_RECEIVED_HEADERS", text))
    return unparseable, ignored


def _budget_cut(slices: Slices, walked: int) -> Cut:
    budget_ms = (slices.budget_s or 0.0) * 1000
    return Cut(
        "scan_cpu_budget_ms",
        f"scan stopped after {walked} Received headers: CPU budget of {budget_ms:g} ms spent",
    )


def _log_chain(chain: RelayChain, configured: bool) -> None:
    """Debug: every parsed relay with its trust decision, then what is checked."""
    for relay in chain.relays:
        log.debug(
            "hop=%d ip=%s rdns=%s helo=%s by=%s trusted=%s internal=%s originating=%s "
            "skipped=%s header=%r",
            relay.hop,
            relay.ip,
            printable(relay.rdns) or "-",
            printable(relay.helo) or "-",
            printable(relay.by) or "-",
            relay.trusted,
            relay.internal,
            relay.originating,
            relay.is_skipped,
            relay.raw[:300],
        )
    log.debug(
        "trust=%s connecting_ip=%s checked=%s unparseable=%d",
        "configured" if configured else "inferred",
        chain.connecting_ip or "-",
        ",".join(r.ip for r in chain.checked) or "-",
        chain.unparseable,
    )


def _unique(relays: Iterator[ChainRelay]) -> tuple[ChainRelay, ...]:
    seen: dict[str, ChainRelay] = {}
    for relay in relays:
        seen.setdefault(relay.ip, relay)
    return tuple(seen.values())


def select(
    relays: tuple[ChainRelay, ...],
    unparseable: int,
    is_trusted_ip: Callable[[str], bool],
    cuts: list[Cut] | None = None,
    *,
    ignored: int = 0,
    fields: tuple[Header, ...] = (),
) -> RelayChain:
    """The selections of relay-chain.md §5 over a walked chain.

    ``checked``: untrusted relays and untrusted originating IPs (an originating
    IP inside trusted_networks is not checked, as in SA DNSEval), skip-listed
    removed, first occurrence of each IP kept, no cap.  ``connecting_ip`` is
    its first entry (SA ``-firsttrusted``); ``last_external`` is SA ``-lastexternal``.
    At most ``MAX_CHECKED_IPS`` are checked; a cut is appended to ``cuts``.
    ``ignored`` and ``fields`` are passed through to the chain.
    """
    checked = _unique(
        relay
        for relay in relays
        if not relay.trusted
        and not relay.is_skipped
        and not (relay.originating and is_trusted_ip(relay.ip))
    )
    external = [r for r in relays if r.trusted and not r.internal]
    external += [r for r in relays if not r.trusted]
    last_external = next((r.ip for r in external if not r.is_skipped), None)
    if len(checked) > MAX_CHECKED_IPS:
        left = len(checked) - MAX_CHECKED_IPS
        if cuts is not None:
            text = f"{left} IPs beyond the first {MAX_CHECKED_IPS} not checked"
            cuts.append(Cut("MAX_CHECKED_IPS", text))
        checked = checked[:MAX_CHECKED_IPS]
    return RelayChain(
        relays=relays,
        connecting_ip=checked[0].ip if checked else None,
        last_external=last_external,
        checked=checked,
        unparseable=unparseable,
        ignored=ignored,
        cuts=tuple(cuts) if cuts else (),
        fields=fields,
    )


def trusts_client(trust: TrustSettings, ip: str) -> bool:
    """Whether SA's trust walk trusts ``ip`` as the first relay of a chain.

    The one trust decision for an SMTP client: the scoring service makes it on
    the first Received hop of a message, the policy daemon on Postfix's
    ``client_address``; a trusted client is not checked by either.
    """
    walk = _Walk(trust)
    walk.step(Relay(ip=ip), "")
    return walk.relays[0].trusted
