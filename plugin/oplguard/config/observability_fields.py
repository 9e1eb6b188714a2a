"""The [tracking] and [metrics] tables and ``log_format``; errors name file, line and fix."""

from __future__ import annotations

from dataclasses import fields
from typing import Any

from oplguard.config.fields import Fields, defaults_of
from oplguard.config.model import Config, MetricsConfig, TrackingConfig
from oplguard.config.vocabulary import LogFormat
from oplguard.netparse import parse_tcp_listen


def tracking_config(f: Fields, data: dict[str, Any]) -> TrackingConfig:
    f.check_keys("tracking", data, {item.name for item in fields(TrackingConfig)})
    d = TrackingConfig()
    built = TrackingConfig(
        host=f.string(data, "tracking", "host", d.host),
        batch_size=int(f.number(data, "tracking", "batch_size", d.batch_size)),
        batch_interval_s=f.number(data, "tracking", "batch_interval_s", d.batch_interval_s),
        max_queue=int(f.number(data, "tracking", "max_queue", d.max_queue)),
        max_age_days=f.number(data, "tracking", "max_age_days", d.max_age_days),
        max_records=int(f.number(data, "tracking", "max_records", d.max_records)),
    )
    for key in ("batch_size", "batch_interval_s", "max_queue"):
        if getattr(built, key) <= 0:
            raise f.fail(
                "tracking", key, f"{key} must be above 0", f"write {key} = {getattr(d, key)}"
            )
    return built


def metrics_config(f: Fields, data: dict[str, Any]) -> MetricsConfig:
    f.check_keys("metrics", data, {item.name for item in fields(MetricsConfig)})
    listen = f.string(data, "metrics", "listen", MetricsConfig().listen)
    if listen:
        try:
            parse_tcp_listen(listen, "use a plain HOST:PORT")
        except ValueError as err:
            raise f.fail(
                "metrics",
                "listen",
                f"bad metrics address {listen!r}: {err}",
                'write listen = "127.0.0.1:9783" (or "[::1]:9783")',
            ) from err
    return MetricsConfig(listen=listen)


def log_format(f: Fields, data: dict[str, Any]) -> LogFormat:
    default: LogFormat = defaults_of(Config)["log_format"]
    return f.choice(data, "", "log_format", default, 'use "text" or "json"')
