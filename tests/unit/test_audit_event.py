"""AuditEvent codings (IHE BALP style) and the determinism the hash chain relies on."""

from __future__ import annotations

import base64

import orjson

from bedside.audit.entry import MINOR_FAILURE, SERIOUS_FAILURE, SUCCESS, AuditEntry
from bedside.audit.event import (
    BEDSIDE_EVENTS,
    DCM,
    EVENT_TYPE,
    RESTFUL,
    canonical,
    indexed,
    instant,
    to_audit_event,
)

SERVER = "https://bedside.example/fhir"


def _search() -> AuditEntry:
    return AuditEntry(
        subtype="search-type",
        action="E",
        outcome=SUCCESS,
        recorded_ms=1_767_225_600_250,  # 2026-01-01T00:00:00.250Z
        user_ref="Practitioner/9",
        subject="u-17",
        client_id="ward-app",
        role="nurse",
        device="tablet-3",
        purpose=("TREAT",),
        patients=("p1", "p2"),
        entities=("Observation/5/_history/2",),
        resource_type="Observation",
        query="patient=p1,p2&code=8867-4",
        network="10.0.0.7",
    )


def _codings(concepts: list[dict[str, object]]) -> list[tuple[object, object]]:
    return [(c["system"], c["code"]) for c in concepts]


def test_search_is_rest_with_restful_interaction_subtype_and_iso_instant() -> None:
    event = to_audit_event(_search(), 42, server=SERVER)
    assert event["resourceType"] == "AuditEvent"
    assert event["id"] == "42"
    assert (event["type"]["system"], event["type"]["code"]) == (EVENT_TYPE, "rest")
    assert _codings(event["subtype"]) == [(RESTFUL, "search-type")]
    assert event["action"] == "E"
    assert event["outcome"] == "0"
    assert event["recorded"] == "2026-01-01T00:00:00.250Z"
    purposes = [c["coding"][0] for c in event["purposeOfEvent"]]
    assert _codings(purposes) == [("http://terminology.hl7.org/CodeSystem/v3-ActReason", "TREAT")]


def test_agents_are_user_then_client_then_device_then_server() -> None:
    event = to_audit_event(_search(), 1, server=SERVER)
    user, client, device, server = event["agent"]
    assert user["requestor"] is True
    assert user["who"]["reference"] == "Practitioner/9"
    assert user["who"]["identifier"]["value"] == "u-17"
    assert user["role"][0]["coding"][0]["code"] == "nurse"
    assert client["requestor"] is False
    assert client["who"]["identifier"] == {
        "system": "urn:ietf:params:oauth:client-id",
        "value": "ward-app",
    }
    assert client["network"] == {"address": "10.0.0.7", "type": "2"}
    assert device["who"]["identifier"]["value"] == "tablet-3"
    assert server["who"]["display"] == "Bedside"
    assert event["source"]["observer"]["display"] == "Bedside"
    assert event["source"]["site"] == SERVER


def test_entities_patient_data_and_base64_query() -> None:
    event = to_audit_event(_search(), 1, server=SERVER)
    patients = [e for e in event["entity"] if e["role"]["code"] == "1"]
    data = [e for e in event["entity"] if e["role"]["code"] == "4"]
    (query,) = [e for e in event["entity"] if e["role"]["code"] == "24"]
    assert [p["what"]["reference"] for p in patients] == ["Patient/p1", "Patient/p2"]
    assert all(p["type"]["code"] == "1" for p in patients)
    assert [d["what"]["reference"] for d in data] == ["Observation/5/_history/2"]
    assert data[0]["type"]["code"] == "2"
    assert base64.b64decode(query["query"]).decode() == "patient=p1,p2&code=8867-4"


