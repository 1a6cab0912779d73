"""HL7 v2 parsing and the segment maps (after the HL7 v2-to-FHIR IG), without a database."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor

import pytest

from bedside.fhir.validation import validate_resource
from bedside.upstream.config import Hl7Source
from bedside.upstream.hl7_feed import ack_for_raw
from bedside.upstream.hl7_message import MessageError, parse
from bedside.upstream.hl7_segments import (
    allergy,
    condition,
    encounter,
    observation,
    patient,
    related_person,
    report,
)
from bedside.upstream.hl7_vocabulary import fhir_datetime
from bedside.upstream.identity import patient_id, record_id
from bedside.upstream.mllp import FrameTooLarge, read_frame
from bedside.upstream.terminology import Terminology
from tests.integration import _hl7_messages as hl7

SOURCE = Hl7Source(
    name="adt", system="urn:bedside:upstream:adt", mllp_port=1, authorities={"HOSP": hl7.MRN_SYSTEM}
)
TERMS = Terminology(
    {(hl7.LOCAL_CODES, "GLU"): [{"system": "http://loinc.org", "code": "2345-7"}]},
    {"mmol/L": "mmol/L"},
)


def test_ids_are_deterministic_and_patients_key_on_identifier_only() -> None:
    assert record_id("urn:a", "Encounter", "V1") == record_id("urn:a", "Encounter", "V1")
    assert record_id("urn:a", "Encounter", "V1") != record_id("urn:b", "Encounter", "V1")
    assert patient_id("urn:oid:1", "42") == patient_id("urn:oid:1", "42")
    assert patient_id("urn:oid:1", "42") != patient_id("urn:oid:2", "42")


def test_escape_sequences_and_positions() -> None:
    msg = parse(hl7.RESULT.replace(b"GLU^Glucose^L||5.4", b"GLU^Glu \\T\\ co\\F\\se^L||5.4"))
    pid = msg.first("PID")
    assert (
        pid is not None
        and pid.get(3, 1) == "12345"
        and pid.get(3, 4) == "HOSP"
        and pid.get(3, 5) == "MR"
    )
    obx = msg.first("OBX")
    assert obx is not None and obx.get(3, 2) == "Glu & co|se"
    assert (msg.message_type, msg.event, msg.control_id) == ("ORU", "R01", "MSG-R01")


@pytest.mark.parametrize(
    ("raw", "code", "says"),
    [
        (b"PID|1||1\r", "AR", "does not start with an MSH"),
        (b"MSH|^~\\&|A|B|C|D|2026||ADT^A99|X|P|2.5\r", "AR", "is not supported"),
        (b"MSH|^~\\&|A|B|C|D|2026||ADT^A01|||2.5\r", "AR", "MSH-10"),
    ],
)
def test_unusable_messages_say_why_without_content(raw: bytes, code: str, says: str) -> None:
    with pytest.raises(MessageError) as err:
        parse(raw)
    assert err.value.code == code and says in err.value.reason


def test_pid_maps_to_patient_after_the_ig() -> None:
    msg = parse(hl7.ADMIT)
    pid = msg.first("PID")
    assert pid is not None
    body = patient(pid, SOURCE, "p1")
    validate_resource(body, expected_type="Patient")
    assert body["identifier"][0]["system"] == hl7.MRN_SYSTEM
    assert body["identifier"][0]["type"]["coding"][0]["code"] == "MR"
    assert body["name"] == [{"family": "Example", "given": ["Alex"], "use": "official"}]
    assert body["birthDate"] == "1970-02-03" and body["gender"] == "female"
    assert body["address"][0]["city"] == "Town"


def test_one_visit_number_one_encounter_id_and_status_by_event() -> None:
    admit = parse(hl7.ADMIT).first("PV1")
    discharge = parse(hl7.DISCHARGE).first("PV1")
    assert admit is not None and discharge is not None
    a = encounter(admit, SOURCE, "Patient/p1", "A01")
    d = encounter(discharge, SOURCE, "Patient/p1", "A03")
    for body in (a, d):
        validate_resource(body, expected_type="Encounter")
    assert a["id"] == d["id"]
    assert a["status"] == "in-progress" and d["status"] == "finished"
    assert a["class"]["code"] == "IMP"
    assert d["period"] == {"start": "2026-03-01T08:00:00Z", "end": "2026-03-02T10:00:00Z"}
    assert encounter(discharge, SOURCE, "Patient/p1", "A13")["status"] == "in-progress"
    assert "end" not in encounter(discharge, SOURCE, "Patient/p1", "A13")["period"]
    assert encounter(admit, SOURCE, "Patient/p1", "A11")["status"] == "cancelled"


def test_obx_maps_to_observation_with_loinc_and_ucum() -> None:
    msg = parse(hl7.RESULT)
    obr, obx = msg.first("OBR"), msg.first("OBX")
    assert obr is not None and obx is not None
    body = observation(obx, obr, SOURCE, TERMS, "Patient/p1", "Encounter/e1")
    validate_resource(body, expected_type="Observation")
    assert body["code"]["coding"][0] == {"system": "http://loinc.org", "code": "2345-7"}
    assert body["valueQuantity"] == {
        "value": 5.4,
        "unit": "mmol/L",
        "system": "http://unitsofmeasure.org",
        "code": "mmol/L",
    }
    assert body["referenceRange"][0]["low"]["value"] == 3.9
    assert body["interpretation"][0]["coding"][0]["code"] == "N"
    assert body["status"] == "final" and body["effectiveDateTime"] == "2026-03-01T13:00:00Z"
    dr = report(obr, SOURCE, TERMS, "Patient/p1", [f"Observation/{body['id']}"])
    validate_resource(dr, expected_type="DiagnosticReport")
    assert dr["status"] == "final"


def test_without_a_mapping_the_local_code_stays_alone() -> None:
    msg = parse(hl7.RESULT.replace(b"mmol/L^mmol/L^UCUM", b"mmol/L^mmol/L^L"))
    obr, obx = msg.first("OBR"), msg.first("OBX")
    assert obr is not None and obx is not None
    body = observation(obx, obr, SOURCE, Terminology(), "Patient/p1", None)
    assert [c["system"] for c in body["code"]["coding"]] == [hl7.LOCAL_CODES]
    assert "system" not in body["valueQuantity"]  # not UCUM: no mapping, not said by the sender


def test_nk1_al1_dg1_map_to_valid_resources() -> None:
    msg = parse(hl7.ADMIT)
    nk1, al1, dg1 = msg.first("NK1"), msg.first("AL1"), msg.first("DG1")
    assert nk1 is not None and al1 is not None and dg1 is not None
    rp = related_person(nk1, SOURCE, "Patient/p1")
    ai = allergy(al1, SOURCE, "Patient/p1")
    co = condition(dg1, SOURCE, "Patient/p1", "Encounter/e1")
    validate_resource(rp, expected_type="RelatedPerson")
    validate_resource(ai, expected_type="AllergyIntolerance")
    validate_resource(co, expected_type="Condition")
    assert rp["relationship"][0]["coding"][0]["system"].endswith("v2-0063")
    assert ai["category"] == ["medication"] and ai["reaction"][0]["severity"] == "severe"
    assert co["code"]["coding"][0]["system"] == "http://hl7.org/fhir/sid/icd-10"


def test_dates() -> None:
    assert fhir_datetime("20260301") == "2026-03-01"
    assert fhir_datetime("202603011305") == "2026-03-01T13:05:00Z"
    assert fhir_datetime("20260301130502+0100") == "2026-03-01T13:05:02+01:00"
    assert fhir_datetime("soon") is None


def test_nak_for_an_unparsed_message_names_its_control_id() -> None:
    ack = ack_for_raw(b"MSH|^~\\&|EHR|HOSP|B|W|2026||ORU^R01|C-9|P|2.5\rOBX|x", "AE", "bad | value")
    parsed = hl7.parse_ack(ack)
    assert parsed["code"] == "AE" and parsed["control"] == "C-9"
    assert parsed["text"] == "bad \\F\\ value"  # the reason is escaped, the ACK stays parseable


def test_mllp_frames_skip_noise_and_refuse_oversize() -> None:
    async def frames(data: bytes, limit: int) -> list[bytes | None]:
        reader = asyncio.StreamReader()
        reader.feed_data(data)
        reader.feed_eof()
        out: list[bytes | None] = []
        while True:
            got = await read_frame(reader, limit)
            out.append(got)
            if got is None:
                return out

    def run(data: bytes, limit: int) -> list[bytes | None]:
        # a loop of its own in a thread of its own: an earlier module's (Playwright's) loop may
        # still count as running in this one
        with ThreadPoolExecutor(max_workers=1) as worker:
            return worker.submit(asyncio.run, frames(data, limit)).result()

    data = b"noise\x0bMSH|one\x1c\x0d\x0bMSH|two\x1c\x0d"
    assert run(data, 1000) == [b"MSH|one", b"MSH|two", None]
    with pytest.raises(FrameTooLarge):
        run(b"\x0b" + b"x" * 5000 + b"\x1c\x0d", 100)
