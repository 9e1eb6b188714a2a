"""Configuration: one TOML file parsed into frozen dataclasses.

``model`` holds the dataclasses and their defaults, ``vocabulary`` the StrEnums
of the fixed words (actions, scopes, formats, ...), ``loader`` reads a file
table by table, ``fields`` reads typed values, ``senders_file`` reads the
separate sender-groups file.  Every error names the file, the line and the
fix (raised as ConfigError, exit 78 on the CLI).
"""

from oplguard.config.fields import toml_error_line
from oplguard.config.loader import default_config_path, load
from oplguard.config.model import (
    BLOCKED_LIST_NAME,
    DEFAULT_SCORES,
    SA_ORIGINATING_HEADERS,
    Config,
    DnsblConfig,
    GroupConfig,
    ListConfig,
    Listener,
    MetricsConfig,
    NotifyConfig,
    PolicydConfig,
    ScoringConfig,
    SenderEntry,
    ServerConfig,
    ServiceConfig,
    TlsConfig,
    TrackingConfig,
    TrustConfig,
    UpstreamConfig,
    WebConfig,
)
from oplguard.config.vocabulary import (
    ACTIONS,
    SCOPES,
    Action,
    ListFormat,
    LogFormat,
    OnError,
    Scope,
    Threshold,
)

__all__ = [
    "ACTIONS",
    "BLOCKED_LIST_NAME",
    "DEFAULT_SCORES",
    "SA_ORIGINATING_HEADERS",
    "SCOPES",
    "Action",
    "Config",
    "DnsblConfig",
    "GroupConfig",
    "ListConfig",
    "ListFormat",
    "Listener",
    "LogFormat",
    "MetricsConfig",
    "NotifyConfig",
    "OnError",
    "PolicydConfig",
    "Scope",
    "ScoringConfig",
    "SenderEntry",
    "ServerConfig",
    "ServiceConfig",
    "Threshold",
    "TlsConfig",
    "TrackingConfig",
    "TrustConfig",
    "UpstreamConfig",
    "WebConfig",
    "default_config_path",
    "load",
    "toml_error_line",
]
