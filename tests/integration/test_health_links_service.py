"""SMART Health Links at the service level on SQLite and PostgreSQL (bedside.healthlinks): the
Bundle holds only the patient's chosen data, ``exp`` is honoured, ``recipient`` is required and
recorded in the audit chain, wrong passcodes count down and then disable the link, and revoke
ends it at once."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import orjson
import pytest

from bedside.audit.chain import AuditLog
from bedside.audit.entry import NullAuditor
from bedside.audit.verify import verify
from bedside.auth.caller import Caller
from bedside.auth.scopes import ScopeSet
from bedside.consent.evaluate import shares_for
from bedside.errors import Forbidden, InvalidRequest, NotFound
from bedside.healthlinks import files, payload
from bedside.healthlinks.service import HealthLinks
from bedside.policy.decide import Policy
from bedside.rest import FhirRequest, Repository
from bedside.store import Store
from tests.conftest import BASE, OPERATOR

ROOT = BASE.removesuffix("/fhir")


class Clock:
    def __init__(self) -> None:
        self.now = 1_900_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def audit(store: Store) -> Iterator[AuditLog]:
    log = AuditLog(store, server=BASE)
    yield log
    log.close()


@pytest.fixture
def links(store: Store, audit: AuditLog, clock: Clock) -> HealthLinks:
    from bedside.policy.decide import Policy

    return HealthLinks(
        store,
        root=ROOT,
        fhir_base=BASE,
        policy=Policy(clock=clock, consents=shares_for),
        auditor=audit,
        clock=clock,
    )


def _put(store: Store, resource: dict[str, Any]) -> None:
    repo = Repository(
        store, OPERATOR, BASE, policy=Policy(consents=shares_for), auditor=NullAuditor()
    )
    repo.handle(FhirRequest("PUT", f"{resource['resourceType']}/{resource['id']}", body=resource))


@pytest.fixture
def world(store: Store) -> dict[str, str]:
    for pid in ("p1", "p2"):
        _put(store, {"resourceType": "Patient", "id": pid, "name": [{"family": pid}]})
        _put(
            store,
            {
                "resourceType": "Observation",
                "id": f"obs-{pid}",
                "status": "final",
                "code": {"text": "Haemoglobin"},
                "subject": {"reference": f"Patient/{pid}"},
                "valueQuantity": {"value": 131, "unit": "g/L"},
            },
        )
    _put(
        store,
        {
            "resourceType": "Condition",
            "id": "cond-p1",
            "code": {"text": "Asthma"},
            "subject": {"reference": "Patient/p1"},
        },
    )
    return {"patient": "p1"}


def patient_caller(pid: str = "p1") -> Caller:
    return Caller(
        f"user-{pid}",
        ScopeSet.parse("patient/*.rs patient/Consent.cu"),
        client_id="bedside-portal",
        patient=pid,
        fhir_user=f"Patient/{pid}",
        role="patient",
    )


def _link_id(made_url: str) -> str:
    return made_url.rsplit("/", 1)[1]


def test_the_file_holds_only_the_chosen_data_of_the_patient(
    links: HealthLinks, world: dict[str, str]
) -> None:
    made = links.make(patient_caller(), what=["results"], label="Blood tests", passcode=None)
    answer = links.manifest(made.id, {"recipient": "Clinic reception"})
    assert answer.status == 200
    assert answer.body["status"] == "finalized"
    (file,) = answer.body["files"]
    assert file["contentType"] == files.FHIR_JSON
    ctype, plain = files.decrypt(file["embedded"], made.payload.key)
    assert ctype == files.FHIR_JSON
    bundle = orjson.loads(plain)
    refs = {f"{e['resource']['resourceType']}/{e['resource']['id']}" for e in bundle["entry"]}
    assert refs == {"Patient/p1", "Observation/obs-p1"}  # no Condition, nothing of p2
    assert made.counts["Observation"] == 1
    assert payload.parse(made.viewer_url) == made.payload


def test_the_key_is_not_stored(store: Store, links: HealthLinks, world: dict[str, str]) -> None:
    made = links.make(patient_caller(), what=["results", "conditions"], passcode="2468")
    with store.records() as db:
        rows = db.rows("SELECT * FROM health_links")
    assert rows and made.payload.key not in repr(rows)
    assert "2468" not in repr(rows)


def test_recipient_is_required(links: HealthLinks, world: dict[str, str]) -> None:
    made = links.make(patient_caller(), what=["results"])
    for body in ({}, {"recipient": "  "}, {"recipient": 7}, [], "x", {"recipient": "a\x00"}):
        with pytest.raises(InvalidRequest):
            links.manifest(made.id, body)


def test_exp_is_honoured(links: HealthLinks, clock: Clock, world: dict[str, str]) -> None:
    made = links.make(patient_caller(), what=["results"], days=2)
    assert made.payload.exp == int(clock.now) + 2 * 86400
    clock.now += 2 * 86400 - 1
    assert links.manifest(made.id, {"recipient": "A GP"}).status == 200
    clock.now += 1
    answer = links.manifest(made.id, {"recipient": "A GP"})
    assert answer.status == 404 and "files" not in answer.body


def test_wrong_passcodes_count_down_then_the_link_is_disabled(
    links: HealthLinks, world: dict[str, str]
) -> None:
    made = links.make(patient_caller(), what=["results"], passcode="open-sesame")
    assert made.payload.flag == "P"
    left = []
    for guess in (None, "wrong", "wrong", "wrong"):
        answer = links.manifest(made.id, {"recipient": "Someone", "passcode": guess})
        assert answer.status == 401 and "files" not in answer.body
        left.append(answer.body["remainingAttempts"])
    assert left == [4, 3, 2, 1]
    assert links.manifest(made.id, {"recipient": "Dr B", "passcode": "open-sesame"}).status == 200
    answer = links.manifest(made.id, {"recipient": "Someone", "passcode": "nope"})
    assert answer.status == 401 and answer.body["remainingAttempts"] == 0
    # Disabled: even the right passcode is refused now.
    assert links.manifest(made.id, {"recipient": "Dr B", "passcode": "open-sesame"}).status == 404
    assert links.links(patient_caller())[0].status == "disabled"


def test_revoke_ends_a_link_at_once_and_only_the_owner_may(
    links: HealthLinks, world: dict[str, str]
) -> None:
    made = links.make(patient_caller(), what=["results"])
    with pytest.raises(NotFound):
        links.revoke(patient_caller("p2"), made.id)
    assert links.manifest(made.id, {"recipient": "A"}).status == 200
    links.revoke(patient_caller(), made.id)
    assert links.manifest(made.id, {"recipient": "A"}).status == 404
    with pytest.raises(NotFound):
        links.revoke(patient_caller(), made.id)
    assert links.links(patient_caller("p2")) == []


def test_only_a_patient_makes_links_of_their_own_record(
    links: HealthLinks, world: dict[str, str]
) -> None:
    doctor = Caller("doc", ScopeSet.parse("user/*.rs"), fhir_user="Practitioner/9", role="doctor")
    with pytest.raises(Forbidden):
        links.make(doctor, what=["results"])
    read_only = Caller(
        "user-p1",
        ScopeSet.parse("patient/*.rs"),
        patient="p1",
        fhir_user="Patient/p1",
        role="patient",
    )
    with pytest.raises(Forbidden):  # a read-only app of the patient's cannot share
        links.make(read_only, what=["results"])
    with pytest.raises(InvalidRequest):
        links.make(patient_caller(), what=["everything"])
    with pytest.raises(InvalidRequest):
        links.make(patient_caller(), what=["results"], label="x" * 81)
    with pytest.raises(InvalidRequest):  # PostgreSQL text cannot hold NUL; no control characters
        links.make(patient_caller(), what=["results"], label="a\x00b")


def test_each_manifest_request_is_audited_with_its_recipient(
    store: Store, links: HealthLinks, audit: AuditLog, world: dict[str, str]
) -> None:
    made = links.make(patient_caller(), what=["results"], passcode="1357")
    links.manifest(made.id, {"recipient": "Dr Okafor, Lung clinic", "passcode": "0000"})
    links.manifest(made.id, {"recipient": "Dr Okafor, Lung clinic", "passcode": "1357"})
    links.revoke(patient_caller(), made.id)
    links.manifest(made.id, {"recipient": "Late visitor", "passcode": "1357"})
    with store.records() as db:
        rows = db.rows("SELECT content FROM audit_log ORDER BY n")
    events = [orjson.loads(r[0]) for r in rows]
    opened = [e for e in events if e["subtype"][0]["code"] == "shl-manifest"]
    assert [(e["agent"][0]["who"]["display"], e["outcome"]) for e in opened] == [
        ("Dr Okafor, Lung clinic", "4"),
        ("Dr Okafor, Lung clinic", "0"),
        ("Late visitor", "4"),
    ]
    for e in opened:
        assert {"what": {"reference": "Patient/p1"}}.items() <= e["entity"][0].items()
        assert "Okafor" not in e.get("outcomeDesc", "")  # the name is not in loggable words
    kinds = [e["subtype"][0]["code"] for e in events if e["subtype"][0]["code"].startswith("shl")]
    assert kinds[0] == "shl-create" and "shl-revoke" in kinds
    with store.records() as db:
        assert verify(db).ok


def test_a_link_to_one_result_holds_that_result_alone(
    links: HealthLinks, world: dict[str, str]
) -> None:
    made = links.make(patient_caller(), what=[], result="obs-p1")
    assert made.counts == {"Observation": 1}
    answer = links.manifest(made.id, {"recipient": "A pharmacist"})
    _, plain = files.decrypt(answer.body["files"][0]["embedded"], made.payload.key)
    refs = [
        f"{e['resource']['resourceType']}/{e['resource']['id']}"
        for e in orjson.loads(plain)["entry"]
    ]
    assert refs == ["Patient/p1", "Observation/obs-p1"]
    assert links.links(patient_caller())[0].what == ("one-result",)
    for other in ("obs-p2", "cond-p1x", "\x00"):
        with pytest.raises(NotFound):
            links.make(patient_caller(), what=[], result=other)


def test_guesses_at_once_cannot_share_an_attempt(
    store: Store, audit: AuditLog, clock: Clock, world: dict[str, str]
) -> None:
    from concurrent.futures import ThreadPoolExecutor

    from bedside.policy.decide import Policy

    links = HealthLinks(
        store,
        root=ROOT,
        fhir_base=BASE,
        policy=Policy(clock=clock, consents=shares_for),
        auditor=audit,
        clock=clock,
        attempts=3,
    )
    made = links.make(patient_caller(), what=["results"], passcode="right-one")
    with ThreadPoolExecutor(max_workers=8) as pool:
        answers = list(
            pool.map(
                lambda i: links.manifest(made.id, {"recipient": f"guess {i}", "passcode": "no"}),
                range(8),
            )
        )
    left = sorted(a.body["remainingAttempts"] for a in answers if a.status == 401)
    assert left == [0, 1, 2]  # each attempt spent once, the last one disables the link
    assert sorted(a.status for a in answers) == [401, 401, 401, 404, 404, 404, 404, 404]
    assert links.manifest(made.id, {"recipient": "x", "passcode": "right-one"}).status == 404


def test_a_file_larger_than_embedded_length_max_comes_by_a_short_lived_location(
    links: HealthLinks, clock: Clock, world: dict[str, str]
) -> None:
    from bedside.healthlinks.service import TICKET_SECONDS

    made = links.make(patient_caller(), what=["results"])
    small = links.manifest(made.id, {"recipient": "A GP", "embeddedLengthMax": 10})
    (file,) = small.body["files"]
    assert "embedded" not in file
    assert file["location"].startswith(f"{ROOT}/shl/f/")
    ticket = file["location"].rsplit("/", 1)[1]
    jwe = links.file(ticket)
    assert jwe is not None
    _, plain = files.decrypt(jwe, made.payload.key)
    assert orjson.loads(plain)["resourceType"] == "Bundle"
    big = links.manifest(made.id, {"recipient": "A GP", "embeddedLengthMax": 10**9})
    assert big.body["files"][0]["embedded"] == jwe
    for bad in (-1, "10", True, 1.5):
        with pytest.raises(InvalidRequest):
            links.manifest(made.id, {"recipient": "A GP", "embeddedLengthMax": bad})
    clock.now += TICKET_SECONDS
    assert links.file(ticket) is None  # the location lives a short while only
    again = links.manifest(made.id, {"recipient": "A GP", "embeddedLengthMax": 0})
    ticket = again.body["files"][0]["location"].rsplit("/", 1)[1]
    links.revoke(patient_caller(), made.id)
    assert links.file(ticket) is None  # nor past its link
    assert links.file("x" * 43) is None and links.file("\x00") is None
