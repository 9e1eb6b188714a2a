"""ListStore: load fails loudly, reload keeps the last good list, edits rewrite atomically."""

from __future__ import annotations

import os
import re
from datetime import UTC, datetime
from pathlib import Path

import pytest

from oplguard.config.model import ListConfig
from oplguard.errors import ListError
from oplguard.lists.block import BlockList, ListHit, ListSnapshot, load_list
from oplguard.lists.edit import write_atomic
from oplguard.lists.entries import ListEntry
from oplguard.lists.store import ListStore

OPL = """\
# Open Proxy List, kept by hand
192.0.2.0/24   since=2026-01-10  Proxy reseller range
192.0.2.99     since=2026-09-14  Open HTTP proxy on port 8080   # seen by the scanner
!192.0.2.50    partner relay, not a proxy
2001:db8:bad::/48  IPv6 proxy farm
"""
ZOMBIES = "198.51.100.130  expires=2031-01-04  Infected host\n192.0.2.99  Zombie too\n"


def config(tmp_path: Path, name: str, text: str | bytes, fmt: str = "plain") -> ListConfig:
    path = tmp_path / f"{name}.txt"
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    category = {"opl": "open-proxy", "zombies": "zombie"}.get(name, "spam-source")
    return ListConfig(name, path, category, fmt)


def touch_later(path: Path, text: str) -> None:
    """Rewrite ``path`` with a later mtime, so the change shows even on coarse clocks."""
    stamp = path.stat().st_mtime_ns
    path.write_text(text, encoding="utf-8")
    os.utime(path, ns=(stamp + 10**9, stamp + 10**9))


@pytest.fixture
def store(tmp_path: Path) -> ListStore:
    lists = ListStore([config(tmp_path, "opl", OPL), config(tmp_path, "zombies", ZOMBIES)])
    lists.load()
    return lists


def test_snapshot_lookup_hits_every_list_in_config_order(store: ListStore) -> None:
    hits = store.snapshot.lookup("192.0.2.99")
    assert [(h.list_name, h.category, h.entry.reason) for h in hits] == [
        ("opl", "open-proxy", "Open HTTP proxy on port 8080"),
        ("zombies", "zombie", "Zombie too"),
    ]
    assert hits[0].entry.listed_since == "2026-09-14"
    assert hits[0].entry.line == 3


def test_block_list_answers_most_specific_entry_and_holes(store: ListStore) -> None:
    opl = store.snapshot.get("opl")
    assert isinstance(opl, BlockList)
    assert opl.lookup("192.0.2.7") == ListEntry(
        "192.0.2.0/24", "Proxy reseller range", "2026-01-10", None, 2
    )
    assert opl.lookup("192.0.2.50") is None
    assert opl.lookup("::ffff:192.0.2.99") is not None
    assert opl.lookup("2001:db8:bad::25") is not None
    assert opl.lookup("203.0.113.7") is None
    assert [e.network for e in opl.exclusions] == ["192.0.2.50"]
    assert len(opl.entries) == 3


def test_listed_networks_carve_out_exclusions(store: ListStore) -> None:
    opl = store.snapshot.get("opl")
    assert opl is not None
    pieces = [(str(net), entry.line) for net, entry in opl.listed()]
    assert ("192.0.2.50/32", 2) not in pieces
    assert ("192.0.2.48/31", 2) in pieces
    assert ("192.0.2.51/32", 2) in pieces
    assert ("192.0.2.99/32", 3) in pieces
    assert ("2001:db8:bad::/48", 5) in pieces


def test_entries_are_a_compact_sequence_of_list_entries(store: ListStore) -> None:
    opl = store.snapshot.get("opl")
    assert opl is not None
    expected = [
        ListEntry("192.0.2.0/24", "Proxy reseller range", "2026-01-10", None, 2),
        ListEntry("192.0.2.99", "Open HTTP proxy on port 8080", "2026-09-14", None, 3),
        ListEntry("2001:db8:bad::/48", "IPv6 proxy farm", None, None, 5),
    ]
    assert list(opl.entries) == expected
    assert list(opl.entries[1:]) == expected[1:]
    assert opl.entries[-1] == expected[-1]
    assert list(opl.exclusions) == [
        ListEntry("192.0.2.50", "partner relay, not a proxy", None, None, 4, is_exclusion=True)
    ]
    with pytest.raises(IndexError):
        opl.entries[3]


def test_expired_entries_are_left_out_at_load_and_at_lookup(tmp_path: Path) -> None:
    text = "192.0.2.1  expires=2026-01-01  old\n192.0.2.2  expires=2027-06-01  current\n"
    listed = load_list(config(tmp_path, "opl", text), now=datetime(2026, 11, 1, tzinfo=UTC))
    assert [e.network for e in listed.entries] == ["192.0.2.2"]
    assert listed.lookup("192.0.2.1") is None
    assert listed.lookup("192.0.2.2", now=datetime(2027, 5, 31, tzinfo=UTC)) is not None
    assert listed.lookup("192.0.2.2", now=datetime(2027, 6, 1, tzinfo=UTC)) is None
    snapshot = ListSnapshot((listed,))
    assert snapshot.lookup("192.0.2.2", now=datetime(2027, 7, 1, tzinfo=UTC)) == ()


