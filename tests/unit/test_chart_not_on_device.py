"""A chart of a patient the device holds nothing of (break-glass offline) never reads as "none".

Offline break-glass opens a patient outside the working set; the device usually holds none of
their record. Under time pressure "No allergies recorded" reads as "no allergies": so when the
patient's own record is not on the device, the banner and every empty section say that the
device does not know (hazard H-40).
"""

from __future__ import annotations

from bedside.device.app.summary import summarise
from bedside.device.chart import ChartItem


def _patient(pid: str) -> ChartItem:
    resource = {"resourceType": "Patient", "id": pid, "name": [{"family": "Quennell"}]}
    return ChartItem("Patient", pid, pid, "1", "synced", 0.0, resource)


def test_a_patient_not_on_the_device_is_never_shown_as_having_none() -> None:
    summary = summarise("p9", [], {})
    assert "not on this device" in summary.banner.allergy
    assert summary.banner.name == "Name not on this device"
    for section in summary.sections:
        assert section.empty.startswith("Not on this device"), section.key


def test_a_patient_on_the_device_with_nothing_recorded_says_so() -> None:
    summary = summarise("p1", [_patient("p1")], {})
    assert summary.banner.allergy == "Allergies not recorded"
    allergies = next(s for s in summary.sections if s.key == "allergies")
    assert allergies.empty == "No allergies recorded."
