"""Break-glass grants and their review queue on real SQLite and PostgreSQL.

Time is a controllable clock (``Clock``): the tests move it forward instead of sleeping.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from bedside.auth.caller import Caller
from bedside.auth.scopes import ScopeSet
from bedside.errors import Conflict, FhirError, Forbidden, InvalidRequest, NotFound, Unauthorized
from bedside.policy import breakglass
from bedside.policy.decide import break_glass_grants
from bedside.policy.rules import PolicyRules
from bedside.rest import FhirRequest, Repository
from bedside.store import Store
from bedside.store.base import Records

RULES = PolicyRules.default()
T0 = 1_700_000_000.0  # 2023-11-14T22:13:20Z


class Clock:
    """A clock the test advances by hand (UNIX seconds)."""

    def __init__(self, start: float = T0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def doctor(
    clock: Clock, *, subject: str = "u-doc", ref: str = "Practitioner/9", signed_in_ago: int = 60
) -> Caller:
    return Caller(
        subject,
        ScopeSet.parse("user/*.cruds"),
        client_id="ehr",
        fhir_user=ref,
        role="doctor",
        auth_time=int(clock()) - signed_in_ago,
    )


def reason(text: str) -> dict[str, Any]:
    return {"resourceType": "Parameters", "parameter": [{"name": "reason", "valueString": text}]}


@pytest.fixture
def patients(repo: Repository) -> list[str]:
    for pid in ("p1", "p2"):
        body = {"resourceType": "Patient", "id": pid, "name": [{"family": "Glass"}]}
        assert repo.handle(FhirRequest("PUT", f"Patient/{pid}", body=body)).status == 201
    return ["p1", "p2"]


@contextmanager
def writing(store: Store) -> Iterator[Records]:
    with store.records(write=True) as db:
        yield db


def exists(store: Store, pid: str) -> bool:
    with store.read() as session:
        found = session.current("Patient", pid)
    return found is not None and not found.deleted


def start(store: Store, caller: Caller, pid: str, body: Any, clock: Clock) -> tuple[dict, str]:
    """What the Repository's $break-glass operation does: one write transaction."""
    with writing(store) as db:
        return breakglass.start(db, caller, exists(store, pid), pid, body, rules=RULES, now=clock())


def refused(store: Store, caller: Caller, pid: str, body: Any, clock: Clock) -> FhirError:
    with pytest.raises(FhirError) as info:
        start(store, caller, pid, body, clock)
    return info.value


def grant_count(store: Store) -> int:
    with store.records() as db:
        row = db.one("SELECT COUNT(*) FROM break_glass")
    return int(row[0]) if row else 0


# --- starting break-glass -----------------------------------------------------------------------


def test_success_grants_access_until_expiry_and_not_after(
    store: Store, patients: list[str]
) -> None:
    clock = Clock()
    response, grant_id = start(store, doctor(clock), "p1", reason("Unconscious in A&E"), clock)
    assert grant_id.startswith("bg-")
    params = {p["name"]: p for p in response["parameter"]}
    assert response["resourceType"] == "Parameters"
    assert params["grant"]["valueString"] == grant_id
    assert params["patient"]["valueReference"] == {"reference": "Patient/p1"}
    assert params["expires"]["valueInstant"] == "2023-11-14T23:13:20Z"
    assert "reviewer" in params["message"]["valueString"]
    assert "Unconscious" not in params["message"]["valueString"]

    with store.records() as db:
        row = db.one(
            "SELECT user_id, user_ref, patient, reason, started_at, expires_at, review_status"
            " FROM break_glass WHERE id = ?",
            [grant_id],
        )
        active = break_glass_grants(db, "Practitioner/9", clock())
    assert row == ("u-doc", "Practitioner/9", "p1", "Unconscious in A&E", int(T0),
                   int(T0) + 3600, "open")  # fmt: skip
    assert [(a.patient, a.basis, a.source, a.until) for a in active] == [
        ("p1", "break-glass", f"break-glass/{grant_id}", T0 + 3600)
    ]

    clock.advance(3599)
    with store.records() as db:
        assert [a.patient for a in break_glass_grants(db, "Practitioner/9", clock())] == ["p1"]
        assert break_glass_grants(db, "Practitioner/10", clock()) == []
    clock.advance(1)
    with store.records() as db:
        assert break_glass_grants(db, "Practitioner/9", clock()) == []


def test_the_reason_is_stored_stripped(store: Store, patients: list[str]) -> None:
    clock = Clock()
    _, grant_id = start(store, doctor(clock), "p2", reason("  crash call \n"), clock)
    with store.records() as db:
        assert db.one("SELECT reason FROM break_glass WHERE id = ?", [grant_id]) == ("crash call",)