def test_lookup_of_a_non_address_raises(store: ListStore) -> None:
    with pytest.raises(ValueError, match="not an IPv4 or IPv6 address"):
        store.snapshot.lookup("unknown")


def test_missing_file_names_path_and_os_reason(tmp_path: Path) -> None:
    with pytest.raises(ListError) as caught:
        load_list(ListConfig("opl", tmp_path / "nowhere.txt"))
    assert str(caught.value) == (
        f"{tmp_path / 'nowhere.txt'}: cannot read list file: No such file or directory"
    )


def test_directory_instead_of_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ListError, match="cannot read list file: Is a directory"):
        load_list(ListConfig("opl", tmp_path))


def test_load_fails_loudly_on_the_first_bad_list(tmp_path: Path) -> None:
    lists = ListStore(
        [config(tmp_path, "opl", OPL), config(tmp_path, "zombies", "192.0.2.1\n10.0.0.1/8\n")]
    )
    with pytest.raises(ListError, match=r"zombies\.txt:2: host bits set in 10\.0\.0\.1/8"):
        lists.load()
    assert lists.snapshot.lists == ()


def test_reload_keeps_the_last_good_list_and_swaps_when_fixed(
    store: ListStore, tmp_path: Path
) -> None:
    before = store.snapshot
    zombies = before.get("zombies")
    touch_later(tmp_path / "opl.txt", OPL + "192.0.2.300 typo\n")
    assert store.changed_files() == [tmp_path / "opl.txt"]

    errors = store.reload()

    assert len(errors) == 1
    assert errors[0].startswith(f"{tmp_path / 'opl.txt'}:6: '192.0.2.300' is not")
    assert store.snapshot is not before
    assert store.snapshot.get("opl") is before.get("opl")  # last good version kept
    assert store.snapshot.get("zombies") is zombies  # unchanged file: not re-read
    assert store.changed_files() == []  # a broken file is reported once, not every poll

    touch_later(tmp_path / "opl.txt", OPL + "203.0.113.66 Open SOCKS proxy\n")
    assert store.reload() == []
    assert store.snapshot.lookup("203.0.113.66")[0].entry.reason == "Open SOCKS proxy"
    assert before.lookup("203.0.113.66") == ()  # a reader's old snapshot never changes


def test_reload_of_a_deleted_file_keeps_the_list(store: ListStore, tmp_path: Path) -> None:
    (tmp_path / "zombies.txt").unlink()
    assert store.changed_files() == [tmp_path / "zombies.txt"]
    errors = store.reload()
    assert errors == [
        f"{tmp_path / 'zombies.txt'}: cannot read list file: No such file or directory"
    ]
    assert store.snapshot.lookup("198.51.100.130")[0].list_name == "zombies"


def test_forced_reload_reads_every_file(store: ListStore) -> None:
    before = store.snapshot.get("zombies")
    assert store.reload(force=True) == []
    assert store.snapshot.get("zombies") is not before


def test_changed_files_before_any_load(tmp_path: Path) -> None:
    lists = ListStore([config(tmp_path, "opl", OPL)])
    assert lists.changed_files() == [tmp_path / "opl.txt"]
    assert lists.reload() == []
    assert lists.changed_files() == []


def test_add_entry_appends_and_reloads_keeping_every_other_byte(
    store: ListStore, tmp_path: Path
) -> None:
    path = tmp_path / "opl.txt"
    path.chmod(0o640)
    added = store.add_entry(
        "opl", "203.0.113.66", "Open SOCKS proxy on port 1080", since="2026-10-02"
    )
    assert added == ListEntry(
        "203.0.113.66", "Open SOCKS proxy on port 1080", "2026-10-02", None, 6
    )
    assert (
        path.read_text() == OPL + "203.0.113.66  since=2026-10-02  Open SOCKS proxy on port 1080\n"
    )
    assert path.stat().st_mode & 0o777 == 0o640
    assert store.snapshot.lookup("203.0.113.66") == (ListHit("opl", "open-proxy", added),)
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []
    assert store.changed_files() == []


@pytest.mark.skipif(os.geteuid() != 0, reason="only root can give a file away")
def test_rewrite_keeps_the_owner(store: ListStore, tmp_path: Path) -> None:
    os.chown(tmp_path / "opl.txt", 4242, 4343)
    store.add_entry("opl", "203.0.113.66", "Open SOCKS proxy")
    info = (tmp_path / "opl.txt").stat()
    assert (info.st_uid, info.st_gid) == (4242, 4343)


