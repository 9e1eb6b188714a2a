"""List file formats: plain, rbldnsd ip4set and ip6tset text into list entries.

Pure: text in, rows out.  A bad line raises ListError naming the file, the line
and what to write instead; nothing is guessed and nothing skipped silently.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import date
from functools import lru_cache

from oplguard.config.vocabulary import ListFormat
from oplguard.errors import ListError
from oplguard.ipaddr import Span, parse_span, span_text
from oplguard.lists.entries import DATE_CACHE_SIZE, ListEntry, moment
from oplguard.lists.ipset import ip4set_span, ip6tset_span, octets

# Keys a plain line may carry between the network and the reason.
DATE_KEYS = ("since", "expires")
# rbldnsd(8) "Special Entries": $SOA, $NS, $TTL, $TIMESTAMP, $n ... and ":$" lines.
SPECIAL_PREFIXES = ("$", ":$")
RBLDNSD_COMMENTS = ("#", ";")
V4_FIX = "write 192.0.2.7, 192.0.2.0/24 or 192.0.2.7-192.0.2.9"
_COMMENT = re.compile(r"\s#")  # plain: "#" starts a comment after whitespace
_KEY = re.compile(r"([A-Za-z_]+)=(\S*)")  # any such word: a typo must not hide
_SHORT_PREFIX = re.compile(r"[0-9]{1,3}(\.[0-9]{1,3}){0,2}")
_IP4SET_END = re.compile(r"[\s#;]")  # an ip4set network ends at space or comment

__all__ = ["LineParser", "Row", "moment", "parse_text"]


Row = tuple[Span, str, str | None, str | None, bool]
"""One parsed line: (span, reason, listed since, expires, is_exclusion)."""
Splitter = Callable[[str], tuple[str, str]]  # line -> (network, value)
SpanParser = Callable[[str, bool], Span]  # (network, is_exclusion) -> span


def decode(data: bytes) -> str:
    """File bytes as text: UTF-8 (BOM dropped); bad bytes become U+FFFD, never an error."""
    return data.decode("utf-8-sig", errors="replace")


def lines_of(text: str) -> Iterator[str]:
    """Lines ended by LF only (a reason may hold other separators), CR dropped."""
    start, size = 0, len(text)
    while start < size:
        end = text.find("\n", start)
        end = size if end < 0 else end
        yield text[start:end].removesuffix("\r")
        start = end + 1


def iter_rows(text: str, fmt: str, path: str = "") -> Iterator[tuple[int, Row]]:
    """(line number, row) of every entry in a list file, in file order.

    Raises:
        ListError: on the first bad line, naming ``path``, the line and the fix.
    """
    parse = line_parser(fmt, lines_of(text), path)
    for number, raw in enumerate(lines_of(text), start=1):
        try:
            row = parse(raw)
        except ValueError as err:
            raise ListError(str(err), path=path, line=number) from err
        if row is not None:
            yield number, row


def line_parser(fmt: str, head: Iterable[str], path: str = "") -> LineParser:
    """The parser for the lines of one ``fmt`` file, in file order.

    ``head`` is the file's lines, read only as far as the format needs (ip6tset:
    to its first value line).

    Raises:
        ListError: unknown format, or a bad line in ``head``.
    """
    if fmt not in PARSERS:
        raise ListError(
            f"unknown list format {fmt!r}; use one of: {', '.join(ListFormat)}", path=path
        )
    return PARSERS[fmt](head, path)


def parse_text(text: str, fmt: str, path: str = "") -> list[tuple[ListEntry, Span]]:
    """Every entry of a list file with its address interval.

    Raises:
        ListError: on the first bad line, naming ``path``, the line and the fix.
    """
    return [(entry_of(number, row), row[0]) for number, row in iter_rows(text, fmt, path)]


def entry_of(number: int, row: Row) -> ListEntry:
    span, reason, since, expires, is_exclusion = row
    return ListEntry(span_text(span), reason, since, expires, number, is_exclusion)


@lru_cache(maxsize=DATE_CACHE_SIZE)
def normalise_date(key: str, value: str) -> str:
    """``YYYY-MM-DD`` or an ISO datetime, as canonical text.

    Raises:
        ValueError: not an ISO date or datetime.
    """
    try:
        if len(value) == len("YYYY-MM-DD"):
            return date.fromisoformat(value).isoformat()
        return moment(value).isoformat()
    except ValueError:
        raise ValueError(
            f"bad {key} date {value!r}; write {key}=2027-04-02 or {key}=2027-04-02T12:00:00Z"
        ) from None


@dataclass(slots=True)
class LineParser:
    """Parses one line (None for a comment or a directive) and keeps the format's state.

    ``values.default_txt`` is the reason a line without one of its own gets at
    this point of the file (rbldnsd ``:A:TXT`` lines change it).

    Raises:
        ValueError: when called with a bad line (the caller adds file and line).
    """

    parse: Callable[[str], Row | None]
    values: _Values

    def __call__(self, raw: str) -> Row | None:
        return self.parse(raw)


def _plain(head: Iterable[str], path: str) -> LineParser:
    del head, path
    return LineParser(_plain_line, _Values())


def _plain_line(raw: str) -> Row | None:
    if "#" in raw:
        raw = _COMMENT.split(raw, maxsplit=1)[0]
    words = raw.split(None, 1)
    if not words or words[0].startswith("#"):
        return None
    network = words[0]
    rest = words[1].rstrip() if len(words) == 2 else ""
    is_exclusion = network.startswith("!")
    span = _plain_span(network.removeprefix("!"))
    dates: dict[str, str] = {}
    while rest and "=" in (head := rest.split(None, 1))[0]:
        match = _KEY.fullmatch(head[0])
        if match is None:
            break
        key, value = match.groups()
        if key not in DATE_KEYS:
            raise ValueError(f"unknown key {key!r}; write since=YYYY-MM-DD or expires=YYYY-MM-DD")
        dates[key] = normalise_date(key, value)
        rest = head[1] if len(head) == 2 else ""
    return span, rest, dates.get("since"), dates.get("expires"), is_exclusion


def _head(text: str) -> tuple[str, str]:
    """First word and the rest of ``text`` (stripped)."""
    parts = text.split(None, 1)
    return (parts[0], parts[1].strip()) if len(parts) == 2 else (text.strip(), "")


def _plain_span(text: str) -> Span:
    try:
        return parse_span(text)
    except ValueError as err:
        if "write" in str(err):
            raise
        if _SHORT_PREFIX.fullmatch(text):  # rbldnsd's 1.2.3 = 1.2.3.0/24
            network = text + ".0" * (3 - text.count("."))
            bits = 8 * (text.count(".") + 1)
            raise ValueError(
                f"{text!r} is an rbldnsd short form; write {network}/{bits} (or use format ip4set)"
            ) from None
        raise ValueError(f"{err}; {V4_FIX}, or an IPv6 address, CIDR or range") from None


@dataclass(slots=True)
class _Values:
    """rbldnsd A/TXT values: the default TXT in scope applies to bare entries."""

    default_txt: str = ""

    def txt(self, value: str) -> str:
        """The TXT of ``:A:TXT``, ``:A`` (default TXT) or plain ``TXT``."""
        if not value.startswith(":"):
            return value
        a_value, colon, txt = value[1:].partition(":")
        if a_value and not _is_a_value(a_value):
            raise ValueError(
                f"bad A value {a_value!r}; write :127.0.0.2:reason, :2:reason or just reason"
            )
        return txt if colon else self.default_txt

    def entry_txt(self, value: str) -> str:
        """TXT of the value after an entry's network; none or a comment: the default."""
        if not value or value.startswith(RBLDNSD_COMMENTS):
            return self.default_txt
        return self.txt(value)


