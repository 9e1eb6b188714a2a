"""Integration fixtures: TLS certificates made with openssl."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest


def openssl(*args: str) -> None:
    """Run the real openssl; skip the test if it is not installed."""
    program = shutil.which("openssl")
    if program is None:
        pytest.skip("openssl is not installed")
    subprocess.run([program, *args], check=True, capture_output=True)


def self_signed(cert: Path, key: Path, subject: str, *extra: str) -> None:
    """A self-signed RSA certificate valid for two days."""
    openssl(
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-days",
        "2",
        "-subj",
        subject,
        *extra,
        "-keyout",
        str(key),
        "-out",
        str(cert),
    )


@pytest.fixture(scope="session")
def tls_files(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed certificate and key for 127.0.0.1, made with openssl."""
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    self_signed(cert, key, "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1")
    return cert, key
