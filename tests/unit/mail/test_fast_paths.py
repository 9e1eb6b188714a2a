"""Integer fast paths of mail/addresses.py give the ipaddress answers."""

from __future__ import annotations

import random

import pytest

from oplguard.mail import addresses


@pytest.mark.parametrize(
    "ip",
    ["10.1.2.3", "127.0.0.1", "169.254.1.1", "172.31.255.255", "172.32.0.0", "192.168.0.1",
     "100.64.0.0", "100.128.0.0", "0.0.0.0", "224.0.0.1", "255.255.255.255", "198.18.0.1",
     "203.0.113.66", "8.8.8.8"],
)  # fmt: skip
def test_integer_fast_path_agrees_with_ipaddress(ip: str) -> None:
    """skip_reason / is_private / canonical_ip read plain quads as integers; same answers."""
    address = addresses.parse_ip(ip)
    assert address is not None
    assert addresses.skip_reason(ip) == addresses._match(address, addresses._SKIP)
    assert addresses.is_private(ip) == (addresses._match(address, addresses._PRIVATE) is not None)
    assert addresses.canonical_ip(ip) == str(address)


def _reference_clean(value: str) -> str:
    """received.clean before its fast path: always collapse white space."""
    from oplguard.mail.received import _SPACES, MAX_RECEIVED_CHARS

    text = _SPACES.sub(" ", value[:MAX_RECEIVED_CHARS]).strip(" ")
    while text.endswith(";"):
        text = text[:-1]
        if text.endswith(" "):
            text = text[:-1]
    return text


@pytest.mark.parametrize(
    "value",
    ["from a by b; Tue, 1 Oct", "from a  by b", "from a\tby b ;", " from\r\na by b\x0b;; ",
     "from a by b\x0c", "plain"],
)  # fmt: skip
def test_clean_fast_path_is_the_reference(value: str) -> None:
    from oplguard.mail.received import clean

    assert clean(value) == _reference_clean(value)


def test_clean_fast_path_on_the_corpus() -> None:
    from tests.unit.mail.corpus import samples, unfolded

    from oplguard.mail.received import clean

    for sample in samples():
        value = unfolded(sample.value)
        assert clean(value) == _reference_clean(value), sample


SUBSTRING_GATED = [
    "from a ([1.2.3.4] helo=x.example) by b", "from a (HELO x) (1.2.3.4) by b",
    "from a (EHLO x) by b", "from a (ehlo x) by b", "from a by b with local for c",
    "from a by b with local for", "from a by b with local fork",
    "from a (Envelope-From <x@y>) by b", "from a (RETURN-PATH: <x@y>) by b",
    "from a (envelope-sender=x@y) by b",
    "from a (\u0130nvelope-from x) by b", "from a (\u212aenvelope-from x) by b",
]  # fmt: skip


def _assert_gates_agree(text: str) -> None:
    from oplguard.mail import received as r

    def span(found: object) -> object:
        return found.span() if hasattr(found, "span") else found

    assert span(r._helo(text)) == span(r._HELO_EQ.search(text) or r._HELO_WORD.search(text))
    assert span(r._envfrom(text)) == span(r._ENVFROM.search(text))
    assert r._with_local_for(text) == (r._WITH_LOCAL_FOR.search(text) is not None)


@pytest.mark.parametrize("text", SUBSTRING_GATED)
def test_substring_gates_give_the_regex_answers(text: str) -> None:
    """_helo, _envfrom, _with_local_for test a literal before the regex; same answers."""
    _assert_gates_agree(text)


def test_substring_gates_on_the_corpus() -> None:
    from tests.unit.mail.corpus import samples, unfolded

    from oplguard.mail import received as r

    for sample in samples():
        text = r.clean(unfolded(sample.value))
        _assert_gates_agree(text)
        _assert_gates_agree(text.removeprefix("from "))


def _reference_strip_date(text: str) -> str:
    """received.strip_date before its fast path: search the whole window."""
    from oplguard.mail.received import _DATE, DATE_WINDOW_CHARS

    date = _DATE.search(text, max(0, len(text) - DATE_WINDOW_CHARS))
    if date is not None:
        start = date.start()
        while start > 0 and text[start - 1] in " ;":
            start -= 1
        text = text[:start]
    return text.replace(")by ", ") by ", 1)


DATE_GLUE = [" ", "  ", "; ", ";", " ;", "\t", "\n", ""]
DATE_PARTS = [["Tue,", ""], ["1", "01", "x"], ["Oct", "Okt"], ["2024"], ["10:00:01", "10:00"],
              ["+0000", "GMT"], ["", "(UTC)", "x y"]]  # fmt: skip


def _random_field(rng: random.Random) -> str:
    """A field ending in a date or something close to one."""
    tokens = [rng.choice(choices) for choices in DATE_PARTS]
    tokens = [t for t in tokens if t and rng.random() < 0.95]
    glue = [" " if rng.random() < 0.85 else rng.choice(DATE_GLUE) for _ in tokens]
    tail = "".join(token + space for token, space in zip(tokens, glue, strict=True))
    tail = tail.rstrip(" ") if rng.random() < 0.9 else tail
    head = "from a by b" + " x" * rng.randrange(8) + rng.choice(DATE_GLUE)
    if rng.random() < 0.1:
        head = "y" * rng.randrange(200, 260) + head
    return head + tail


def test_strip_date_fast_path_on_random_fields() -> None:
    """The date search starts late when it can; same answers as the whole window."""
    from oplguard.mail.received import strip_date

    rng = random.Random(5)
    for _ in range(20000):
        text = _random_field(rng)
        assert strip_date(text) == _reference_strip_date(text), text


def test_strip_date_fast_path_on_the_corpus() -> None:
    from tests.unit.mail.corpus import samples, unfolded

    from oplguard.mail.received import clean, strip_date

    for sample in samples():
        text = clean(unfolded(sample.value))
        assert strip_date(text) == _reference_strip_date(text), sample
