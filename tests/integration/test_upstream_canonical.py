"""The canonical record across sources, on SQLite and PostgreSQL: matching by identifier
only, the authoritative source per data class, and both values kept with their source."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson

from bedside.rest import FhirRequest, Repository
from bedside.store import Store
from bedside.upstream import ledger
from bedside.upstream.config import parse
from bedside.upstream.service import Upstream
from tests.conftest import BASE
from tests.integration import _hl7_messages as hl7

CONFIG = f"""
[authority]
patient = "adt"

[source.adt]
kind = "hl7v2"
mllp_port = 1
authorities = {{ HOSP = "{hl7.MRN_SYSTEM}" }}

[source.lab]
kind = "hl7v2"
files = "lab"
authorities = {{ HOSP = "{hl7.MRN_SYSTEM}" }}
"""
#: The lab's own view of the same person (same MRN system and value), with another name.
LAB_UPDATE = hl7.ADMIT.replace(b"Example^Alex", b"Sample^Alexis").replace(b"MSG-A01", b"LAB-1")


def _patients(repo: Repository) -> list[dict[str, Any]]:
    found = repo.handle(FhirRequest("GET", "Patient")).resource or {}
    return [e["resource"] for e in found.get("entry", [])]


def test_two_sources_share_a_patient_by_identifier_and_the_authority_wins(
    store: Store, repo: Repository, tmp_path: Path
) -> None:
    up = Upstream(store, parse(CONFIG, source="t", data_dir=tmp_path), BASE)
    assert up.feed("adt").receive(hl7.ADMIT).code == "AA"
    assert up.feed("lab").receive(LAB_UPDATE).code == "AA"
    patients = _patients(repo)
    assert len(patients) == 1  # one person, matched by identifier, not duplicated
    patient = patients[0]
    assert patient["name"][0]["family"] == "Example"  # the authoritative source's value
    assert patient["meta"]["versionId"] == "1"
    assert patient["meta"]["source"] == "urn:bedside:upstream:adt"
    # the lab's value is kept whole, with where it came from
    with store.records() as db:
        held = ledger.variants(db, "Patient", patient["id"])
    assert [(s, e) for s, e, _ in held] == [("lab", "LAB-1")]
    assert orjson.loads(held[0][2])["name"][0]["family"] == "Sample"
    # the lab's own visit is its own record: both sources' encounters are kept
    encounters = (repo.handle(FhirRequest("GET", "Encounter")).resource or {}).get("entry", [])
    sources = sorted(e["resource"]["meta"]["source"] for e in encounters)
    assert sources == ["urn:bedside:upstream:adt", "urn:bedside:upstream:lab"]
    assert up.status("lab")["variants_held"] == 1


def test_without_an_authority_the_later_source_writes_a_new_version(
    store: Store, repo: Repository, tmp_path: Path
) -> None:
    text = CONFIG.replace('[authority]\npatient = "adt"\n', "")
    up = Upstream(store, parse(text, source="t", data_dir=tmp_path), BASE)
    up.feed("adt").receive(hl7.ADMIT)
    up.feed("lab").receive(LAB_UPDATE)
    (patient,) = _patients(repo)
    assert patient["name"][0]["family"] == "Sample" and patient["meta"]["versionId"] == "2"
    history = repo.handle(FhirRequest("GET", f"Patient/{patient['id']}/_history")).resource or {}
    families = [e["resource"]["name"][0]["family"] for e in history["entry"]]
    assert families == ["Sample", "Example"]  # both values kept, each version with its source


def test_an_identifier_on_two_patients_is_never_merged_automatically(
    store: Store, repo: Repository, tmp_path: Path
) -> None:
    for _ in range(2):
        repo.handle(
            FhirRequest(
                "POST",
                "Patient",
                body={
                    "resourceType": "Patient",
                    "identifier": [{"system": hl7.MRN_SYSTEM, "value": "12345"}],
                },
            )
        )
    up = Upstream(store, parse(CONFIG, source="t", data_dir=tmp_path), BASE)
    ack = up.feed("adt").receive(hl7.ADMIT)
    assert ack.code == "AE" and "more than one local Patient" in (ack.reason or "")
    assert len(_patients(repo)) == 2
    encounters = repo.handle(FhirRequest("GET", "Encounter")).resource or {}
    assert encounters.get("entry", []) == []  # nothing written
    assert up.status("adt")["dead_letters_open"] == 1


def test_message_files_are_read_and_moved_aside(
    store: Store, repo: Repository, tmp_path: Path
) -> None:
    inbox = tmp_path / "lab"
    inbox.mkdir()
    (inbox / "batch.hl7").write_bytes(hl7.ADMIT.replace(b"\r", b"\n") + b"\n" + hl7.RESULT)
    up = Upstream(store, parse(CONFIG, source="t", data_dir=tmp_path), BASE)
    report = up.read_files("lab")
    assert (report.messages, report.accepted, report.refused) == (2, 2, 0)
    assert (inbox / "done" / "batch.hl7").exists() and not (inbox / "batch.hl7").exists()
    assert len(_patients(repo)) == 1


def _event(base: bytes, event: str, control: str) -> bytes:
    out = base.replace(b"ADT^A01^ADT_A01", f"ADT^{event}^ADT_A01".encode())
    return out.replace(b"EVN|A01", f"EVN|{event}".encode()).replace(b"MSG-A01", control.encode())


def test_register_update_cancel_and_cancel_discharge_keep_one_encounter(
    store: Store, repo: Repository, tmp_path: Path
) -> None:
    up = Upstream(store, parse(CONFIG, source="t", data_dir=tmp_path), BASE)
    feed = up.feed("adt")

    def visit() -> dict[str, Any]:
        found = repo.handle(FhirRequest("GET", "Encounter")).resource or {}
        (only,) = [e["resource"] for e in found.get("entry", [])]
        return only

    assert feed.receive(_event(hl7.ADMIT, "A04", "M-A04")).code == "AA"
    assert visit()["status"] == "in-progress"
    moved = hl7.ADMIT.replace(b"1 Main St^^Town", b"2 High St^^Village")
    assert feed.receive(_event(moved, "A08", "M-A08")).code == "AA"
    (patient,) = _patients(repo)
    assert patient["address"][0]["city"] == "Village" and patient["meta"]["versionId"] == "2"
    assert feed.receive(hl7.DISCHARGE).code == "AA"
    assert visit()["status"] == "finished" and "end" in visit()["period"]
    undo = hl7.DISCHARGE.replace(b"ADT^A03", b"ADT^A13").replace(b"MSG-A03", b"M-A13")
    assert feed.receive(undo).code == "AA"
    reopened = visit()
    assert reopened["status"] == "in-progress" and "end" not in reopened["period"]
    assert feed.receive(_event(hl7.ADMIT, "A11", "M-A11")).code == "AA"
    cancelled = visit()
    assert cancelled["status"] == "cancelled"
    history = repo.handle(FhirRequest("GET", f"Encounter/{cancelled['id']}/_history")).resource
    statuses = [e["resource"]["status"] for e in (history or {})["entry"]]
    assert statuses == ["cancelled", "in-progress", "finished", "in-progress"]  # never deleted
