"""The note and sign-off resources the clinician app writes (bedside.device.notes)."""

from __future__ import annotations

import base64

from bedside.device.notes import (
    is_note_draft,
    note_resource,
    note_text,
    note_title,
    sign_state,
    signable,
    signed_off,
)
from bedside.fhir.structure import check_resource

AT = 1_764_806_400.0  # 2025-12-04T00:00:00Z


def test_a_note_is_a_valid_preliminary_progress_note_whose_text_reads_back() -> None:
    note = note_resource("p1", "Sore throat.\nNo fever — ok.", author="Practitioner/x", at=AT)
    assert check_resource({**note, "id": "n1"}, "DocumentReference") == []
    assert note["docStatus"] == "preliminary" and note["status"] == "current"
    assert note["date"] == "2025-12-04T00:00:00.000Z"
    assert note_text(note) == "Sore throat.\nNo fever — ok."
    assert note_title(note) == "Progress note" and is_note_draft(note)
    assert signable(note) and sign_state(note) == "waiting for sign-off"
    assert "author" not in note_resource("p1", "x", at=AT)


def test_text_that_is_not_plain_or_not_utf8_reads_as_nothing() -> None:
    pdf = {"content": [{"attachment": {"contentType": "application/pdf", "data": "JVBERi0="}}]}
    bad = base64.b64encode(b"\xff\xfe").decode()
    broken = {"content": [{"attachment": {"contentType": "text/plain", "data": bad}}]}
    assert note_text(pdf) == note_text(broken) == note_text({}) == ""
    assert not is_note_draft({"resourceType": "QuestionnaireResponse"})


def test_signing_off_names_the_signer_and_is_done_once() -> None:
    note = {**note_resource("p1", "x", at=AT), "id": "n1", "meta": {"versionId": "3"}}
    signed = signed_off(note, "Practitioner/d1", at=AT)
    assert signed["docStatus"] == "final" and "meta" not in signed
    assert signed["authenticator"] == {"reference": "Practitioner/d1"}
    assert not signable(signed) and sign_state(signed) == "signed off"
    summary = {"resourceType": "Composition", "status": "preliminary", "title": "Discharge"}
    done = signed_off(summary, "Practitioner/d1", at=AT)
    assert done["status"] == "final"
    assert done["attester"] == [
        {
            "mode": "legal",
            "time": "2025-12-04T00:00:00.000Z",
            "party": {"reference": "Practitioner/d1"},
        }
    ]
    assert note_title(summary) == "Discharge" and sign_state(done) == "signed off"
    withdrawn = {**note, "status": "entered-in-error"}
    assert not signable(withdrawn) and sign_state(withdrawn) == ""
    assert not signable({"resourceType": "Observation", "status": "preliminary"})
