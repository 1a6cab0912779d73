"""Task access by the patient it is ``for`` (ADR 0018, docs/policy.md "Tasks"), on each backend.

A clinician who may change a patient's record reads, searches and updates that patient's Tasks;
a Task for a stranger stays invisible (404, absent from searches) whoever owns or requested it,
and no Task write can widen its writer's access: not by naming themselves owner, not by moving a
Task to a stranger, not by a Task that is for no patient at all.
"""

from __future__ import annotations

from typing import Any

import pytest

from bedside.errors import FhirError, Forbidden
from bedside.rest import FhirRequest, Repository
from bedside.store import Store
from tests.integration._policy_world import DOC, Hospital, build, get, ids, status

NURSE = DOC  # the world's clinician, acting in the nurse role


@pytest.fixture
def hospital(store: Store) -> Hospital:
    world = build(store)
    for patient in ("p-team", "p-ward", "p-stranger"):
        assert world.put(task(f"task-{patient}", patient)).status in (200, 201)
    owned = task("task-stranger-mine", "p-stranger")
    owned["owner"] = {"reference": NURSE}
    assert world.put(owned).status in (200, 201)
    return world


def task(tid: str, patient: str | None, status: str = "requested") -> dict[str, Any]:
    body: dict[str, Any] = {
        "resourceType": "Task",
        "id": tid,
        "status": status,
        "intent": "order",
        "description": "Change the dressing",
    }
    if patient is not None:
        body["for"] = {"reference": f"Patient/{patient}"}
    return body


def nurse(hospital: Hospital) -> Repository:
    return hospital.as_user("nurse", NURSE)


def write(repo: Repository, method: str, resource: dict[str, Any]) -> FhirError | int:
    path = resource["resourceType"] + (f"/{resource['id']}" if method == "PUT" else "")
    try:
        return repo.handle(FhirRequest(method, path, body=resource)).status
    except FhirError as exc:
        return exc


def test_a_nurse_reads_and_searches_the_tasks_of_patients_she_reaches_only(
    hospital: Hospital,
) -> None:
    repo = nurse(hospital)
    assert ids(get(repo, "Task")) == {"task-p-team", "task-p-ward"}
    assert status(repo, "Task/task-p-ward") == 200
    # owner or not, a Task for a stranger is as if it did not exist
    assert status(repo, "Task/task-p-stranger") == 404
    assert status(repo, "Task/task-stranger-mine") == 404
    assert ids(get(repo, "Task", ("owner", NURSE))) == set()


def test_a_nurse_moves_a_task_on_but_may_not_create_one(hospital: Hospital) -> None:
    repo = nurse(hospital)
    assert write(repo, "PUT", task("task-p-team", "p-team", "in-progress")) == 200
    body = get(hospital.operator(), "Task/task-p-team").resource
    assert body is not None and body["status"] == "in-progress"
    created = write(repo, "POST", task("new", "p-team"))
    assert isinstance(created, Forbidden) and "does not allow create on Task" in created.message


def test_a_task_write_never_widens_the_writers_access(hospital: Hospital) -> None:
    repo = nurse(hospital)
    # moving my patient's Task to a stranger: the stranger's record is not mine to change
    moved = task("task-p-team", "p-stranger")
    assert isinstance(write(repo, "PUT", moved), Forbidden)
    # naming myself the owner of a stranger's Task does not reach it either
    grab = task("task-stranger-mine", "p-stranger", "accepted")
    grab["owner"] = {"reference": NURSE}
    assert isinstance(write(repo, "PUT", grab), Forbidden)
    # a Task for no patient lies outside every compartment: refused, nothing stored
    floating = task("task-p-ward", None)
    assert isinstance(write(repo, "PUT", floating), Forbidden)
    # nothing changed, and the nurse still reaches exactly what she did
    operator = hospital.operator()
    for tid, patient in (("task-p-team", "p-team"), ("task-p-ward", "p-ward")):
        body = get(operator, f"Task/{tid}").resource
        assert body is not None and body["for"]["reference"] == f"Patient/{patient}"
    stranger = get(operator, "Task/task-stranger-mine").resource
    assert stranger is not None and stranger["status"] == "requested"
    assert ids(get(repo, "Task")) == {"task-p-team", "task-p-ward"}
    assert status(repo, "Patient/p-stranger") == 404


def test_a_patients_own_view_does_not_list_care_tasks_by_default(hospital: Hospital) -> None:
    patient = hospital.as_user("patient", "Patient/p-team", "user/*.rs")
    with pytest.raises(Forbidden):
        get(patient, "Task")
