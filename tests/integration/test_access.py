"""Access control (issue 9 §4): TLS client certificates, checked with the real
spamc and aiospamc, certificates made with the real openssl."""

from __future__ import annotations

import ssl
import subprocess
from pathlib import Path

import aiospamc
import pytest

from oplguard.config.model import Listener
from tests.conftest import ConfigWriter
from tests.integration.conftest import openssl, self_signed
from tests.integration.harness import RunningServer, need
from tests.samples import message

pytestmark = pytest.mark.integration
TIMEOUT_S = 30


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A CA, a server certificate for 127.0.0.1 and a client certificate, both CA-signed,
    plus a self-signed client certificate the CA never saw."""
    d = tmp_path_factory.mktemp("pki")
    files = {
        name: d / f"{name}.pem"
        for name in (
            "ca",
            "ca-key",
            "server",
            "server-key",
            "client",
            "client-key",
            "rogue",
            "rogue-key",
        )
    }
    self_signed(files["ca"], files["ca-key"], "/CN=test CA")
    for name, subject, ext in (
        ("server", "/CN=127.0.0.1", "subjectAltName=IP:127.0.0.1"),
        ("client", "/CN=mx1.example.net", "extendedKeyUsage=clientAuth"),
    ):
        csr = d / f"{name}.csr"
        openssl(
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-subj",
            subject,
            "-keyout",
            str(files[f"{name}-key"]),
            "-out",
            str(csr),
        )
        extfile = d / f"{name}.ext"
        extfile.write_text(ext + "\n")
        openssl(
            "x509",
            "-req",
            "-in",
            str(csr),
            "-CA",
            str(files["ca"]),
            "-CAkey",
            str(files["ca-key"]),
            "-CAcreateserial",
            "-days",
            "2",
            "-extfile",
            str(extfile),
            "-out",
            str(files[name]),
        )
    self_signed(files["rogue"], files["rogue-key"], "/CN=rogue")
    return files


@pytest.fixture
def tls_server(write_config: ConfigWriter, pki: dict[str, Path]) -> RunningServer:
    cfg = write_config(
        server=f'[server.tls]\ncert = "{pki["server"]}"\nkey = "{pki["server-key"]}"\n'
        f'client_ca = "{pki["ca"]}"\n'
    )
    return RunningServer(cfg, (Listener("tls", "127.0.0.1", 0),))


def spamc(port: int, *args: str) -> subprocess.CompletedProcess[bytes]:
    command = [need("spamc"), "-d", "127.0.0.1", "-p", str(port), "--ssl", "-x", "-c", *args]
    return subprocess.run(
        command,
        input=message("listed-connecting.eml"),
        capture_output=True,
        timeout=TIMEOUT_S,
        check=False,
    )


def test_spamc_with_a_ca_signed_client_certificate_is_served(
    tls_server: RunningServer, pki: dict[str, Path]
) -> None:
    with tls_server as server:
        port = server.address("tls")[1]
        good = spamc(port, "--ssl-cert", str(pki["client"]), "--ssl-key", str(pki["client-key"]))
        none = spamc(port)
        rogue = spamc(port, "--ssl-cert", str(pki["rogue"]), "--ssl-key", str(pki["rogue-key"]))
    assert (good.returncode, good.stdout) == (1, b"10.0/5.0\n"), good.stderr
    # Without -x spamc would fall back to "0/0"; with -x the refused handshake is an error.
    assert none.returncode not in (0, 1)
    assert rogue.returncode not in (0, 1)


async def test_aiospamc_client_certificate(tls_server: RunningServer, pki: dict[str, Path]) -> None:
    with tls_server as server:
        host, port = server.address("tls")
        reply = await aiospamc.check(
            message("listed-connecting.eml"),
            host=host,
            port=port,
            verify=pki["ca"],
            cert=(pki["client"], pki["client-key"]),
        )
        with pytest.raises(
            (ssl.SSLError, ConnectionError, OSError, aiospamc.exceptions.AIOSpamcConnectionFailed)
        ):
            await aiospamc.check(message("clean.eml"), host=host, port=port, verify=pki["ca"])
    assert reply.headers.spam.value is True