@pytest.mark.parametrize("text", ["", "   ", "\n\t "])
def test_empty_or_whitespace_reason_is_400(store: Store, patients: list[str], text: str) -> None:
    clock = Clock()
    exc = refused(store, doctor(clock), "p1", reason(text), clock)
    assert isinstance(exc, InvalidRequest) and exc.status == 400
    assert exc.message == "Give a reason for break-glass access."
    assert grant_count(store) == 0


@pytest.mark.parametrize(
    "body",
    [
        None,
        {"reason": "emergency"},
        {"resourceType": "Patient", "parameter": [{"name": "reason", "valueString": "x"}]},
        {"resourceType": "Parameters"},
        {"resourceType": "Parameters", "parameter": [{"name": "reason", "valueInteger": 1}]},
        {"resourceType": "Parameters", "parameter": "reason"},
    ],
)
def test_missing_parameters_or_reason_is_400(store: Store, patients: list[str], body: Any) -> None:
    clock = Clock()
    exc = refused(store, doctor(clock), "p1", body, clock)
    assert exc.status == 400
    assert grant_count(store) == 0


def test_over_long_reason_is_400(store: Store, patients: list[str]) -> None:
    clock = Clock()
    start(store, doctor(clock), "p1", reason("x" * 1000), clock)
    exc = refused(store, doctor(clock), "p1", reason("x" * 1001), clock)
    assert exc.status == 400 and "1000" in exc.message
    assert grant_count(store) == 1


def test_stale_sign_in_is_401_with_a_step_up_challenge(store: Store, patients: list[str]) -> None:
    clock = Clock()
    exc = refused(store, doctor(clock, signed_in_ago=301), "p1", reason("arrest"), clock)
    assert isinstance(exc, Unauthorized) and exc.status == 401
    assert exc.message == "Break-glass needs a recent sign-in: sign in again and retry."
    assert exc.headers["WWW-Authenticate"] == (
        'Bearer error="insufficient_user_authentication", '
        'error_description="A more recent authentication is required", max_age=300'
    )
    start(store, doctor(clock, signed_in_ago=300), "p1", reason("arrest"), clock)  # at the limit


def test_no_auth_time_is_401(store: Store, patients: list[str]) -> None:
    clock = Clock()
    caller = Caller("u-doc", ScopeSet.parse("user/*.rs"), fhir_user="Practitioner/9", role="doctor")
    assert refused(store, caller, "p1", reason("arrest"), clock).status == 401


def test_step_up_is_checked_before_the_body(store: Store, patients: list[str]) -> None:
    clock = Clock()
    assert refused(store, doctor(clock, signed_in_ago=3600), "p1", None, clock).status == 401


@pytest.mark.parametrize(
    "caller",
    [
        Caller("u-ana", ScopeSet.parse("patient/*.rs"), fhir_user="Patient/p1", role="patient",
               auth_time=int(T0)),
        Caller("u-aud", ScopeSet.parse("user/AuditEvent.rs"), fhir_user="Practitioner/3",
               role="auditor", auth_time=int(T0)),
        Caller("lab-feed", ScopeSet.parse("system/*.cruds"), client_id="lab-feed"),
        Caller("u-doc", ScopeSet.parse("user/*.rs"), role="doctor", auth_time=int(T0)),
    ],
    ids=["patient", "auditor", "service", "doctor-without-fhirUser"],
)  # fmt: skip
def test_roles_without_break_glass_are_403_before_anything_else(
    store: Store, patients: list[str], caller: Caller
) -> None:
    exc = refused(store, caller, "nobody", None, Clock())
    assert isinstance(exc, Forbidden) and exc.status == 403
    assert exc.message == "Your role cannot use break-glass."


def test_unknown_patient_is_404(store: Store, patients: list[str]) -> None:
    clock = Clock()
    exc = refused(store, doctor(clock), "p404", reason("arrest"), clock)
    assert isinstance(exc, NotFound) and exc.status == 404
    assert grant_count(store) == 0


# --- the review queue ---------------------------------------------------------------------------


