"""Load a config file: TOML -> Config, one table at a time."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import fields, replace
from importlib import resources
from pathlib import Path
from typing import Any, TypeVar

from oplguard.config import sanity
from oplguard.config.fields import Fields, defaults_of, read_toml
from oplguard.config.model import (
    BLOCKED_LIST_NAME,
    DEFAULT_SCORES,
    SA_ORIGINATING_HEADERS,
    Config,
    DnsblConfig,
    GroupConfig,
    ListConfig,
    Listener,
    PolicydConfig,
    ScoringConfig,
    ServerConfig,
    ServiceConfig,
    TlsConfig,
    TrustConfig,
    UpstreamConfig,
    parse_returncode,
)
from oplguard.config.observability_fields import log_format, metrics_config, tracking_config
from oplguard.config.senders_file import load_senders
from oplguard.config.vocabulary import ListFormat
from oplguard.config.web import read_web
from oplguard.errors import ConfigError
from oplguard.levelnames import level_name
from oplguard.netparse import parse_listen

Service = TypeVar("Service", bound=ServiceConfig)
# [server] workers: far beyond the cores of any mail filter host; a typo guard.
MAX_WORKERS = 256


def default_config_path() -> Path:
    """The embedded default config (sample lists), shipped as package data."""
    return Path(str(resources.files("oplguard") / "defaults" / "oplguard.toml"))


def load(path: Path | str) -> Config:
    """Read and check a config file.

    Raises:
        ConfigError: the file is missing, not TOML, or has a bad value; the
            message names the file, the line and the fix.
    """
    path = Path(path)
    text, data = read_toml(path, "config")
    try:
        return Builder(path, text).build(data)
    except (OverflowError, RecursionError) as err:  # e.g. an integer beyond any float
        raise ConfigError(
            f"a value is out of range: {err}", path=str(path), fix="use numbers that fit"
        ) from None


class Builder(Fields):
    """Turns parsed TOML into Config."""

    def build(self, data: dict[str, Any]) -> Config:
        known = {"server", "trust", "scoring", "scores", "lists", "dnsbls", "groups"}
        known |= {"allowed_senders", "blocked_senders", "control_socket", "tracking_db"}
        known |= {"log_level", "senders_file", "policyd", "upstream", "web"}
        known |= {"log_format", "tracking", "metrics"}
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
        try:
            level = level_name(str(data.get("log_level", "WARNING")))
        except ValueError:
            raise self.fail(
                "",
                "log_level",
                f"unknown log level {data.get('log_level')!r}",
                "use debug, info, warning, error or critical",
            ) from None
        senders_file = self.string(data, "", "senders_file", "")
        extra = load_senders(self.path_of(senders_file)) if senders_file else None
        allowed = self.senders(data, "allowed_senders")
        blocked = self.senders(data, "blocked_senders")
        if extra is not None:
            groups = extra.override_groups(groups)
            allowed += extra.allowed
            blocked += extra.blocked
        cfg = Config(
            path=self.path,
            server=self.server(self.table(data, "server")),
            trust=self.trust(self.table(data, "trust")),
            scoring=self.scoring(self.table(data, "scoring"), self.table(data, "scores")),
            lists=lists,
            dnsbls=dnsbls,
            groups=groups,
            allowed_senders=allowed,
            blocked_senders=blocked,
            control_socket=self.local_path(self.string(data, "", "control_socket", "")),
            tracking_db=self.database(self.string(data, "", "tracking_db", "")),
            log_level=level,
            log_format=log_format(self, data),
            tracking=tracking_config(self, self.table(data, "tracking")),
            metrics=metrics_config(self, self.table(data, "metrics")),
            senders_file=self.path_of(senders_file) if senders_file else None,
            policyd=self.policyd(self.table(data, "policyd")),
            upstream=self.upstream(self.table(data, "upstream")),
            web=read_web(self, self.table(data, "web")),
        )
        sanity.check(self, cfg)
        return cfg

    def service(
        self,
        table: str,
        data: dict[str, Any],
        default: Service,
        listener: Callable[[str], Listener],
    ) -> Service:
        """The keys every listening service shares (ServiceConfig), over ``default``."""
        listen = default.listen
        if (raw := self.strings(data, table, "listen")) is not None:
            listen = tuple(listener(item) for item in raw)
        allowed = default.allowed_ips
        if (raw := self.strings(data, table, "allowed_ips")) is not None:
            allowed = tuple(self.network(table, "allowed_ips", item) for item in raw)
        return replace(
            default,
            listen=listen,
            allowed_ips=allowed,
            max_connections=int(self.field_number(data, table, "max_connections", default)),
            max_connections_per_peer=int(
                self.field_number(data, table, "max_connections_per_peer", default)
            ),
            request_timeout_s=self.field_number(data, table, "request_timeout_s", default),
        )

    def server(self, data: dict[str, Any]) -> ServerConfig:
        self.check_keys("server", data, {f.name for f in fields(ServerConfig)})
        # The shared keys read, the others still at their defaults.
        base = self.service("server", data, ServerConfig(), self.listener)
        tls = self.tls(self.table(data, "tls") if "tls" in data else {})
        if any(item.kind == "tls" for item in base.listen) and tls.cert is None:
            raise self.fail(
                "server",
                "listen",
                "a tls: listener needs a certificate",
                "add [server.tls] cert = ... and key = ...",
            )

        def number(key: str) -> float:
            return self.field_number(data, "server", key, base)

        return replace(
            base,
            max_tls_handshakes=int(number("max_tls_handshakes")),
            tls_handshake_timeout_s=number("tls_handshake_timeout_s"),
            max_message_bytes=int(number("max_message_bytes")),
            child_timeout_s=number("child_timeout_s"),
            shutdown_grace_s=number("shutdown_grace_s"),
            allow_tell=self.boolean(data, "server", "allow_tell", base.allow_tell),
            unix_socket_mode=int(number("unix_socket_mode")),
            list_probe_interval_s=number("list_probe_interval_s"),
            tls=tls,
            workers=self.workers(data),
        )

    def workers(self, data: dict[str, Any]) -> int:
        value = self.number(data, "server", "workers", ServerConfig().workers)
        if value != int(value) or value > MAX_WORKERS:
            raise self.fail(
                "server",
                "workers",
                f"workers = {value:g} is not a whole number from 0 to {MAX_WORKERS}",
                "write workers = 1 (one process), N, or 0 for one per CPU",
            )
        return int(value)

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
        return self.service(
            "policyd", data, PolicydConfig(), lambda item: self.address("policyd", "listen", item)
        )

    def upstream(self, data: dict[str, Any]) -> UpstreamConfig:
        self.check_keys("upstream", data, {f.name for f in fields(UpstreamConfig)})
        default = UpstreamConfig()
        raw = self.string(data, "upstream", "address", "")  # default: None, no upstream
        threshold = self.choice(
            data,
            "upstream",
            "threshold",
            default.threshold,
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
        known = {"required_score", "lookup_url", "lookup_deadline_s", "scan_cpu_budget_ms"}
        self.check_keys("scoring", data, known)
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
        default = ScoringConfig()
        required = data.get("required_score", default.required_score)
        if isinstance(required, bool) or not isinstance(required, int | float):
            raise self.fail(
                "scoring",
                "required_score",
                "required_score must be a number",
                f"write required_score = {default.required_score}",
            )
        return ScoringConfig(
            required_score=float(required),
            scores=tuple(table.items()),
            lookup_url=self.string(data, "scoring", "lookup_url", default.lookup_url),
            lookup_deadline_s=self.number(
                data, "scoring", "lookup_deadline_s", default.lookup_deadline_s
            ),
            scan_cpu_budget_ms=self.number(
                data, "scoring", "scan_cpu_budget_ms", default.scan_cpu_budget_ms
            ),
        )

    def list_config(self, index: int, data: dict[str, Any]) -> ListConfig:
        self.check_keys("lists", data, {f.name for f in fields(ListConfig)}, index)
        default = defaults_of(ListConfig)
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
        fmt = self.choice(
            data,
            "lists",
            "format",
            default["format"],
            f"use one of: {', '.join(ListFormat)}",
            index,
            noun="list format",
        )
        return ListConfig(
            name=name,
            path=self.path_of(raw_path),
            category=self.string(data, "lists", "category", default["category"], index),
            format=fmt,
            description=self.string(data, "lists", "description", default["description"], index),
        )

    def dnsbl(self, index: int, data: dict[str, Any]) -> DnsblConfig:
        table = "dnsbls"
        self.check_keys(table, data, {f.name for f in fields(DnsblConfig) if f.init}, index)
        default = defaults_of(DnsblConfig)
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
        on_error = self.choice(
            data, table, "on_error", default["on_error"], "use ignore, score or tempfail", index
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
            category=self.string(data, table, "category", default["category"], index),
            nameservers=self.strings(data, table, "nameservers") or default["nameservers"],
            timeout_s=self.number(data, table, "timeout_s", default["timeout_s"]),
            on_error=on_error,
            error_symbol=self.string(data, table, "error_symbol", default["error_symbol"], index)
            or name.upper().replace("-", "_") + "_UNAVAILABLE",
            returncodes=tuple(codes.items()),
            description=self.string(data, table, "description", default["description"], index),
        )

    def returncode(self, rule: str, index: int) -> None:
        try:
            parse_returncode(rule)  # what the list's answers are matched with
        except ValueError as err:
            raise self.fail(
                "dnsbls",
                "returncodes",
                f"bad return code rule {rule!r}",
                'use "127.0.0.2", "127.0.0.0/29", "127.0.0.2-127.0.0.5" or "mask:8"',
                index,
            ) from err

    def groups(self, data: Any, list_names: set[str]) -> tuple[GroupConfig, ...]:
        if not isinstance(data, dict):
            raise self.fail("", "groups", "groups must be tables", "write [groups.open_proxy_list]")
        built = []
        default = defaults_of(GroupConfig)
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
            action = self.choice(
                body,
                table,
                "action",
                default["action"],
                "use reject (connecting IP only), delete (every header IP) or tag",
            )
            built.append(
                GroupConfig(
                    name=name,
                    lists=lists,
                    enabled=self.boolean(body, table, "enabled", default["enabled"]),
                    action=action,
                    symbol=self.string(body, table, "symbol", default["symbol"]) or name.upper(),
                    reason=self.string(body, table, "reason", default["reason"]),
                    description=self.string(body, table, "description", default["description"]),
                )
            )
        return tuple(built)
