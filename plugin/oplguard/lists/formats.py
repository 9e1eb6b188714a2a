"""List file formats: plain, rbldnsd ip4set and ip6tset text into list entries.

Pure: text in, rows out.  A bad line raises ListError naming the file, the line
and what to write instead; nothing is guessed and nothing skipped silently.
"""

from __future__ import annotations

import re
from array import array
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from functools import lru_cache
from typing import overload

from oplguard.errors import ListError
from oplguard.lists.ipset import Span, ip4set_span, ip6tset_span, octets, span_of, span_text

FORMATS = ("plain", "ip4set", "ip6tset")
# Keys a plain line may carry between the network and the reason.
DATE_KEYS = ("since", "expires")
# rbldnsd(8) "Special Entries": $SOA, $NS, $TTL, $TIMESTAMP, $n ... and ":$" lines.
SPECIAL_PREFIXES = ("$", ":$")
RBLDNSD_COMMENTS = ("#", ";")
# Distinct dates in one list are few (listing days): cache their parsing.
DATE_CACHE_SIZE = 4096
V4_FIX = "write 192.0.2.7, 192.0.2.0/24 or 192.0.2.7-192.0.2.9"
_COMMENT = re.compile(r"\s#")  # plain: "#" starts a comment after whitespace
_KEY = re.compile(r"([A-Za-z_]+)=(\S*)")  # any such word: a typo must not hide
_SHORT_PREFIX = re.compile(r"[0-9]{1,3}(\.[0-9]{1,3}){0,2}")
_IP4SET_END = re.compile(r"[\s#;]")  # an ip4set network ends at space or comment
_LOW64 = (1 << 64) - 1


@dataclass(frozen=True, slots=True)
class ListEntry:
    """One line of a list file.

    Attributes:
        network: canonical ``a``, ``net/len`` or ``a-b`` text.
        reason: why it is listed (plain: the rest of the line; rbldnsd: TXT).
        listed_since: ISO date or datetime, or None.
        expires: ISO date or datetime (UTC when written without zone), or None.
        line: 1-based line number in the file.
        is_exclusion: an rbldnsd-style ``!`` entry that carves a hole.
    """

    network: str
    reason: str
    listed_since: str | None = None
    expires: str | None = None
    line: int = 0
    is_exclusion: bool = False

    def expires_at(self) -> datetime | None:
        """The expiry as an aware datetime (a date means its first second, UTC)."""
        return None if self.expires is None else moment(self.expires)

    def is_expired(self, now: datetime) -> bool:
        return self.expires is not None and moment(self.expires) <= now


Row = tuple[Span, str, str | None, str | None, bool]
"""One parsed line: (span, reason, listed since, expires, is_exclusion)."""
LineParser = Callable[[str], Row | None]
Splitter = Callable[[str], tuple[str, str]]  # line -> (network, value)
SpanParser = Callable[[str, bool], Span]  # (network, is_exclusion) -> span


