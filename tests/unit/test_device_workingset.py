"""Working-set marks and purges on the device store (bedside.device.workingset)."""

from __future__ import annotations

import secrets
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from structlog.testing import capture_logs

from bedside.device.attachments import Attachments
from bedside.device.offline import OfflinePolicy
from bedside.device.store import LocalStore
from bedside.device.workingset import (
    ACCESS_ENDED,
    LEFT_WORKING_SET,
    held_patients,
    purge,
    reconcile,
)
from tests.unit._device_world import (
    HOUR,
    NOW,
    attachments_home,
    counts,
    event,
    memory_store,
    purge_log,
    seed,
    states,
)

GRACE = 6 * HOUR


def policy(pins: list[str] | None = None, **over: Any) -> OfflinePolicy:
    claims: dict[str, Any] = {
        "iat": int(NOW),
        "nbf": int(NOW),
        "exp": int(NOW) + 8 * HOUR,
        "confined": True,
        "pins": pins or [],
        "offline": {"grace_seconds": 2 * HOUR, "clinical_grace_seconds": GRACE,
                    "attachment_retention_seconds": HOUR},
        "permissions": {"*": "crus"},
        "patients": [
            {"id": "p1", "basis": "care-team", "source": "CareTeam/1", "until": None},
            {"id": "p2", "basis": "location", "source": "Encounter/1", "until": None},
            {"id": "p5", "basis": "consent", "source": "Consent/1", "until": None,
             "types": None, "labels": None, "labels_not": []},
            {"id": "p9", "basis": "break-glass", "source": "break-glass/1",
             "until": int(NOW) + 1800},
        ],
        "refusals": [],
        "sensitive_labels": [],
        "purpose": [],
    }  # fmt: skip
    claims.update(over)
    return OfflinePolicy(claims)


@pytest.fixture
def conn() -> sqlite3.Connection:
    return memory_store()


@pytest.fixture
def files(tmp_path: Path) -> Attachments:
    return attachments_home(tmp_path)


def test_purge_removes_exactly_that_patients_rows_and_attachment_files(
    conn: sqlite3.Connection, files: Attachments
) -> None:
    one, two = seed(conn, files, "p1"), seed(conn, files, "p2")
    event(conn, "p2", "confirmed")  # a newer event: p1's settled events are not the newest
    before = counts(conn, "p2")
    report = purge(conn, ["p1"], ACCESS_ENDED, files.delete, now=NOW)
    assert counts(conn, "p1") == {
        "patients": 0,
        "resources": 0,
        "search": 0,
        "drafts": 0,  # access ended: even unsent drafts go (the user can no longer act)
        "outbox": 3,  # pending, sending, needs-review: still owed to the server
        "conflicts": 0,
        "attachments": 1,  # the unsynced one: the only copy of the photo
    }
    assert states(conn, "p1") == {"pending", "sending", "needs-review"}
    assert counts(conn, "p2") == before
    assert set(files.ids()) == {one.unsynced, two.attachment, two.unsynced}
    total = report.by_reason[ACCESS_ENDED]
    assert (total.patients, total.resources, total.search, total.drafts) == (1, 2, 2, 3)
    assert (total.attachments, total.conflicts, total.outbox) == (1, 1, 2)
    assert (total.outbox_kept, total.attachments_kept) == (3, 1)
    assert report.files_failed == 0


def test_leaving_the_working_set_keeps_unsent_and_owed_drafts(
    conn: sqlite3.Connection, files: Attachments
) -> None:
    seed(conn, files, "p1")
    report = purge(conn, ["p1"], LEFT_WORKING_SET, files.delete, now=NOW)
    drafts = {r[0] for r in conn.execute("SELECT id FROM drafts")}
    assert drafts == {"unsent-p1", "owed-p1"}  # the confirmed recording went
    assert report.by_reason[LEFT_WORKING_SET].drafts == 1


def test_the_newest_outbox_row_is_never_deleted(
    conn: sqlite3.Connection, files: Attachments
) -> None:
    seed(conn, files, "p1")
    newest = event(conn, "p1", "confirmed")
    purge(conn, ["p1"], ACCESS_ENDED, files.delete, now=NOW)
    kept = {r[0] for r in conn.execute("SELECT seq FROM outbox WHERE state = 'confirmed'")}
    assert kept == {newest}


