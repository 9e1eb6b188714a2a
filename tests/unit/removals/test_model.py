"""Input checks of removal requests: the IP parser, e-mail and free text."""

from __future__ import annotations

import pytest

from oplguard.errors import InputError
from oplguard.removals.model import check_email, check_text, parse_public_ip


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("192.0.2.99", "192.0.2.99"),
        ("  192.0.2.99\n", "192.0.2.99"),
        ("2001:DB8:C0DE:2:0:0:0:17", "2001:db8:c0de:2::17"),
        ("::ffff:192.0.2.99", "192.0.2.99"),
    ],
    ids=["ipv4", "whitespace", "ipv6-canonical", "ipv4-mapped"],
)
def test_public_ip_is_canonical(text: str, expected: str) -> None:
    assert parse_public_ip(text) == expected


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("", "enter one"),
        ("fe80::1%eth0", "scoped"),
        ("192.0.2.0/24", "single address"),
        ("192.0.2.1-192.0.2.9", "single address"),
        ("192.0.02.1", "leading zeros"),
        ("example.com", "not an IPv4 or IPv6"),
        ("1" * 65, "enter one"),
        ("<script>alert(1)</script>", "single address"),
        ("192.0.2.1\x00", "not an IPv4"),
    ],
    ids=["empty", "scoped", "cidr", "range", "octal", "name", "huge", "markup", "nul"],
)
def test_bad_ip_is_refused_with_the_reason(text: str, words: str) -> None:
    with pytest.raises(InputError, match=words):
        parse_public_ip(text)


def test_nul_byte_is_shown_escaped() -> None:
    with pytest.raises(InputError, match=r"\\x00"):
        parse_public_ip("192.0.2.1\x00")


@pytest.mark.parametrize("email", ["postmaster@example.net", " a.b+c@mail.example.org "])
def test_email_shape_is_accepted(email: str) -> None:
    assert check_email(email) == email.strip()


@pytest.mark.parametrize(
    "email",
    ["", "no-at-sign", "a@b", "a b@example.net", "<x>@example.net", "a@" + "x" * 260 + ".net"],
)
def test_bad_email_is_refused(email: str) -> None:
    with pytest.raises(InputError, match="e-mail"):
        check_email(email)


def test_text_limits() -> None:
    assert check_text("note", " fixed\r\nnow ", 100) == "fixed\nnow"
    assert check_text("note", "", 100, required=False) == ""
    with pytest.raises(InputError, match="empty"):
        check_text("explanation", "  ", 100)
    with pytest.raises(InputError, match="at most 5"):
        check_text("explanation", "123456", 5)
    with pytest.raises(InputError, match="control characters"):
        check_text("explanation", "bell\x07", 100)
