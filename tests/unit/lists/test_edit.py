"""Edits of large lists without parsing the file, and the cross-process lock beside a list."""

from __future__ import annotations

import multiprocessing
import os
import threading
from datetime import UTC, datetime
from pathlib import Path

import pytest

from oplguard.config.model import ListConfig
from oplguard.errors import ListError
from oplguard.lists.block import load_list
from oplguard.lists.edit import locked
from oplguard.lists.spans import find
from oplguard.lists.store import ListStore

NOBODY = 65534
LIST = """\
# a list with both families, interleaved
192.0.2.1 one
2001:db8:1::/48 six
192.0.2.7 seven
192.0.2.0/28 a net holding .1 and .7
2001:db8:2::5 six alone
198.51.100.9 alone
"""


@pytest.fixture
def lists(tmp_path: Path) -> ListStore:
    path = tmp_path / "opl.txt"
    path.write_text(LIST)
    store = ListStore([ListConfig("opl", path, "open-proxy")], append_from_bytes=0)
    store.load()
    return store


def fresh(lists: ListStore, ip: str) -> bool:
    block = load_list(lists.configs[0])
    return block.lookup(ip, datetime.now(UTC)) is not None


def test_find_maps_columns_back_to_lines(lists: ListStore) -> None:
    entries = lists.snapshot.lists[0].entries
    columns = entries.columns  # type: ignore[attr-defined]
    exact, covering = find(columns, (4, 0xC0000207, 0xC0000207))
    assert [entries[i].line for i in exact] == [4] and covering == 1
    exact, covering = find(
        columns,
        (
            6,
            0x20010DB8000200000000000000000005,
        )
        * 1
        + (0x20010DB8000200000000000000000005,),
    )
    assert [entries[i].line for i in exact] == [6] and covering == 0
    assert find(columns, (4, 1, 1)) == ([], 0)


def test_add_on_a_large_list_appends_and_refuses_duplicates(lists: ListStore) -> None:
    path = lists.configs[0].path
    added = lists.add_entry("opl", "203.0.113.5", "new")
    assert (added.network, added.line) == ("203.0.113.5", 8)
    assert path.read_text() == LIST + "203.0.113.5  new\n"
    with pytest.raises(ListError, match="already on line 7"):
        lists.add_entry("opl", "198.51.100.9", "again")
    assert lists.changed_files() == [path]  # the loaded list learns it at the next reload
    lists.reload()
    with pytest.raises(ListError, match="already on line 8"):
        lists.add_entry("opl", "203.0.113.5", "again")


def test_remove_on_a_large_list_appends_an_exclusion(lists: ListStore) -> None:
    path = lists.configs[0].path
    (removed,) = lists.remove_entry("opl", "198.51.100.9")
    assert removed.line == 7
    assert path.read_text().endswith("\n!198.51.100.9  removed\n")
    assert lists.snapshot.lookup("198.51.100.9") == ()  # no reload needed
    assert lists.changed_files() == [] and not fresh(lists, "198.51.100.9")
    (six,) = lists.remove_entry("opl", "2001:db8:2::5")
    assert six.line == 6 and not fresh(lists, "2001:db8:2::5")


def test_remove_of_an_entry_inside_a_network_rewrites_the_file(lists: ListStore) -> None:
    """An exclusion would delist .7 from the /28 too; removing the line keeps it listed."""
    path = lists.configs[0].path
    lists.remove_entry("opl", "192.0.2.7")
    assert "192.0.2.7 seven" not in path.read_text() and "!" not in path.read_text()
    assert fresh(lists, "192.0.2.7")  # still inside 192.0.2.0/28


def test_the_lock_is_exclusive_across_descriptors_and_reentrant_per_thread(
    lists: ListStore,
) -> None:
    path = lists.configs[0].path
    errors: list[BaseException] = []

    def other_editor() -> None:
        try:
            with locked([path], timeout_s=0.1):
                pass
        except ListError as err:
            errors.append(err)

    with locked([path]), locked([path]):  # an approval, then its own edit: no self-deadlock
        thread = threading.Thread(target=other_editor)
        thread.start()
        thread.join()
        lists.add_entry("opl", "203.0.113.6")
    assert len(errors) == 1 and "held this lock" in str(errors[0])
    with locked([path], timeout_s=0.1):  # released: free again
        pass