def _is_a_value(text: str) -> bool:
    try:
        return octets(text)[1] in (8, 32)  # rbldnsd: "2" means 127.0.0.2
    except ValueError:
        return False


def _rbldnsd(values: _Values, split: Splitter, span: SpanParser, scoped: bool) -> LineParser:
    """A line parser for rbldnsd datasets; ``scoped``: ":A:TXT" lines apply below them."""

    def parse(raw: str) -> Row | None:
        line = raw.strip()
        if not line or line.startswith(RBLDNSD_COMMENTS) or line.startswith(SPECIAL_PREFIXES):
            return None
        if line.startswith(":"):
            if scoped:
                values.default_txt = values.txt(line)
            return None
        is_exclusion = line.startswith("!")
        network, value = split(line.removeprefix("!").lstrip())
        found = span(network, is_exclusion)
        # An exclusion's value is ignored (rbldnsd(8)): it lists nothing.
        return found, "" if is_exclusion else values.entry_txt(value), None, None, is_exclusion

    return LineParser(parse, values)


def _ip4set_split(line: str) -> tuple[str, str]:
    network = _IP4SET_END.split(line, maxsplit=1)[0]
    if ":" in network and "." in network.partition(":")[0]:
        network = network.partition(":")[0]  # 1.2.3.4:2:text, value right after
    return network, line[len(network) :].strip()


