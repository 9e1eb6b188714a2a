"""One decision, one edit: symlinked lists, owner and mode, rollback, lost races, the journal."""

from __future__ import annotations

import socket
import stat
from datetime import UTC, datetime
from pathlib import Path

import pytest

from oplguard.config.model import ListConfig
from oplguard.errors import ListError
from oplguard.lists.block import load_list
from oplguard.lists.edit import lock_path
from oplguard.lists.store import ListStore
from oplguard.removals.model import AlreadyDecided, AuditEntry, Contact
from oplguard.removals.repair import recover
from oplguard.removals.review import approve, deny
from oplguard.removals.store import RemovalStore
from oplguard.removals.vocabulary import RequestStatus

NOW = datetime(2026, 11, 20, tzinfo=UTC).timestamp()
LIST = "# opl\n192.0.2.1 sentinel\n192.0.2.99 open proxy\n192.0.2.160/28 a range\n"


def file_lists(path: Path, ip: str) -> bool:
    block = load_list(ListConfig("opl", path, "open-proxy"))
    return block.lookup(ip, datetime.fromtimestamp(NOW, UTC)) is not None


def linked_list(tmp_path: Path, append_from: int) -> tuple[ListStore, Path, Path]:
    """A list whose configured path is a symlink into another directory."""
    real = tmp_path / "data" / "opl-2026.txt"
    real.parent.mkdir()
    real.write_text(LIST)
    real.chmod(0o640)
    link = tmp_path / "etc" / "opl.txt"
    link.parent.mkdir()
    link.symlink_to(real)
    lists = ListStore([ListConfig("opl", link, "open-proxy")], append_from_bytes=append_from)
    lists.load()
    return lists, link, real


def request_for(store: RemovalStore, ip: str) -> str:
    contact = Contact("postmaster@example.net", "fixed", "198.51.100.7", NOW)
    return store.submit(ip, ["opl"], contact)[0].id


@pytest.mark.parametrize("append_from", [1 << 30, 0], ids=["rewrite", "append"])
@pytest.mark.parametrize("ip", ["192.0.2.99", "192.0.2.165"], ids=["exact", "covered"])
def test_a_symlinked_list_stays_a_symlink_and_its_target_changes(
    store: RemovalStore, tmp_path: Path, append_from: int, ip: str
) -> None:
    lists, link, real = linked_list(tmp_path, append_from)
    owner = (real.stat().st_uid, real.stat().st_gid)
    approve(store, lists, request_for(store, ip), note="", actor="cli:t", now=NOW)
    assert link.is_symlink() and link.resolve() == real
    assert not file_lists(real, ip) and file_lists(real, "192.0.2.1")
    assert stat.S_IMODE(real.stat().st_mode) == 0o640
    assert (real.stat().st_uid, real.stat().st_gid) == owner
    assert lock_path(link) == real.parent / ".opl-2026.txt.lock"
    assert sorted(p.name for p in link.parent.iterdir()) == ["opl.txt"]  # nothing left beside
    assert not [p for p in real.parent.iterdir() if p.suffix == ".tmp"]


def test_append_mode_adds_one_exclusion_line_and_the_loaded_list_follows(
    store: RemovalStore, tmp_path: Path
) -> None:
    lists, _, real = linked_list(tmp_path, 0)
    rid = request_for(store, "192.0.2.99")
    before = real.read_text()
    stamp = lists.snapshot.lists[0].stamp
    decided = approve(store, lists, rid, note="", actor="cli:t", now=NOW)
    added = real.read_text().removeprefix(before)
    assert added.split() == ["!192.0.2.99", "delisted", "by", "removal", "request", rid]
    assert added.count("\n") == 1 and added.endswith("\n")
    assert decided.outcome == ("excluded 192.0.2.99 from opl (appended !192.0.2.99)",)
    block = lists.snapshot.lists[0]
    assert block.stamp != stamp and block.lookup("192.0.2.99") is None  # no reload needed
    assert lists.changed_files() == []


def test_a_failed_edit_rolls_the_decision_back_and_is_audited(
    store: RemovalStore, tmp_path: Path
) -> None:
    lists, _, real = linked_list(tmp_path, 1 << 30)
    rid = request_for(store, "192.0.2.99")
    real.unlink()
    real.mkdir()  # the target vanished and a directory took its place
    with pytest.raises(ListError):
        approve(store, lists, rid, note="", actor="cli:t", now=NOW)
    request = store.require(rid)
    assert (request.status, request.decided_by) == (RequestStatus.PENDING, "")
    assert [e.action for e in store.audit(rid)] == [
        "submitted",
        RequestStatus.APPROVED,
        "approve-failed",
    ]
    assert store.journal() == []
    real.rmdir()
    real.write_text(LIST)
    assert (
        approve(store, lists, rid, note="", actor="cli:t", now=NOW).status == RequestStatus.APPROVED
    )


def test_a_late_decision_is_refused_audited_and_changes_nothing(
    store: RemovalStore, tmp_path: Path
) -> None:
    lists, _, real = linked_list(tmp_path, 1 << 30)
    rid = request_for(store, "192.0.2.99")
    deny(store, rid, note="no", actor="cli:a", now=NOW)
    before = real.read_bytes()
    with pytest.raises(AlreadyDecided, match="already denied by cli:a"):
        approve(store, lists, rid, note="yes", actor="cli:b", now=NOW + 1)
    with pytest.raises(AlreadyDecided):
        deny(store, rid, note="again", actor="cli:c", now=NOW + 2)
    assert real.read_bytes() == before
    trail = [(e.action, e.actor) for e in store.audit(rid)]
    assert trail[1:] == [
        ("denied", "cli:a"),
        ("approve-refused", "cli:b"),
        ("deny-refused", "cli:c"),
    ]


def test_a_journal_row_left_by_a_dead_editor_is_finished(
    store: RemovalStore, tmp_path: Path
) -> None:
    """The store half of a crash: decided, journal written, no edit (the process died)."""
    lists, _, real = linked_list(tmp_path, 1 << 30)
    rid = request_for(store, "192.0.2.99")
    entry_host = socket.gethostname()
    store.decide(
        rid,
        RequestStatus.APPROVED,
        AuditEntry(NOW, rid, "cli:dead", RequestStatus.APPROVED, "ok"),
        host=entry_host,
    )
    assert file_lists(real, "192.0.2.99") and store.journal()
    report = recover(store, lists, actor="cli:next", now=NOW + 5)
    assert len(report) == 1 and "interrupted" in report[0]
    assert not file_lists(real, "192.0.2.99") and store.journal() == []
    request = store.require(rid)
    assert request.status == RequestStatus.APPROVED and request.outcome
    assert store.audit(rid)[-1].action == "approve-repaired"


def test_a_journal_row_of_another_host_is_reported_not_touched(
    store: RemovalStore, tmp_path: Path
) -> None:
    lists, _, real = linked_list(tmp_path, 1 << 30)
    rid = request_for(store, "192.0.2.99")
    store.decide(
        rid,
        RequestStatus.APPROVED,
        AuditEntry(NOW, rid, "api:x", RequestStatus.APPROVED),
        host="mx2.example.net",
    )
    report = recover(store, lists, actor="cli:next", now=NOW + 5)
    assert "mx2.example.net" in report[0] and file_lists(real, "192.0.2.99")
    assert len(store.journal()) == 1