def test_review_queue_lists_open_grants_oldest_first_and_closes_each_once(
    store: Store, patients: list[str]
) -> None:
    clock = Clock()
    _, first = start(store, doctor(clock), "p1", reason("arrest"), clock)
    clock.advance(60)
    _, second = start(store, doctor(clock), "p2", reason("unconscious"), clock)
    with store.records() as db:
        queue = breakglass.review_queue(db)
    assert [i["id"] for i in queue] == [first, second]
    assert queue[0]["user"] == "Practitioner/9" and queue[0]["patient"] == "Patient/p1"
    assert queue[0]["reason"] == "arrest" and queue[0]["status"] == "open"
    assert queue[0]["started"] == "2023-11-14T22:13:20Z"

    clock.advance(600)
    with store.records(write=True) as db:
        closed = breakglass.close(
            db, first, reviewer="Practitioner/3", outcome="justified", note="ok", now=clock()
        )
    assert closed["status"] == "closed" and closed["outcome"] == "justified"
    assert closed["reviewed_by"] == "Practitioner/3"
    assert closed["reviewed_at"] == "2023-11-14T22:24:20Z"
    with store.records() as db:
        assert [i["id"] for i in breakglass.review_queue(db)] == [second]
        assert [i["id"] for i in breakglass.review_queue(db, status="closed")] == [first]
        assert [i["id"] for i in breakglass.review_queue(db, status=None)] == [second, first]
        assert [i["id"] for i in breakglass.review_queue(db, status="all", limit=1)] == [second]
        # closing the review does not end the grant: its expiry does
        assert len(break_glass_grants(db, "Practitioner/9", clock())) == 2

    with pytest.raises(Conflict), store.records(write=True) as db:
        breakglass.close(
            db, first, reviewer="Practitioner/4", outcome="not-justified", note=None, now=clock()
        )
    with store.records() as db:
        again = breakglass.review_queue(db, status="closed")
    assert again[0]["outcome"] == "justified" and again[0]["reviewed_by"] == "Practitioner/3"


def test_closing_an_unknown_grant_is_404(store: Store) -> None:
    with pytest.raises(NotFound), store.records(write=True) as db:
        breakglass.close(
            db, "bg-nope", reviewer="Practitioner/3", outcome="justified", note=None, now=T0
        )


def test_outcome_must_be_one_of_the_three(store: Store, patients: list[str]) -> None:
    clock = Clock()
    _, grant_id = start(store, doctor(clock), "p1", reason("arrest"), clock)
    with pytest.raises(InvalidRequest), store.records(write=True) as db:
        breakglass.close(
            db, grant_id, reviewer="Practitioner/3", outcome="fine", note=None, now=clock()
        )
    for outcome in breakglass.OUTCOMES:
        _, grant_id = start(store, doctor(clock), "p1", reason("arrest"), clock)
        with store.records(write=True) as db:
            item = breakglass.close(
                db, grant_id, reviewer="Practitioner/3", outcome=outcome, note=None, now=clock()
            )
        assert item["outcome"] == outcome and item["note"] is None


def test_nobody_reviews_their_own_break_glass(store: Store, patients: list[str]) -> None:
    clock = Clock()
    _, grant_id = start(store, doctor(clock), "p1", reason("arrest"), clock)
    with pytest.raises(Forbidden), store.records(write=True) as db:
        breakglass.close(
            db, grant_id, reviewer="Practitioner/9", outcome="justified", note=None, now=clock()
        )


def test_unknown_status_filter_is_400(store: Store) -> None:
    with pytest.raises(InvalidRequest), store.records() as db:
        breakglass.review_queue(db, status="pending")


# --- monitoring counts --------------------------------------------------------------------------


def test_stats_count_per_user_and_hour_without_patients_or_reasons(
    store: Store, patients: list[str]
) -> None:
    clock = Clock(1_700_002_800.0)  # 2023-11-14T23:00:00Z
    start(store, doctor(clock), "p1", reason("secret-reason-a"), clock)
    clock.advance(1800)  # 23:30
    start(store, doctor(clock), "p2", reason("secret-reason-b"), clock)
    nurse = doctor(clock, subject="u-nurse", ref="Practitioner/12")
    start(store, nurse, "p2", reason("secret-reason-c"), clock)
    clock.advance(3600)  # 2023-11-15T00:30:00Z
    nurse = doctor(clock, subject="u-nurse", ref="Practitioner/12")  # signed in again
    start(store, nurse, "p1", reason("secret-reason-d"), clock)
    clock.advance(1800)  # 01:00, the first grant has expired at 00:00

    with store.records() as db:
        counts = breakglass.stats(db, now=clock(), hours=3)
    assert counts["from"] == "2023-11-14T23:00:00Z" and counts["to"] == "2023-11-15T01:00:00Z"
    assert counts["total"] == 4
    assert counts["per_user"] == [
        {"user": "Practitioner/12", "count": 2},
        {"user": "Practitioner/9", "count": 2},
    ]
    assert counts["per_hour"] == [
        {"hour": "2023-11-14T23:00:00Z", "count": 3},
        {"hour": "2023-11-15T00:00:00Z", "count": 1},
        {"hour": "2023-11-15T01:00:00Z", "count": 0},
    ]
    assert counts["active"] == 1  # only the 00:30 grant is still running at 01:00
    assert counts["open_reviews"] == 4
    text = repr(counts)
    assert "secret-reason" not in text and "p1" not in text and "p2" not in text

    with store.records() as db:
        assert breakglass.stats(db, now=clock(), hours=1)["total"] == 0
        with pytest.raises(InvalidRequest):
            breakglass.stats(db, now=clock(), hours=0)