def _ip4set(head: Iterable[str], path: str) -> LineParser:
    del head, path
    return _rbldnsd(_Values(), _ip4set_split, lambda net, _: ip4set_span(net), scoped=True)


def _ip6tset(head: Iterable[str], path: str) -> LineParser:
    # rbldnsd: the first ":A:TXT" line is the value of the whole dataset.  A
    # value on an entry's own line is an extension: rbldnsd ignores it, we keep
    # it as that entry's reason.
    values = _Values()
    for number, raw in enumerate(head, start=1):
        line = raw.strip()
        if line.startswith(":") and not line.startswith(SPECIAL_PREFIXES):
            try:
                values.default_txt = values.txt(line)
            except ValueError as err:
                raise ListError(str(err), path=path, line=number) from err
            break
    return _rbldnsd(values, _head, ip6tset_span, scoped=False)


PARSERS: dict[str, Callable[[Iterable[str], str], LineParser]] = {
    ListFormat.PLAIN: _plain,
    ListFormat.IP4SET: _ip4set,
    ListFormat.IP6TSET: _ip6tset,
}


def request_span(text: str, fmt: str) -> Span:
    """The interval of a network named in an add or remove request.

    Standard ``a``, ``net/len`` or ``a-b`` text; ip4set lists also take their
    short forms (``1.2.3`` = 1.2.3.0/24).

    Raises:
        ValueError: not a network.
    """
    try:
        return parse_span(text.strip())
    except ValueError:
        if fmt != ListFormat.IP4SET:
            raise
        return ip4set_span(text.strip())


def format_line(
    fmt: str,
    span: Span,
    reason: str,
    *,
    since: str | None = None,
    expires: str | None = None,
    is_exclusion: bool = False,
) -> str:
    """One new line for a list file of format ``fmt`` (no line break).

    Raises:
        ValueError: the entry cannot be written in that format.
    """
    reason = reason.strip()
    if "\n" in reason or "\r" in reason:
        raise ValueError("a reason is one line of text")
    if fmt == ListFormat.PLAIN:
        return _write_plain(span, reason, since, expires, is_exclusion)
    if since or expires:
        raise ValueError(f"{fmt} lines carry no dates; use format plain for since= and expires=")
    family, other = (4, "ip6tset") if fmt == ListFormat.IP4SET else (6, "ip4set")
    if span[0] != family:
        raise ValueError(f"{fmt} lists IPv{family} only; add it to an {other} or plain list")
    network = span_text(span) if fmt == ListFormat.IP4SET else _ip6tset_words(span, is_exclusion)
    if is_exclusion:
        return f"!{network}"
    # A value starting with ":", "#" or ";" would read as an A value or a comment.
    value = f"::{reason}" if reason.startswith((":", *RBLDNSD_COMMENTS)) else reason
    return f"{network} {value}".rstrip()


def _ip6tset_words(span: Span, is_exclusion: bool) -> str:
    """rbldnsd's own ip6tset text: four hex words for a /64, the address for a /128."""
    ip6tset_span(span_text(span), is_exclusion)  # raises unless a /64 (or /128 exclusion)
    if is_exclusion:
        return span_text(span)
    return ":".join(f"{(span[1] >> shift) & 0xFFFF:x}" for shift in (112, 96, 80, 64))


def _write_plain(
    span: Span, reason: str, since: str | None, expires: str | None, is_exclusion: bool
) -> str:
    if reason.startswith("#") or _COMMENT.search(reason):
        raise ValueError("a plain reason cannot hold ' #': the rest would read as a comment")
    if reason and _KEY.fullmatch(_head(reason)[0]):
        raise ValueError("a plain reason cannot start with key=value")
    words = [("!" if is_exclusion else "") + span_text(span)]
    for key, value in (("since", since), ("expires", expires)):
        if value:
            words.append(f"{key}={normalise_date(key, value)}")
    return "  ".join([*words, reason] if reason else words)
