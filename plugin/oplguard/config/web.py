"""The ``[web]`` table: the IP lookup and delisting service's settings.

Kept apart from ``loader`` so the table's checks sit in one place; every error
names the file, the line and the fix, as the other tables' do.
"""

from __future__ import annotations

import ipaddress
from dataclasses import fields
from typing import Any

from oplguard.config.fields import Fields
from oplguard.config.model import Listener, WebConfig
from oplguard.config.notify import read_notify
from oplguard.errors import ConfigError
from oplguard.netparse import parse_listen, parse_tcp_listen

# Shorter tokens can be guessed; 16 characters of a random token is ~96 bits.
MIN_ADMIN_TOKEN_CHARS = 16
DNS_PORT = 53
TABLE = "web"


def read_web(reader: Fields, data: dict[str, Any]) -> WebConfig:
    """The ``[web]`` table as a WebConfig.

    Raises:
        ConfigError: a bad value; names the file, line and fix.
    """
    known = {f.name for f in fields(WebConfig)} - {"admin_token"}
    reader.check_keys(TABLE, data, known | {"admin_token", "admin_token_file"})
    default = WebConfig()
    listen = default.listen
    if "listen" in data:
        listen = _listen(reader, reader.string(data, TABLE, "listen", ""))
    proxies = tuple(
        reader.network(TABLE, "trusted_proxies", item)
        for item in reader.strings(data, TABLE, "trusted_proxies") or ()
    )
    servers = tuple(
        _dns_server(reader, item) for item in reader.strings(data, TABLE, "dns_servers") or ()
    )
    public_url = reader.string(data, TABLE, "public_url", default.public_url)
    if public_url and not public_url.startswith(("http://", "https://")):
        raise reader.fail(
            TABLE,
            "public_url",
            f"bad public_url {public_url!r}",
            'write "https://lookup.example.net/"',
        )

    def count(key: str, fallback: int) -> int:
        value = reader.number(data, TABLE, key, fallback)
        if value < 1 or value != int(value):
            raise reader.fail(
                TABLE, key, f"{key} must be a whole number >= 1", f"{key} = {fallback}"
            )
        return int(value)

    timeout = reader.number(data, TABLE, "dns_timeout_s", default.dns_timeout_s)
    if timeout <= 0:
        raise reader.fail(
            TABLE, "dns_timeout_s", "dns_timeout_s must be above 0", "dns_timeout_s = 3"
        )
    return WebConfig(
        listen=listen,
        public_url=public_url,
        admin_token=_admin_token(reader, data),
        trusted_proxies=proxies,
        lookups_per_minute=count("lookups_per_minute", default.lookups_per_minute),
        removals_per_hour=count("removals_per_hour", default.removals_per_hour),
        removals_per_ip_per_day=count("removals_per_ip_per_day", default.removals_per_ip_per_day),
        dns_servers=servers,
        dns_timeout_s=timeout,
        notify=read_notify(reader, data),
        header_timeout_s=_seconds(reader, data, "header_timeout_s", default.header_timeout_s),
        body_timeout_s=_seconds(reader, data, "body_timeout_s", default.body_timeout_s),
        max_connections_per_client=count(
            "max_connections_per_client", default.max_connections_per_client
        ),
        rate_limit_prefix_v4=_prefix(reader, data, "rate_limit_prefix_v4", 24, 32),
        rate_limit_prefix_v6=_prefix(reader, data, "rate_limit_prefix_v6", 64, 128),
    )


def _seconds(reader: Fields, data: dict[str, Any], key: str, fallback: float) -> float:
    value = reader.number(data, TABLE, key, fallback)
    if value <= 0:
        raise reader.fail(TABLE, key, f"{key} must be above 0", f"{key} = {fallback:g}")
    return value


def _prefix(reader: Fields, data: dict[str, Any], key: str, fallback: int, bits: int) -> int:
    value = reader.number(data, TABLE, key, fallback)
    if value != int(value) or not 8 <= value <= bits:
        raise reader.fail(
            TABLE, key, f"{key} must be a prefix length from 8 to {bits}", f"{key} = {fallback}"
        )
    return int(value)


def _listen(reader: Fields, text: str) -> Listener:
    try:
        host, port = parse_tcp_listen(text, "the web service listens on one HOST:PORT")
    except ValueError as err:
        raise reader.fail(
            TABLE, "listen", f"bad listen address {text!r}: {err}", 'write "127.0.0.1:8080"'
        ) from err
    return Listener("tcp", host, port)


def _dns_server(reader: Fields, text: str) -> tuple[str, int]:
    """``IP`` (port 53), ``IP:PORT`` or ``[V6]:PORT``."""
    try:
        return str(ipaddress.ip_address(text)), DNS_PORT
    except ValueError:
        pass
    try:
        kind, host, port, _ = parse_listen(text)
        if kind != "tcp" or host in ("*", "localhost") or port == 0:
            raise ValueError("not an IP address")
    except ValueError as err:
        raise reader.fail(
            TABLE,
            "dns_servers",
            f"bad DNS server {text!r}: {err}",
            'write "127.0.0.53", "192.0.2.53:5353" or "[::1]:53"',
        ) from err
    return host, port


def _admin_token(reader: Fields, data: dict[str, Any]) -> str:
    inline = reader.string(data, TABLE, "admin_token", "")
    file_name = reader.string(data, TABLE, "admin_token_file", "")
    if inline and file_name:
        raise reader.fail(
            TABLE,
            "admin_token",
            "admin_token and admin_token_file are both set",
            "keep admin_token_file (a file only root and the service can read)",
        )
    key, token = "admin_token", inline
    if file_name:
        key, path = "admin_token_file", reader.path_of(file_name)
        try:
            token = path.read_text(encoding="utf-8").strip()
        except (OSError, UnicodeDecodeError) as err:
            raise ConfigError(
                f"cannot read admin_token_file {path}: {err}",
                path=str(reader.path),
                line=_line(reader, key),
                fix="create it, e.g. openssl rand -hex 32 > FILE; chmod 0640 FILE",
            ) from err
    if token and (len(token) < MIN_ADMIN_TOKEN_CHARS or not token.isprintable()):
        raise reader.fail(
            TABLE,
            key,
            f"the admin token must be at least {MIN_ADMIN_TOKEN_CHARS} printable characters",
            "make one with: openssl rand -hex 32",
        )
    return token


def _line(reader: Fields, key: str) -> int:
    return reader.fail(TABLE, key, "", "").line
