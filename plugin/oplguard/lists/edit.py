"""Writing list files as an admin expects: through symlinks, same owner and mode, under a lock.

Every writer of a list file (approvals from the web service and the CLI, in
any number of processes) takes the cross-process lock beside the file's
target (``fcntl.flock``), so read-modify-write edits never lose each other.
Rewrites go to a temporary file in the target's directory, then ``rename``;
one-line appends go to the end of the target (``O_APPEND``), then ``fsync``.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import logging
import os
import stat
import tempfile
import threading
import time
from collections.abc import Iterable, Iterator
from pathlib import Path

from oplguard.errors import ListError

log = logging.getLogger(__name__)

# An edit holds the lock for milliseconds (one append, or one rewrite of a
# small file); a minute of waiting means a stuck editor, and the admin must
# be told rather than kept waiting forever.
LOCK_TIMEOUT_S = 60.0
# Poll interval while another process holds a lock: short against the
# milliseconds an edit takes, long enough not to spin.
LOCK_POLL_S = (0.0005, 0.01)
# Lock files this thread holds: an approval holds every list's lock and then
# calls ``ListStore`` edits, which lock their own file again (re-entrant here;
# a second flock on another descriptor of the same file would wait on itself).
_held = threading.local()


def target_of(path: Path) -> Path:
    """The file a list path names, symlinks followed (the link itself is never replaced)."""
    return Path(os.path.realpath(path))


def lock_path(path: Path) -> Path:
    """The lock file beside the list's target: ``.NAME.lock`` in the target's directory."""
    target = target_of(path)
    return target.with_name(f".{target.name}.lock")


@contextlib.contextmanager
def locked(paths: Iterable[Path], timeout_s: float = LOCK_TIMEOUT_S) -> Iterator[None]:
    """Hold the cross-process locks of these list files (sorted: no deadlock between editors).

    Raises:
        ListError: a lock file cannot be opened, or another editor held it for ``timeout_s``.
    """
    held: set[Path] = _held.__dict__.setdefault("paths", set())
    with contextlib.ExitStack() as stack:
        for lock in sorted({lock_path(path) for path in paths} - held):
            fd = _open_lock(lock)
            if fd is None:
                continue
            stack.callback(os.close, fd)
            _acquire(fd, lock, timeout_s)
            held.add(lock)
            stack.callback(held.discard, lock)
        yield


def _open_lock(lock: Path) -> int | None:
    """The lock file, opened; None beside a list this process may not change at all.

    A list in a directory we cannot write (the packaged sample lists, a
    read-only mount) cannot be edited by us either, so there is nothing to
    serialise; its edits would fail, and say so, when they rewrite it.
    """
    try:
        # Read-only is enough for flock, so a lock file created by root still
        # serves the service user (and the reverse).
        fd = os.open(lock, os.O_RDONLY | os.O_CREAT | os.O_CLOEXEC, 0o644)
    except OSError as err:
        if err.errno in (errno.EACCES, errno.EPERM, errno.EROFS) and not os.access(
            lock.parent, os.W_OK
        ):
            return None
        raise ListError(f"cannot open lock file: {err.strerror or err}", path=str(lock)) from err
    _keep_owner(fd, lock.with_name(lock.name.removeprefix(".").removesuffix(".lock")))
    return fd


def _keep_owner(fd: int, target: Path) -> None:
    """Root creating a lock beside a service user's list: the lock becomes theirs too."""
    if os.geteuid() != 0:
        return
    with contextlib.suppress(OSError):
        info = target.stat()
        os.fchown(fd, info.st_uid, info.st_gid)


def _acquire(fd: int, lock: Path, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    pause, longest = LOCK_POLL_S
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except OSError as err:
            if err.errno not in (errno.EWOULDBLOCK, errno.EAGAIN):
                raise ListError(f"cannot lock: {err.strerror or err}", path=str(lock)) from err
        if time.monotonic() >= deadline:
            raise ListError(
                f"another editor has held this lock for {timeout_s:.0f} s; "
                "is an `oplguard removals` command stuck?",
                path=str(lock),
            )
        time.sleep(pause)
        pause = min(pause * 2, longest)


def write_atomic(path: Path, data: bytes) -> None:
    """Replace the file ``path`` names with ``data``: temp file beside the target, fsync, rename.

    A symlink stays a symlink (its target is replaced); readers see the old
    file or the new one, never a part; mode and owner are kept.

    Raises:
        ListError: the file cannot be written.
    """
    target = target_of(path)
    try:
        info = target.stat()
        fd, temp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    except OSError as err:
        raise ListError(f"cannot rewrite list file: {err.strerror or err}", path=str(path)) from err
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(temp, stat.S_IMODE(info.st_mode))
        if os.geteuid() == 0:  # root editing a service user's file: it stays theirs
            os.chown(temp, info.st_uid, info.st_gid)
        os.replace(temp, target)
    except OSError as err:
        with contextlib.suppress(OSError):
            os.unlink(temp)
        raise ListError(f"cannot rewrite list file: {err.strerror or err}", path=str(path)) from err
    _fsync_dir(target.parent)


def append_line(path: Path, line: str) -> None:
    """Append one line to the file ``path`` names (its target), in one write, then fsync.

    O(1) whatever the file's size; owner, mode and inode stay.  A reader that
    reads during the write sees the file before or after it (a reload in the
    middle finds the size changed again and reloads once more).

    Raises:
        ListError: the file cannot be written.
    """
    target = target_of(path)
    try:
        fd = os.open(target, os.O_RDWR | os.O_APPEND | os.O_CLOEXEC)
    except OSError as err:
        raise ListError(
            f"cannot append to list file: {err.strerror or err}", path=str(path)
        ) from err
    try:
        size = os.fstat(fd).st_size
        tail = os.pread(fd, 2, max(size - 2, 0)) if size else b""
        newline = b"\r\n" if tail.endswith(b"\r\n") else b"\n"
        lead = newline if tail and not tail.endswith(b"\n") else b""
        data = lead + line.encode("utf-8", errors="surrogateescape") + newline
        if os.write(fd, data) != len(data):
            raise OSError(errno.EIO, "short write")
        os.fsync(fd)
    except OSError as err:
        raise ListError(
            f"cannot append to list file: {err.strerror or err}", path=str(path)
        ) from err
    finally:
        os.close(fd)


def _fsync_dir(directory: Path) -> None:
    """Make the rename itself durable (POSIX: fsync the directory)."""
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    except OSError as err:  # some filesystems refuse fsync on a directory
        log.warning("fsync of %s failed, the rename may not survive a crash: %s", directory, err)
    finally:
        os.close(fd)