class EntryTable(Sequence[ListEntry]):
    """A list's entries in columns, ~50 bytes an entry; a ListEntry is made on access.

    A million ListEntry objects cost ~170 MB; arrays plus one copy of each
    distinct reason and date cost under a third of that.  Filled while a list
    loads (``append``, then ``finish``), never changed after.
    """

    __slots__ = ("_bounds", "_ids", "_lines", "_strings", "_texts", "_versions", "is_exclusion")

    def __init__(self, is_exclusion: bool = False) -> None:
        self.is_exclusion = is_exclusion
        self._versions: array[int] = array("B")
        self._bounds = tuple(array("Q") for _ in range(4))  # first hi/lo, last hi/lo
        self._texts = tuple(array("I") for _ in range(3))  # reason, since, expires ids
        self._lines: array[int] = array("I")
        self._ids: dict[str | None, int] = {None: 0}  # distinct text -> id, while loading
        self._strings: tuple[str | None, ...] = ()  # id -> text, once finished

    def append(self, number: int, row: Row) -> None:
        (version, first, last), reason, since, expires, _ = row
        first_hi, first_lo, last_hi, last_lo = self._bounds
        ids = self._ids
        self._versions.append(version)
        first_hi.append(first >> 64)
        first_lo.append(first & _LOW64)
        last_hi.append(last >> 64)
        last_lo.append(last & _LOW64)
        reasons, sinces, expiries = self._texts
        reasons.append(ids.setdefault(reason, len(ids)))
        sinces.append(ids.setdefault(since, len(ids)))
        expiries.append(ids.setdefault(expires, len(ids)))
        self._lines.append(number)

    def finish(self) -> EntryTable:
        """End loading: the texts become a tuple in id order.  Returns self."""
        self._strings, self._ids = tuple(self._ids), {}
        return self

    def __len__(self) -> int:
        return len(self._lines)

    @overload
    def __getitem__(self, index: int) -> ListEntry: ...
    @overload
    def __getitem__(self, index: slice) -> Sequence[ListEntry]: ...
    def __getitem__(self, index: int | slice) -> ListEntry | Sequence[ListEntry]:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        first_hi, first_lo, last_hi, last_lo = self._bounds
        span = (
            self._versions[index],
            first_hi[index] << 64 | first_lo[index],
            last_hi[index] << 64 | last_lo[index],
        )
        reason, since, expires = (self._strings[column[index]] for column in self._texts)
        return ListEntry(
            span_text(span), reason or "", since, expires, self._lines[index], self.is_exclusion
        )

    def __iter__(self) -> Iterator[ListEntry]:
        return (self[i] for i in range(len(self)))


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
    if fmt not in PARSERS:
        raise ListError(f"unknown list format {fmt!r}; use one of: {', '.join(FORMATS)}", path=path)
    parse = PARSERS[fmt](text, path)
    for number, raw in enumerate(lines_of(text), start=1):
        try:
            row = parse(raw)
        except ValueError as err:
            raise ListError(str(err), path=path, line=number) from err
        if row is not None:
            yield number, row


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
def moment(text: str) -> datetime:
    """An ISO date or datetime as an aware datetime (no zone given: UTC)."""
    value = datetime.fromisoformat(text)
    return value if value.tzinfo else value.replace(tzinfo=UTC)


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


def _plain(text: str, path: str) -> LineParser:
    del text, path
    return _plain_line


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
        return span_of(text)
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

    return parse


def _ip4set_split(line: str) -> tuple[str, str]:
    network = _IP4SET_END.split(line, maxsplit=1)[0]
    if ":" in network and "." in network.partition(":")[0]:
        network = network.partition(":")[0]  # 1.2.3.4:2:text, value right after
    return network, line[len(network) :].strip()


def _ip4set(text: str, path: str) -> LineParser:
    del text, path
    return _rbldnsd(_Values(), _ip4set_split, lambda net, _: ip4set_span(net), scoped=True)


def _ip6tset(text: str, path: str) -> LineParser:
    # rbldnsd: the first ":A:TXT" line is the value of the whole dataset.  A
    # value on an entry's own line is an extension: rbldnsd ignores it, we keep
    # it as that entry's reason.
    values = _Values()
    for number, raw in enumerate(lines_of(text), start=1):
        line = raw.strip()
        if line.startswith(":") and not line.startswith(SPECIAL_PREFIXES):
            try:
                values.default_txt = values.txt(line)
            except ValueError as err:
                raise ListError(str(err), path=path, line=number) from err
            break
    return _rbldnsd(values, _head, ip6tset_span, scoped=False)


PARSERS: dict[str, Callable[[str, str], LineParser]] = {
    "plain": _plain,
    "ip4set": _ip4set,
    "ip6tset": _ip6tset,
}


def request_span(text: str, fmt: str) -> Span:
    """The interval of a network named in an add or remove request.

    Standard ``a``, ``net/len`` or ``a-b`` text; ip4set lists also take their
    short forms (``1.2.3`` = 1.2.3.0/24).

    Raises:
        ValueError: not a network.
    """
    try:
        return span_of(text.strip())
    except ValueError:
        if fmt != "ip4set":
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
    if fmt == "plain":
        return _write_plain(span, reason, since, expires, is_exclusion)
    if since or expires:
        raise ValueError(f"{fmt} lines carry no dates; use format plain for since= and expires=")
    family, other = (4, "ip6tset") if fmt == "ip4set" else (6, "ip4set")
    if span[0] != family:
        raise ValueError(f"{fmt} lists IPv{family} only; add it to an {other} or plain list")
    network = span_text(span) if fmt == "ip4set" else _ip6tset_words(span, is_exclusion)
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