def test_add_exclusion_delists_one_address_of_a_range(store: ListStore) -> None:
    store.add_entry("opl", "192.0.2.7", "delisted on request 2026-11-20", is_exclusion=True)
    assert store.snapshot.lookup("192.0.2.7") == ()
    assert store.snapshot.lookup("192.0.2.8")[0].entry.network == "192.0.2.0/24"


@pytest.mark.parametrize(
    ("name", "network", "expires", "message"),
    [
        ("opl", "192.0.2.99", None, "192.0.2.99 is already on line 3; remove it first"),
        ("opl", "192.0.2.1/24", None, "host bits set in 192.0.2.1/24"),
        ("opl", "192.0.2.1", "never", "bad expires date 'never'"),
        ("nope", "192.0.2.1", None, "unknown list 'nope'; configured lists: opl, zombies"),
    ],
    ids=["duplicate", "host-bits", "bad-date", "unknown-list"],
)
def test_add_entry_refusals_leave_the_file_alone(
    store: ListStore, tmp_path: Path, name: str, network: str, expires: str | None, message: str
) -> None:
    with pytest.raises(ListError, match=re.escape(message)):
        store.add_entry(name, network, "x", expires=expires)
    assert (tmp_path / "opl.txt").read_text() == OPL


def test_remove_entry_drops_only_its_line(store: ListStore, tmp_path: Path) -> None:
    removed = store.remove_entry("opl", "192.0.2.99")
    assert [e.line for e in removed] == [3]
    lines = OPL.splitlines(keepends=True)
    assert (tmp_path / "opl.txt").read_text() == "".join(lines[:2] + lines[3:])
    assert store.snapshot.lookup("192.0.2.99")[0].entry.reason == "Proxy reseller range"


def test_remove_entry_of_a_covered_address_points_to_the_range(store: ListStore) -> None:
    with pytest.raises(
        ListError, match=re.escape("covered by 192.0.2.0/24 (line 2): add an exclusion")
    ):
        store.remove_entry("opl", "192.0.2.7")


def test_remove_entry_leaves_exclusions_unless_asked(store: ListStore) -> None:
    with pytest.raises(ListError, match=re.escape("192.0.2.50 is not an entry of list 'opl'")):
        store.remove_entry("opl", "192.0.2.50")
    store.remove_entry("opl", "192.0.2.50", is_exclusion=True)
    assert store.snapshot.lookup("192.0.2.50")[0].entry.network == "192.0.2.0/24"


def test_rewrite_keeps_crlf_and_undecodable_bytes(tmp_path: Path) -> None:
    raw = b"# caf\xe9 list\r\n192.0.2.1  bad \xff byte\r\n192.0.2.2  second\r\n"
    lists = ListStore([config(tmp_path, "opl", raw)])
    lists.load()
    lists.remove_entry("opl", "192.0.2.2")
    lists.add_entry("opl", "192.0.2.3", "third")
    expected = b"# caf\xe9 list\r\n192.0.2.1  bad \xff byte\r\n192.0.2.3  third\r\n"
    assert (tmp_path / "opl.txt").read_bytes() == expected
    assert lists.snapshot.lookup("192.0.2.1")[0].entry.reason == "bad \ufffd byte"


def test_rbldnsd_files_are_edited_in_their_own_syntax(tmp_path: Path) -> None:
    ip4 = config(tmp_path, "opl", ":127.0.0.2:Open proxy\n192.0.2.99\n", "ip4set")
    ip6 = config(tmp_path, "v6", ":127.0.0.2:Listed /64\n2001:db8:1:2\n", "ip6tset")
    lists = ListStore([ip4, ip6])
    lists.load()
    assert lists.add_entry("opl", "198.51.100", "zombie net").network == "198.51.100.0/24"
    lists.add_entry("v6", "2001:db8:1:3::/64")
    lists.add_entry("v6", "2001:db8:1:2::7", is_exclusion=True)
    assert ip4.path.read_text().splitlines()[-1] == "198.51.100.0/24 zombie net"
    assert ip6.path.read_text().splitlines()[-2:] == ["2001:db8:1:3", "!2001:db8:1:2::7"]
    assert lists.snapshot.lookup("2001:db8:1:3::1")[0].entry.reason == "Listed /64"
    assert lists.snapshot.lookup("2001:db8:1:2::7") == ()
    with pytest.raises(ListError, match="ip4set lines carry no dates"):
        lists.add_entry("opl", "192.0.2.1", "x", expires="2027-01-01")


def test_write_atomic_failure_names_the_file(tmp_path: Path) -> None:
    with pytest.raises(ListError, match="cannot rewrite list file: No such file or directory"):
        write_atomic(tmp_path / "missing" / "opl.txt", b"192.0.2.1\n")
