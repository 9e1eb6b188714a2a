"""The config and the scanner a subcommand works with."""

from __future__ import annotations

import argparse
from dataclasses import replace
from pathlib import Path

from oplguard.config import loader as config_loader
from oplguard.config.model import Config
from oplguard.lists.store import ListStore
from oplguard.policy.scanner import Scanner, trust_settings
from oplguard.progress import Progress

SYSTEM_CONFIG = Path("/etc/oplguard/oplguard.toml")


def config_path(given: str | None) -> Path:
    """--config, else /etc/oplguard/oplguard.toml if present, else the embedded default."""
    if given:
        return Path(given)
    return SYSTEM_CONFIG if SYSTEM_CONFIG.exists() else config_loader.default_config_path()


def load_config(args: argparse.Namespace) -> Config:
    cfg = config_loader.load(config_path(args.config))
    sa_config = getattr(args, "sa_config", None)
    if sa_config:
        cfg = replace(cfg, trust=replace(cfg.trust, sa_config=Path(sa_config)))
    return cfg


def build_scanner(cfg: Config) -> Scanner:
    lists = ListStore(cfg.lists)
    lists.load(Progress.for_terminal())  # progress on a terminal's stderr, else quiet
    return Scanner(cfg, lists, trust_settings(cfg))
