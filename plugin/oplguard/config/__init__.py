"""Configuration: one TOML file parsed into frozen dataclasses.

``model`` holds the dataclasses and their defaults, ``vocabulary`` the StrEnums
of the fixed words (actions, scopes, formats, ...), ``loader`` reads a file
table by table, ``fields`` reads typed values, ``senders_file`` reads the
separate sender-groups file.  Every error names the file, the line and the
fix (raised as ConfigError, exit 78 on the CLI).

Names are imported from the module that defines them (``config.model``,
``config.vocabulary``, ``config.loader``); this package re-exports nothing.
"""
