"""``python -m oplguard`` runs the command line."""

from __future__ import annotations

from oplguard.cli import main

raise SystemExit(main())
