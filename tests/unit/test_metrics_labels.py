"""The metrics' labels come from closed sets: no request, however hostile, makes a new series,
and nothing a label holds can name a person, a device or a record (docs/operations.md)."""

from __future__ import annotations

import re

from hypothesis import given, settings
from hypothesis import strategies as st

from bedside.audit.entry import MINOR_FAILURE, SUCCESS, AuditEntry
from bedside.metrics.registry import Metrics, route_label


def test_a_path_no_route_took_is_one_series_and_a_deep_fhir_path_another() -> None:
    assert route_label("/no/such/place/Zebulonia", None) == "unmatched"
    assert route_label("/fhir/Patient/p-1/_history/3", {"path": "Patient/p-1/_history/3"}) == (
        "/fhir/Patient/{id}/_history/{vid}"
    )
    assert route_label("/fhir/a/b/c/d/e/f/g", {"path": "a/b/c/d/e/f/g"}) == "/fhir/other"
    assert (
        route_label("/review/r-1234/resolve", {"item_id": "r-1234"}) == "/review/{item_id}/resolve"
    )


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=st.characters(codec="utf-8"), max_size=80))
def test_hostile_fhir_paths_map_to_templates_without_their_text(raw: str) -> None:
    path = "/fhir/" + raw.replace("?", "")
    label = route_label(path, {"path": raw})
    assert label == "/fhir/other" or re.fullmatch(r"/fhir(/[A-Za-z_$.{}\-]*)*", label), label


def test_audit_entries_are_counted_by_closed_sets_only() -> None:
    metrics = Metrics()
    entries = [
        AuditEntry("read", "R", SUCCESS, 0, basis="care-team", patients=("p-secret",)),
        AuditEntry("read", "R", MINOR_FAILURE, 0, basis="consent", description="Zebulonia"),
        AuditEntry("made-up-subtype", "E", SUCCESS, 0, basis="invented-basis"),
        AuditEntry("consent", "U", SUCCESS, 0, description="consent active -> Zebulonia"),
    ]
    metrics.audited(entries)
    metrics.token("x" * 40, "not_an_oauth_code")
    metrics.push({("confirmed", "Zebulonia"): 1})
    text = metrics.render().decode()
    assert "p-secret" not in text and "Zebulonia" not in text and "x" * 40 not in text
    assert 'bedside_access_decisions_total{basis="other",outcome="allowed"} 1.0' in text
    assert "bedside_consent_denials_total 1.0" in text
    assert 'bedside_consent_changes_total{status="other"} 1.0' in text
    assert 'bedside_token_requests_total{grant_type="other",outcome="other"} 1.0' in text
    assert 'bedside_sync_events_total{reason="other",result="confirmed"} 1.0' in text