def test_sign_in_uses_dicom_user_authentication_and_login() -> None:
    for outcome in (SUCCESS, MINOR_FAILURE):
        entry = AuditEntry("login", "E", outcome, 0, subject="u-1", client_id="app")
        event = to_audit_event(entry, 3, server=SERVER)
        assert (event["type"]["system"], event["type"]["code"]) == (DCM, "110114")
        assert _codings(event["subtype"]) == [(DCM, "110122")]
        assert event["outcome"] == outcome
        assert event["recorded"] == "1970-01-01T00:00:00.000Z"


def test_token_events_consent_and_break_glass_use_the_bedside_code_system() -> None:
    for subtype in ("token-issue", "token-refresh", "token-revoke", "token-reuse", "break-glass"):
        entry = AuditEntry(subtype, "E", SUCCESS, 5, subject="svc", client_id="svc")
        event = to_audit_event(entry, 1, server=SERVER)
        assert event["type"]["code"] == "rest"
        assert _codings(event["subtype"]) == [(BEDSIDE_EVENTS, subtype)]
    glass = AuditEntry("break-glass", "E", SUCCESS, 5, purpose=("BTG",), patients=("p9",))
    event = to_audit_event(glass, 1, server=SERVER)
    assert event["purposeOfEvent"][0]["coding"][0]["code"] == "BTG"


def test_service_subject_is_identified_by_client_id_and_unknown_user_by_display() -> None:
    service = AuditEntry("read", "R", SUCCESS, 0, subject="lab-feed", client_id="lab-feed")
    who = to_audit_event(service, 1, server=SERVER)["agent"][0]["who"]
    assert who == {"identifier": {"system": "urn:ietf:params:oauth:client-id", "value": "lab-feed"}}
    failed = AuditEntry("login", "E", MINOR_FAILURE, 0)
    assert to_audit_event(failed, 1, server=SERVER)["agent"][0]["who"] == {
        "display": "unidentified user"
    }


def test_same_entry_and_position_give_the_same_bytes() -> None:
    a = canonical(to_audit_event(_search(), 7, server=SERVER))
    b = canonical(to_audit_event(_search(), 7, server=SERVER))
    assert a == b
    assert a != canonical(to_audit_event(_search(), 8, server=SERVER))
    assert orjson.loads(a)["id"] == "7"


def test_indexed_fields_read_back_what_the_entry_said() -> None:
    entry = _search()
    fields = indexed(orjson.loads(canonical(to_audit_event(entry, 1, server=SERVER))))
    assert fields.recorded_ms == entry.recorded_ms
    assert fields.recorded == instant(entry.recorded_ms)
    assert (fields.action, fields.subtype, fields.outcome) == ("E", "search-type", "0")
    assert (fields.user_ref, fields.subject, fields.client_id) == (
        "Practitioner/9",
        "u-17",
        "ward-app",
    )
    assert fields.device == "tablet-3"
    assert fields.purpose == "TREAT"
    assert fields.patients == ("p1", "p2")
    reuse = AuditEntry("token-reuse", "E", SERIOUS_FAILURE, 1, purpose=("TREAT", "BTG"))
    back = indexed(to_audit_event(reuse, 2, server=SERVER))
    assert (back.subtype, back.outcome, back.purpose) == ("token-reuse", "8", "TREAT BTG")
    assert back.user_ref is None and back.client_id is None and back.patients == ()


def test_user_agent_type_says_whether_they_received_or_authored_data() -> None:
    def kind(subtype: str, action: str, role: str | None = None) -> list[str]:
        entry = AuditEntry(subtype, action, SUCCESS, 0, user_ref="Patient/p1", role=role)
        return [
            c["code"] for c in to_audit_event(entry, 1, server=SERVER)["agent"][0]["type"]["coding"]
        ]

    assert kind("search-type", "E") == ["IRCP"]
    assert kind("read", "R") == ["IRCP"]
    assert kind("create", "C") == ["AUT"]
    assert kind("patch", "U") == ["AUT"]
    assert kind("delete", "D") == ["AGNT"]
    assert kind("read", "R", "patient") == ["IRCP", "PAT"]
