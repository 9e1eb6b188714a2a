"""Send one message over SMTP and print what the server answered, as JSON (molecule verify).

Usage: python3 smtp_send.py PORT RCPT [XCLIENT_ADDR] < message
Runs on the test host with its own python3 (smtplib), against the MTA on 127.0.0.1.
"""

import json
import smtplib
import sys


def main() -> None:
    port, rcpt = int(sys.argv[1]), sys.argv[2]
    xclient = sys.argv[3] if len(sys.argv) > 3 else ""
    body = sys.stdin.buffer.read()
    result = {"stage": "", "code": 0, "reply": ""}
    with smtplib.SMTP("127.0.0.1", port, timeout=60) as smtp:
        smtp.ehlo("verify.example")
        if xclient:
            code, reply = smtp.docmd("XCLIENT", f"ADDR={xclient} NAME=[UNAVAILABLE]")
            if code != 220:
                raise SystemExit(f"XCLIENT refused: {code} {reply!r}")
            smtp.ehlo("verify.example")
        for stage, (code, reply) in (
            ("mail", smtp.mail("bob@example.com")),
            ("rcpt", smtp.rcpt(rcpt)),
        ):
            if code >= 400:
                result.update(stage=stage, code=code, reply=reply.decode())
                break
        else:
            code, reply = smtp.data(body)
            result.update(stage="data", code=code, reply=reply.decode())
    print(json.dumps(result))


if __name__ == "__main__":
    main()
