"""Which patients a request names, for the audit entry of a refusal (bedside.rest.targets)."""

from __future__ import annotations

import pytest

from bedside.rest.targets import named_patients


@pytest.mark.parametrize(
    ("rtype", "params", "expected"),
    [
        ("Observation", [("patient", "b")], {"b"}),
        ("Observation", [("patient", "Patient/b,Patient/c")], {"b", "c"}),
        ("Observation", [("subject", "Patient/b")], {"b"}),
        ("Observation", [("subject:Patient", "b")], {"b"}),
        ("Observation", [("subject", "http://elsewhere.test/fhir/Patient/b")], {"b"}),
        ("Observation", [("subject", "Patient/b/_history/2")], {"b"}),
        ("Observation", [("performer", "Patient/m")], {"m"}),
        ("Patient", [("_id", "b,c")], {"b", "c"}),
        ("Patient", [("link", "Patient/c")], {"c"}),
        # not a patient: another type, a bare id where the target type is open, other params
        ("Observation", [("subject", "Group/g")], set()),
        ("Observation", [("subject", "b")], set()),
        ("Observation", [("subject", "MyPatient/b")], set()),
        ("Observation", [("code", "Patient/b")], set()),
        ("Observation", [("_id", "b")], set()),
        ("Observation", [("unknown", "Patient/b")], set()),
        ("Observation", [("patient", "")], set()),
    ],
)
def test_named_patients(rtype: str, params: list[tuple[str, str]], expected: set[str]) -> None:
    assert named_patients(rtype, params) == expected
