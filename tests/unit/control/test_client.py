"""Who the control client trusts: its own or root's socket, nothing planted by others."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest

from oplguard.control.client import ControlError, ask, check_owner


def test_missing_socket_says_what_to_check(tmp_path: Path) -> None:
    with pytest.raises(ControlError, match="no control socket at") as caught:
        ask(tmp_path / "none.sock", {"cmd": "levels"})
    assert caught.value.status == 69


def test_a_plain_file_is_not_a_socket(tmp_path: Path) -> None:
    path = tmp_path / "file"
    path.write_text("")
    with pytest.raises(ControlError, match="is not a socket"):
        check_owner(path)


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to chown a socket to another user")
def test_socket_of_another_user_in_a_shared_directory_is_refused(tmp_path: Path) -> None:
    os.chmod(tmp_path, 0o1777)  # anyone could have planted it here
    path = tmp_path / "c.sock"
    with socket.socket(socket.AF_UNIX) as planted:
        planted.bind(str(path))
        os.chown(path, 65534, 65534)
        with pytest.raises(ControlError, match="owned by uid 65534"):
            check_owner(path)


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to chown")
def test_root_trusts_the_service_users_private_runtime_directory(tmp_path: Path) -> None:
    folder = tmp_path / "run"
    folder.mkdir(mode=0o750)
    os.chown(folder, 65534, 65534)
    path = folder / "c.sock"
    with socket.socket(socket.AF_UNIX) as service:
        service.bind(str(path))
        os.chown(path, 65534, 65534)
        check_owner(path)