def test_purge_log_and_log_line_carry_counts_and_no_ids(
    conn: sqlite3.Connection, files: Attachments
) -> None:
    seeded = seed(conn, files, "patient-4711")
    event(conn, None, "confirmed")
    with capture_logs() as logs:
        purge(conn, ["patient-4711"], ACCESS_ENDED, files.delete, now=NOW + 5)
    assert purge_log(conn) == [(NOW + 5, ACCESS_ENDED, 1, 2, 3, 1)]
    [line] = [entry for entry in logs if entry["event"] == "device.purge"]
    assert line["reason"] == ACCESS_ENDED
    assert line["patients"] == 1 and line["resources"] == 2 and line["outbox_kept"] == 3
    text = repr(line) + repr(conn.execute("SELECT * FROM purge_log").fetchall())
    for secret in ("4711", "Name of", seeded.attachment, "obs-"):
        assert secret not in text


def test_a_failed_purge_changes_nothing(conn: sqlite3.Connection, files: Attachments) -> None:
    seeded = seed(conn, files, "p1")
    conn.execute("DROP TABLE conflicts")  # the purge fails half-way through
    with pytest.raises(sqlite3.OperationalError):
        purge(conn, ["p1"], ACCESS_ENDED, files.delete, now=NOW)
    assert not conn.in_transaction
    assert conn.execute("SELECT count(*) FROM resources").fetchone()[0] == 2
    assert purge_log(conn) == []
    assert seeded.attachment in files.ids()  # files go only after the commit


def test_a_file_that_cannot_be_deleted_is_counted_and_the_rows_still_go(
    conn: sqlite3.Connection, files: Attachments
) -> None:
    seed(conn, files, "p1")

    def broken(attachment_id: str) -> None:
        raise PermissionError(attachment_id)

    report = purge(conn, ["p1"], ACCESS_ENDED, broken, now=NOW)
    assert report.files_failed == 1
    assert counts(conn, "p1")["resources"] == 0


def test_unknown_reasons_are_refused(conn: sqlite3.Connection, files: Attachments) -> None:
    with pytest.raises(ValueError, match="reason"):
        purge(conn, ["p1"], "because", files.delete, now=NOW)


# --- reconcile ------------------------------------------------------------------------------------


def patients(conn: sqlite3.Connection) -> dict[str, tuple[Any, ...]]:
    rows = conn.execute("SELECT id, basis, pinned, joined, left_at FROM patients")
    return {r[0]: tuple(r[1:]) for r in rows}


def test_reconcile_lists_the_working_set_with_bases_and_pins(
    conn: sqlite3.Connection, files: Attachments
) -> None:
    report = reconcile(conn, policy(pins=["p5", "p7"]), NOW, files.delete)
    assert patients(conn) == {
        "p1": ("care-team", 0, NOW, None),
        "p2": ("location", 0, NOW, None),
        "p5": ("consent", 1, NOW, None),
    }
    assert report.joined == 3 and report.total.patients == 0
    assert purge_log(conn) == []  # nothing purged, nothing logged
    again = reconcile(conn, policy(pins=["p5"]), NOW + 60, files.delete)
    assert again.joined == 0 and patients(conn)["p1"][2] == NOW  # joined keeps its first time


def test_access_that_ends_purges_at_once(conn: sqlite3.Connection, files: Attachments) -> None:
    seed(conn, files, "p9")
    assert reconcile(conn, policy(pins=["p9"]), NOW, files.delete).joined == 2  # p1, p2
    assert patients(conn)["p9"] == ("break-glass", 1, NOW, None)
    assert reconcile(conn, policy(pins=["p9"]), NOW + 1799, files.delete).total.patients == 0
    report = reconcile(conn, policy(pins=["p9"]), NOW + 1800, files.delete)
    assert report.by_reason[ACCESS_ENDED].patients == 1
    assert counts(conn, "p9")["resources"] == 0 and counts(conn, "p9")["drafts"] == 0
    assert [row[1] for row in purge_log(conn)] == [ACCESS_ENDED]


