"""Retention windows on the device (bedside.device.retention)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from bedside.device.attachments import Attachments
from bedside.device.retention import abandoned, enforce
from bedside.device.workingset import ACCESS_ENDED, LEFT_WORKING_SET, RETENTION
from tests.unit._device_world import (
    HOUR,
    NOW,
    attachment,
    attachments_home,
    counts,
    event,
    memory_store,
    purge_log,
    seed,
    states,
)
from tests.unit.test_device_workingset import GRACE, policy

EXP = NOW + 8 * HOUR


@pytest.fixture
def conn() -> sqlite3.Connection:
    return memory_store()


@pytest.fixture
def files(tmp_path: Path) -> Attachments:
    return attachments_home(tmp_path)


def test_synced_attachments_go_after_their_retention_window(
    conn: sqlite3.Connection, files: Attachments
) -> None:
    seed(conn, files, "p1")
    old = attachment(conn, files, "p1", synced_at=NOW - HOUR)
    recent = attachment(conn, files, "p1", synced_at=NOW - HOUR + 1)
    unsynced = attachment(conn, files, "p1", synced_at=None)
    report = enforce(conn, policy(), NOW, files.delete)
    rows = {r[0] for r in conn.execute("SELECT id FROM attachments")}
    assert old not in rows and old not in files.ids()
    assert {recent, unsynced} <= rows and {recent, unsynced} <= set(files.ids())
    assert report.by_reason[RETENTION].attachments == 1
    assert purge_log(conn) == [(NOW, RETENTION, 0, 0, 0, 1)]


def test_patients_past_the_clinical_grace_are_purged_and_not_before(
    conn: sqlite3.Connection, files: Attachments
) -> None:
    seed(conn, files, "p5")  # consent only, not pinned: leaving the working set
    first = enforce(conn, policy(), NOW, files.delete)
    assert first.leaving == 1
    assert enforce(conn, policy(), NOW + GRACE - 1, files.delete).total.patients == 0
    report = enforce(conn, policy(), NOW + GRACE, files.delete)
    assert report.by_reason[LEFT_WORKING_SET].patients == 1
    assert counts(conn, "p5")["resources"] == 0


def test_break_glass_that_ran_out_offline_is_purged_on_the_timer(
    conn: sqlite3.Connection, files: Attachments
) -> None:
    seed(conn, files, "p9")
    enforce(conn, policy(pins=["p9"]), NOW, files.delete)
    report = enforce(conn, policy(pins=["p9"]), NOW + 1800, files.delete)
    assert report.by_reason[ACCESS_ENDED].patients == 1
    assert counts(conn, "p9")["patients"] == 0


def test_confirmed_events_go_after_the_clinical_grace_with_their_drafts(
    conn: sqlite3.Connection, files: Attachments
) -> None:
    seed(conn, files, "p1")
    newest = event(conn, "p1", "confirmed")
    assert enforce(conn, policy(), NOW + GRACE - 1, files.delete).total.outbox == 0
    report = enforce(conn, policy(), NOW + GRACE, files.delete)
    assert report.by_reason[RETENTION].outbox == 1
    assert report.by_reason[RETENTION].drafts == 1  # the draft that recorded it
    assert states(conn, "p1") == {"confirmed", "pending", "sending", "needs-review", "rejected"}
    confirmed = {r[0] for r in conn.execute("SELECT seq FROM outbox WHERE state = 'confirmed'")}
    assert confirmed == {newest}  # the newest seq always stays
    assert counts(conn, "p1")["resources"] == 2  # the patient is still in the working set


def test_an_abandoned_locked_device_purges_every_patient_but_keeps_what_is_owed(
    conn: sqlite3.Connection, files: Attachments
) -> None:
    seed(conn, files, "p1")
    seed(conn, files, "p2")
    end = EXP + 2 * HOUR + GRACE  # exp + read-only grace + clinical grace
    assert not abandoned(policy(), end - 1) and abandoned(policy(), end)
    enforce(conn, policy(), end - 1, files.delete)
    assert counts(conn, "p1")["resources"] == 2
    report = enforce(conn, policy(), end, files.delete)
    assert report.by_reason[RETENTION].patients == 2
    for patient in ("p1", "p2"):
        left = counts(conn, patient)
        assert left["patients"] == left["resources"] == left["conflicts"] == 0
        assert left["drafts"] == 2  # unsent and owed drafts are the user's work
        assert states(conn, patient) >= {"pending", "sending", "needs-review"}
    logged = len(purge_log(conn))
    assert enforce(conn, policy(), end + HOUR, files.delete).total.patients == 0
    assert len(purge_log(conn)) == logged  # nothing left to purge, nothing logged


def test_orphan_files_are_swept_when_the_stored_ids_are_given(
    conn: sqlite3.Connection, files: Attachments
) -> None:
    seeded = seed(conn, files, "p1")
    orphan = files.put(b"left behind by a crash")
    enforce(conn, policy(), NOW, files.delete)
    assert orphan in files.ids()  # not swept unless asked
    report = enforce(conn, policy(), NOW, files.delete, stored=files.ids())
    assert orphan not in files.ids()
    assert {seeded.attachment, seeded.unsynced} <= set(files.ids())
    assert report.by_reason[RETENTION].attachments == 1