def test_other_holders_follow_appended_exclusions_without_a_reload(
    lists: ListStore,
) -> None:
    other = ListStore(lists.configs, append_from_bytes=0)  # another process's view
    other.load()
    entries = other.snapshot.lists[0].entries
    lists.remove_entry("opl", "198.51.100.9")
    lists.exclude("opl", "192.0.2.3", "delisted")
    assert other.changed_files() == [lists.configs[0].path]
    assert other.reload() == []
    block = other.snapshot.lists[0]
    assert block.entries is entries  # followed the tail, did not reload
    assert block.lookup("198.51.100.9") is None and block.lookup("192.0.2.3") is None
    assert block.lookup("192.0.2.4") is not None and other.changed_files() == []


def test_a_rewrite_or_a_new_entry_is_reloaded_in_full(lists: ListStore) -> None:
    other = ListStore(lists.configs, append_from_bytes=0)
    other.load()
    path = lists.configs[0].path
    lists.add_entry("opl", "203.0.113.5", "new")
    other.reload()
    assert other.snapshot.lookup("203.0.113.5")  # an entry in the tail: loaded in full
    inode, size = path.stat().st_ino, path.stat().st_size
    with path.open("r+") as handle:  # rewritten in place: same inode, only !address added
        handle.write(path.read_text().replace("192.0.2.1 one", "192.0.2.2 two") + "!192.0.2.9\n")
    assert (path.stat().st_ino, path.stat().st_size) == (inode, size + len("!192.0.2.9\n"))
    other.reload()
    assert other.snapshot.lookup("192.0.2.2")[0].entry.reason == "two"


def test_consecutive_adds_need_no_reload_and_still_refuse_duplicates(lists: ListStore) -> None:
    first = lists.add_entry("opl", "203.0.113.5", "new")
    second = lists.add_entry("opl", "203.0.113.6", "new")
    assert (first.line, second.line) == (8, 9)
    with pytest.raises(ListError, match="added since the list was loaded"):
        lists.add_entry("opl", "203.0.113.5", "again")


@pytest.mark.parametrize(
    ("fmt", "text", "ip"),
    [
        ("plain", "192.0.2.0/24 net\n", "192.0.2.9"),
        ("ip4set", ":127.0.0.2:listed\n192.0.2.0/24\n", "192.0.2.9"),
        ("ip6tset", ":127.0.0.2:listed\n2001:db8:1:2::/64\n", "2001:db8:1:2::9"),
    ],
)
def test_every_format_follows_an_appended_exclusion(
    tmp_path: Path, fmt: str, text: str, ip: str
) -> None:
    path = tmp_path / "list.txt"
    path.write_text(text)
    config = ListConfig("l", path, "open-proxy", format=fmt)
    editor, holder = ListStore([config], append_from_bytes=0), ListStore([config])
    editor.load()
    holder.load()
    entries = holder.snapshot.lists[0].entries
    editor.exclude("l", ip, "delisted")
    assert holder.reload() == [] and holder.snapshot.lists[0].entries is entries
    assert editor.snapshot.lookup(ip) == () and holder.snapshot.lookup(ip) == ()
    assert not fresh(editor, ip) and fresh(editor, ip[:-1] + "8")


def _lock_as_nobody(path: str) -> None:
    """In a child: drop to nobody (when root), then lock a list in a directory it cannot write."""
    if os.geteuid() == 0:
        os.setgid(NOBODY)
        os.setuid(NOBODY)
    with locked([Path(path)], timeout_s=1.0):
        pass


def test_a_list_in_a_directory_nobody_may_write_needs_no_lock(tmp_path: Path) -> None:
    """The packaged sample lists: read-only for the service, so never edited by it."""
    folder = tmp_path / "ro"
    folder.mkdir()
    (folder / "opl.txt").write_text(LIST)
    folder.chmod(0o555)
    tmp_path.chmod(0o755)
    child = multiprocessing.get_context("fork").Process(
        target=_lock_as_nobody, args=(str(folder / "opl.txt"),)
    )
    child.start()
    child.join(30)
    assert child.exitcode == 0
    assert not (folder / ".opl.txt.lock").exists()
