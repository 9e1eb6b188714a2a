"""The one exception hierarchy of oplguard.

Every error carries a message that a mail administrator can act on.
"""

from __future__ import annotations

from enum import IntEnum


class Status(IntEnum):
    """spamd / sysexits status codes (spamd-protocol.md §7)."""

    EX_OK = 0
    EX_USAGE = 64
    EX_DATAERR = 65
    EX_NOINPUT = 66
    EX_NOUSER = 67
    EX_NOHOST = 68
    EX_UNAVAILABLE = 69
    EX_SOFTWARE = 70
    EX_OSERR = 71
    EX_OSFILE = 72
    EX_CANTCREAT = 73
    EX_IOERR = 74
    EX_TEMPFAIL = 75
    EX_PROTOCOL = 76
    EX_NOPERM = 77
    EX_CONFIG = 78
    EX_TIMEOUT = 79


class OplguardError(Exception):
    """Base class of every error oplguard raises on purpose."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class ConfigError(OplguardError):
    """A configuration file is wrong; names the file, the line and the fix."""

    def __init__(self, message: str, *, path: str = "", line: int = 0, fix: str = "") -> None:
        where = path if not line else f"{path}:{line}"
        text = f"{where}: {message}" if where else message
        if fix:
            text = f"{text} (fix: {fix})"
        super().__init__(text)
        self.path = path
        self.line = line
        self.fix = fix


class ListError(OplguardError):
    """A list file cannot be read or parsed; names the file and the line."""

    def __init__(self, message: str, *, path: str = "", line: int = 0) -> None:
        where = path if not line else f"{path}:{line}"
        super().__init__(f"{where}: {message}" if where else message)
        self.path = path
        self.line = line


class InputError(OplguardError):
    """A file or argument given on the command line cannot be used."""


class UsageError(OplguardError):
    """The command line is wrong: a bad option value (an IP, a duration, a level)."""


class OutputError(OplguardError):
    """An output file named on the command line cannot be written."""


class ProtocolError(OplguardError):
    """A spamd protocol violation; carries the status to answer with."""

    def __init__(self, message: str, status: Status = Status.EX_PROTOCOL) -> None:
        super().__init__(message)
        self.status = status


class LocalProtocolError(ProtocolError):
    """We misused the protocol state machine (a bug on our side)."""


class RemoteProtocolError(ProtocolError):
    """The peer sent something the protocol does not allow."""
