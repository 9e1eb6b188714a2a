"""The tracking record's cheap sender reading is the same as the full header parse."""

from __future__ import annotations

from email.utils import parseaddr

from hypothesis import example, given, settings
from hypothesis import strategies as st

from oplguard.mail.headers import header_fields, values_of
from oplguard.tracking.record import COLUMNS, TrackRecord, address_of, sender_fields

NAMES = st.sampled_from(["From", "from", "FROM ", "Return-Path", "return-path", "To", "X-From"])
TEXT = st.text(alphabet=' \t\r\n<>@."(),:;abcAB1_-+é\\[]', max_size=30)
LINES = st.lists(
    st.one_of(
        st.tuples(NAMES, TEXT).map(lambda f: f"{f[0]}:{f[1]}"),
        TEXT.map(lambda t: " " + t),  # a continuation line
        TEXT,  # anything
    ),
    max_size=8,
)


@given(LINES, st.sampled_from(["\r\n", "\n"]))
@example(["From: a", "From: b", "Return-Path: <x@y>"], "\r\n")
@example(["From:", "From: b"], "\n")
@example(["From: Bob\r\r", "\t<bob@example.com>\r"], "\r\n")
@settings(max_examples=400)
def test_sender_fields_are_the_first_values_header_fields_finds(
    lines: list[str], newline: str
) -> None:
    message = (newline.join(lines) + newline + newline + "body").encode("latin-1")
    fields = header_fields(message)
    want = tuple(next(iter(values_of(fields, name)), "") for name in ("Return-Path", "From"))
    assert sender_fields(fields) == want


ATOM = st.text(alphabet="abcXYZ019!#$%&'*+/=?^_`{|}~-", min_size=1, max_size=6)
ADDRESS = st.tuples(ATOM, ATOM, ATOM).map(lambda p: f"{p[0]}.{p[1]}@{p[2]}.example")
NAME = st.text(alphabet=" \tabcAB1é-'.\"(),<>@", max_size=12)


@given(st.one_of(ADDRESS, ADDRESS.map(lambda a: f"<{a}>"), st.tuples(NAME, ADDRESS).map(
    lambda p: f"{p[0]} <{p[1]}>".strip()), st.text(max_size=30)))  # fmt: skip
@example("Bob Smith <bob@example.com>")
@example("<>")
@example('"Bob, Smith" <bob@example.com>')
@example("bob@example.com (Bob)")
@example("a..b@example.com")
@settings(max_examples=600)
def test_address_of_reads_like_parseaddr(value: str) -> None:
    assert address_of(value) == parseaddr(value)[1]


def test_record_fields_line_up_with_the_table_columns() -> None:
    assert TrackRecord._fields[:14] == COLUMNS[1:15]
    assert COLUMNS[0] == "record_id" and COLUMNS[15] == "detail" and len(COLUMNS) == 16
