"""Coverage-guided fuzzing of the spamd parser and the Received parser with atheris.

    .venv/bin/pip install -e '.[fuzz]'
    .venv/bin/python -m bench.fuzz.run spamd    -atheris_runs=200000 -max_len=4096
    .venv/bin/python -m bench.fuzz.run received -max_total_time=600

Arguments after the target go to libFuzzer (``-max_total_time``, ``-runs``,
``-rss_limit_mb`` ...).  The seed corpus is written from tests/fuzz/corpus.py
(real client requests, the SA-checked Received corpus) into a temp folder
that libFuzzer also grows.  Any exception that escapes, a hang (``-timeout``,
default 10 s per input) or memory above ``-rss_limit_mb`` is a finding.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path


def spamd_target(data: bytes) -> None:
    from oplguard.spamd.connection import SpamdConnection
    from oplguard.spamd.messages import NEED_DATA, Limits

    connection = SpamdConnection(Limits(max_body_bytes=65536))
    half = len(data) // 2
    for piece in (data[:half], data[half:], b""):
        connection.receive_data(piece)
        if connection.next_event() is not NEED_DATA:
            return


def received_target(data: bytes) -> None:
    from oplguard.mail.received import parse_received
    from oplguard.mail.relays import TrustSettings, build_chain

    text = data.decode("latin-1")
    parse_received(text)
    build_chain(b"Received: " + data + b"\r\nSubject: x\r\n\r\n", TrustSettings())


def seeds(target: str) -> list[bytes]:
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
    from tests.fuzz.corpus import received_lines, spamd_requests

    if target == "spamd":
        return spamd_requests()
    return [line.encode("latin-1") for line in received_lines()]


def main() -> None:
    import atheris  # type: ignore[import-not-found]

    targets = {"spamd": spamd_target, "received": received_target}
    if len(sys.argv) < 2 or sys.argv[1] not in targets:
        raise SystemExit(
            f"usage: python -m bench.fuzz.run {{{'|'.join(targets)}}} [libFuzzer flags]"
        )
    target = sys.argv[1]
    corpus = Path(tempfile.mkdtemp(prefix=f"oplguard-fuzz-{target}-"))
    for index, seed in enumerate(seeds(target)):
        (corpus / f"seed-{index}").write_bytes(seed)
    with atheris.instrument_imports():
        import oplguard.mail.received
        import oplguard.mail.relays
        import oplguard.spamd  # noqa: F401
    atheris.Setup([sys.argv[0], *sys.argv[2:], str(corpus)], targets[target])
    print(f"corpus: {corpus}", flush=True)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