def test_a_patient_who_leaves_is_kept_for_the_clinical_grace(
    conn: sqlite3.Connection, files: Attachments
) -> None:
    seed(conn, files, "p5")
    reconcile(conn, policy(pins=["p5"]), NOW, files.delete)
    left = NOW + 60
    report = reconcile(conn, policy(pins=[]), left, files.delete)  # unpinned, still reachable
    assert report.leaving == 1 and report.total.patients == 0
    assert patients(conn)["p5"] == ("consent", 0, NOW, left)
    assert reconcile(conn, policy(), left + GRACE - 1, files.delete).total.patients == 0
    assert counts(conn, "p5")["resources"] == 2
    report = reconcile(conn, policy(), left + GRACE, files.delete)
    assert report.by_reason[LEFT_WORKING_SET].patients == 1
    assert counts(conn, "p5")["resources"] == 0
    assert {r[0] for r in conn.execute("SELECT id FROM drafts")} == {"unsent-p5", "owed-p5"}
    # the kept drafts do not start a new grace: nothing more happens while p5 stays reachable
    assert reconcile(conn, policy(), left + 2 * GRACE, files.delete).total.patients == 0
    assert len(purge_log(conn)) == 1
    # ... and they go when access ends
    gone = policy(patients=[])
    assert reconcile(conn, gone, left + 2 * GRACE, files.delete).by_reason[ACCESS_ENDED].drafts == 2


def test_coming_back_within_the_grace_clears_left_at(
    conn: sqlite3.Connection, files: Attachments
) -> None:
    reconcile(conn, policy(pins=["p5"]), NOW, files.delete)
    reconcile(conn, policy(), NOW + 60, files.delete)
    report = reconcile(conn, policy(pins=["p5"]), NOW + 120, files.delete)
    assert report.joined == 1
    assert patients(conn)["p5"] == ("consent", 1, NOW + 120, None)


def test_data_of_a_patient_outside_the_working_set_starts_its_grace_when_seen(
    conn: sqlite3.Connection, files: Attachments
) -> None:
    seed(conn, files, "p5")
    conn.execute("DELETE FROM patients")
    report = reconcile(conn, policy(), NOW, files.delete)
    assert report.leaving == 1 and patients(conn)["p5"][3] == NOW


def test_an_unconfined_caller_keeps_only_its_pins(
    conn: sqlite3.Connection, files: Attachments
) -> None:
    seed(conn, files, "anyone")
    unconfined = policy(pins=["p42"], confined=False, patients=[])
    reconcile(conn, unconfined, NOW, files.delete)
    assert patients(conn)["p42"] == ("unconfined", 1, NOW, None)
    assert patients(conn)["anyone"][3] == NOW  # still reachable, but leaving
    assert held_patients(conn) == {"anyone", "p42"}


def test_purges_work_on_a_real_sqlcipher_store_and_join_its_transaction(tmp_path: Path) -> None:
    dk = secrets.token_bytes(32)  # a fresh random data key
    store = LocalStore.open(tmp_path / "store.db", dk, create=True)
    files = Attachments(tmp_path, dk)
    try:
        conn = store.conn
        seed(conn, files, "p1")
        seed(conn, files, "p9")
        reconcile(conn, policy(pins=["p9"]), NOW, files.delete)
        report = reconcile(conn, policy(pins=["p9"]), NOW + 1800, files.delete)
        assert report.by_reason[ACCESS_ENDED].patients == 1
        assert counts(conn, "p9")["resources"] == 0 and counts(conn, "p1")["resources"] == 2
        with store.transaction() as tx:  # inside the caller's transaction: joins it
            purge(tx, ["p1"], LEFT_WORKING_SET, files.delete, now=NOW + 2000)
            assert tx.in_transaction
        assert not conn.in_transaction
        assert [r[1] for r in purge_log(conn)] == [ACCESS_ENDED, LEFT_WORKING_SET]
    finally:
        store.close()
    raw = (tmp_path / "store.db").read_bytes()
    assert b"purge_log" not in raw and b"care-team" not in raw  # encrypted at rest
