"""Transaction and batch Bundles (http.html#transaction) on both backends.

Most tests drive :class:`Repository` directly; the all-or-nothing and wrong-Bundle-type checks
also go through the real HTTP server so the status code and OperationOutcome body are the ones a
client sees.
"""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest

from bedside.errors import FhirError
from bedside.fhir.outcome import operation_outcome
from bedside.rest import FhirRequest, Repository
from bedside.store import Store

SYS = "http://bedside.test/mrn"


# --- helpers ---------------------------------------------------------------------------------


def urn() -> str:
    return f"urn:uuid:{uuid.uuid4()}"


def post(url: str, resource: dict[str, Any], full_url: str | None = None, **req: str) -> dict:
    entry: dict[str, Any] = {"resource": resource, "request": {"method": "POST", "url": url, **req}}
    if full_url:
        entry["fullUrl"] = full_url
    return entry


def put(url: str, resource: dict[str, Any], full_url: str | None = None) -> dict:
    entry: dict[str, Any] = {"resource": resource, "request": {"method": "PUT", "url": url}}
    if full_url:
        entry["fullUrl"] = full_url
    return entry


def bare(method: str, url: str, resource: Any = None) -> dict:
    entry: dict[str, Any] = {"request": {"method": method, "url": url}}
    if resource is not None:
        entry["resource"] = resource
    return entry


def transaction(*entries: dict[str, Any], btype: str = "transaction") -> dict[str, Any]:
    return {"resourceType": "Bundle", "type": btype, "entry": list(entries)}


def patient(value: str | None = None, **fields: Any) -> dict[str, Any]:
    res: dict[str, Any] = {"resourceType": "Patient", "name": [{"family": "Okafor"}], **fields}
    if value is not None:
        res["identifier"] = [{"system": SYS, "value": value}]
    return res


def organization(value: str) -> dict[str, Any]:
    return {
        "resourceType": "Organization",
        "name": f"Org {value}",
        "identifier": [{"system": SYS, "value": value}],
    }


def observation(subject: str, **fields: Any) -> dict[str, Any]:
    return {
        "resourceType": "Observation",
        "status": "final",
        "code": {"coding": [{"system": "http://loinc.org", "code": "8867-4"}]},
        "subject": {"reference": subject},
        **fields,
    }


def submit(repo: Repository, bundle: Any, prefer: str | None = None) -> tuple[int, dict]:
    """POST a Bundle to the base: (status, body) as the HTTP layer would answer."""
    try:
        resp = repo.handle(FhirRequest("POST", "", body=bundle, prefer_return=prefer))
    except FhirError as exc:
        return exc.status, operation_outcome(exc.issues)
    assert resp.resource is not None
    return resp.status, resp.resource


def read(repo: Repository, ref: str) -> dict[str, Any]:
    resp = repo.handle(FhirRequest("GET", ref))
    assert resp.status == 200 and resp.resource is not None
    return resp.resource


def search(repo: Repository, rtype: str, **params: str) -> list[dict[str, Any]]:
    resp = repo.handle(FhirRequest("GET", rtype, query=tuple(params.items())))
    assert resp.resource is not None
    return [e["resource"] for e in resp.resource.get("entry", [])]


def max_seq(store: Store) -> int:
    with store.read() as session:
        return session.max_seq()


def ref_of(entry: dict[str, Any]) -> str:
    """Type/id from a response entry's location (…/Type/id/_history/n)."""
    parts = entry["response"]["location"].split("/")
    assert parts[-2] == "_history", entry
    return f"{parts[-4]}/{parts[-3]}"


def diagnostics(outcome: dict[str, Any]) -> str:
    assert outcome["resourceType"] == "OperationOutcome", outcome
    return " ".join(i.get("diagnostics", "") for i in outcome["issue"])


def seed(repo: Repository, *resources: dict[str, Any]) -> list[str]:
    """Create resources outside any Bundle; return their Type/id."""
    out = []
    for r in resources:
        resp = repo.handle(FhirRequest("POST", r["resourceType"], body=r))
        assert resp.status == 201
        assert resp.resource is not None
        out.append(f"{r['resourceType']}/{resp.resource['id']}")
    return out


# --- all or nothing --------------------------------------------------------------------------


def _fifth_entry_invalid_bundle() -> dict[str, Any]:
    p = urn()
    return transaction(
        bare("DELETE", "Patient/keep"),
        post("Patient", patient("tx-1"), p),
        post("Organization", organization("tx-org")),
        put("Patient/client-chosen", {**patient("tx-2"), "id": "client-chosen"}),
        # Entry 4 (the 5th): effectiveDateTime is not a date. It is a PUT, so it runs after
        # entry 3, whose lock has already flushed the earlier writes to the database.
        put("Observation/bad", {**observation(p, effectiveDateTime="yesterday-ish"), "id": "bad"}),
        post("Observation", observation(p)),
    )


def test_transaction_is_all_or_nothing_over_http(client: httpx.Client) -> None:
    r = client.put("/Patient/keep", json={**patient("keep"), "id": "keep"})
    assert r.status_code == 201, r.text
    before = client.get("/Patient/keep/_history").json()

    r = client.post("/", json=_fifth_entry_invalid_bundle())
    assert r.status_code == 400, r.text
    outcome = r.json()
    assert "Entry 4" in diagnostics(outcome), outcome
    assert all(i["severity"] == "error" for i in outcome["issue"])

    # Nothing the earlier entries did survived: the delete, the creates, the create-on-update.
    assert client.get("/Patient/keep").status_code == 200
    assert client.get("/Patient/keep/_history").json()["entry"] == before["entry"]
    assert client.get("/Patient/client-chosen").status_code == 404
    for rtype, expected in (("Patient", 1), ("Organization", 0), ("Observation", 0)):
        got = client.get(f"/{rtype}", params={"_summary": "count"}).json()
        assert got["total"] == expected, (rtype, got)


def test_transaction_failure_writes_nothing(repo: Repository, store: Store) -> None:
    seed_status, _ = submit(repo, transaction(put("Patient/keep", {**patient(), "id": "keep"})))
    assert seed_status == 200
    seq = max_seq(store)
    status, body = submit(repo, _fifth_entry_invalid_bundle())
    assert status == 400
    assert "Entry 4" in diagnostics(body)
    assert max_seq(store) == seq
    assert [p["id"] for p in search(repo, "Patient")] == ["keep"]
    assert search(repo, "Observation") == []
    assert search(repo, "Organization") == []


def test_bundle_of_type_collection_is_refused_over_http(client: httpx.Client) -> None:
    bundle = {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [{"fullUrl": urn(), "resource": patient("c-1")}],
    }
    r = client.post("/", json=bundle)
    assert r.status_code == 400, r.text
    assert "transaction or batch" in diagnostics(r.json())
    assert client.get("/Patient", params={"_summary": "count"}).json()["total"] == 0


@pytest.mark.parametrize("body", [{"resourceType": "Patient"}, [], "Bundle"])
def test_post_to_base_needs_a_bundle(repo: Repository, body: Any) -> None:
    status, outcome = submit(repo, body)
    assert status == 400
    assert "Bundle" in diagnostics(outcome)


# --- references --------------------------------------------------------------------------------


def test_urn_uuid_references_are_rewritten(repo: Repository) -> None:
    p, e, o = urn(), urn(), urn()
    encounter = {
        "resourceType": "Encounter",
        "status": "finished",
        "class": {
            "system": "http://terminology.hl7.org/CodeSystem/v3-ActCode",
            "code": "AMB",
        },
        "subject": {"reference": p},
        "serviceProvider": {"reference": o},
    }
    obs = observation(
        p,
        encounter={"reference": e},
        performer=[{"reference": o}, {"reference": "Organization/elsewhere"}],
    )
    # Entries that reference others come first: ids are assigned before anything runs.
    status, body = submit(
        repo,
        transaction(
            post("Observation", obs),
            post("Encounter", encounter, e),
            post("Patient", patient("urn-1"), p),
            post("Organization", organization("urn-org"), o),
        ),
    )
    assert status == 200, body
    assert body["type"] == "transaction-response"
    statuses = [x["response"]["status"] for x in body["entry"]]
    assert statuses == ["201"] * 4
    obs_ref, enc_ref, pat_ref, org_ref = (ref_of(x) for x in body["entry"])
    assert pat_ref.startswith("Patient/") and org_ref.startswith("Organization/")
    for ref in (obs_ref, enc_ref, pat_ref, org_ref):
        assert "urn:uuid" not in ref

    stored_obs = read(repo, obs_ref)
    assert stored_obs["subject"]["reference"] == pat_ref
    assert stored_obs["encounter"]["reference"] == enc_ref
    assert stored_obs["performer"] == [
        {"reference": org_ref},
        {"reference": "Organization/elsewhere"},
    ]
    stored_enc = read(repo, enc_ref)
    assert stored_enc["subject"]["reference"] == pat_ref
    assert stored_enc["serviceProvider"]["reference"] == org_ref
    # The response bodies carry the rewritten references too.
    assert body["entry"][0]["resource"]["subject"]["reference"] == pat_ref
    # Search by the rewritten reference finds the Observation.
    assert [x["id"] for x in search(repo, "Observation", subject=pat_ref)] == [
        obs_ref.split("/")[1]
    ]


def test_unresolvable_urn_uuid_is_400_and_writes_nothing(repo: Repository, store: Store) -> None:
    seq = max_seq(store)
    dangling = urn()
    status, body = submit(
        repo,
        transaction(
            post("Patient", patient("u-1"), urn()), post("Observation", observation(dangling))
        ),
    )
    assert status == 400
    text = diagnostics(body)
    assert dangling in text and "Entry 1" in text
    assert max_seq(store) == seq
    assert search(repo, "Patient") == []


def test_conditional_reference_resolves_one_match(repo: Repository) -> None:
    (org_ref,) = seed(repo, organization("cond-1"))
    seed(repo, organization("cond-other"))
    pat = patient(
        "c-1", managingOrganization={"reference": f"Organization?identifier={SYS}|cond-1"}
    )
    status, body = submit(repo, transaction(post("Patient", pat, urn())))
    assert status == 200, body
    stored = read(repo, ref_of(body["entry"][0]))
    assert stored["managingOrganization"]["reference"] == org_ref


@pytest.mark.parametrize("copies", [0, 2])
def test_conditional_reference_with_no_or_several_matches_is_412(
    repo: Repository, store: Store, copies: int
) -> None:
    for _ in range(copies):
        seed(repo, organization("cond-x"))
    seed(repo, organization("cond-unrelated"))
    seq = max_seq(store)
    pat = patient(
        "c-2", managingOrganization={"reference": f"Organization?identifier={SYS}|cond-x"}
    )
    status, body = submit(repo, transaction(post("Patient", pat, urn())))
    assert status == 412, body
    assert "Entry 0" in diagnostics(body)
    assert max_seq(store) == seq
    assert search(repo, "Patient") == []


def test_if_none_exist_reuses_existing_resource(repo: Repository) -> None:
    (existing,) = seed(repo, patient("mrn-1"))
    p = urn()
    status, body = submit(
        repo,
        transaction(
            post("Patient", patient("mrn-1"), p, ifNoneExist=f"identifier={SYS}|mrn-1"),
            post("Observation", observation(p)),
        ),
    )
    assert status == 200, body
    pat_entry, obs_entry = body["entry"]
    assert pat_entry["response"]["status"] == "200"
    assert ref_of(pat_entry) == existing
    assert obs_entry["response"]["status"] == "201"
    assert read(repo, ref_of(obs_entry))["subject"]["reference"] == existing
    assert [x["id"] for x in search(repo, "Patient")] == [existing.split("/")[1]]
    # Version 1 still: the match was not rewritten.
    assert read(repo, existing)["meta"]["versionId"] == "1"


def test_if_none_exist_without_match_creates(repo: Repository) -> None:
    p = urn()
    status, body = submit(
        repo,
        transaction(
            post("Patient", patient("mrn-2"), p, ifNoneExist=f"identifier={SYS}|mrn-2"),
            post("Observation", observation(p)),
        ),
    )
    assert status == 200, body
    assert [x["response"]["status"] for x in body["entry"]] == ["201", "201"]
    pat_ref = ref_of(body["entry"][0])
    assert read(repo, ref_of(body["entry"][1]))["subject"]["reference"] == pat_ref


# --- processing order ----------------------------------------------------------------------


def test_delete_runs_before_post(repo: Repository) -> None:
    """The conditional delete is listed after the create; run in Bundle order it would match
    two Patients (412). Deletes run first, so it removes only the old one."""
    (old,) = seed(repo, patient("dup"))
    status, body = submit(
        repo,
        transaction(
            post("Patient", patient("dup", gender="female"), urn()),
            bare("DELETE", f"Patient?identifier={SYS}|dup"),
        ),
    )
    assert status == 200, body
    assert [x["response"]["status"] for x in body["entry"]] == ["201", "200"]
    new = ref_of(body["entry"][0])
    found = search(repo, "Patient", identifier=f"{SYS}|dup")
    assert [f"Patient/{x['id']}" for x in found] == [new]
    with pytest.raises(FhirError) as gone:
        repo.handle(FhirRequest("GET", old))
    assert gone.value.status == 410


def test_delete_and_post_by_id_in_one_bundle(repo: Repository) -> None:
    (old,) = seed(repo, patient("p-old"))
    status, body = submit(
        repo, transaction(post("Patient", patient("p-new"), urn()), bare("DELETE", old))
    )
    assert status == 200, body
    assert [x["response"]["status"] for x in body["entry"]] == ["201", "200"]
    assert [f"Patient/{x['id']}" for x in search(repo, "Patient")] == [ref_of(body["entry"][0])]


def test_get_entry_sees_the_transactions_own_creates(repo: Repository) -> None:
    seed(repo, patient("other"))
    status, body = submit(
        repo,
        transaction(
            bare("GET", f"Patient?identifier={SYS}|seen-1"),
            post("Patient", patient("seen-1"), urn()),
            put("Patient/seen-2", {**patient("seen-1"), "id": "seen-2"}),
        ),
    )
    assert status == 200, body
    get_entry, post_entry, put_entry = body["entry"]
    assert get_entry["response"]["status"] == "200"
    searchset = get_entry["resource"]
    assert searchset["type"] == "searchset"
    assert searchset["total"] == 2
    found = sorted(f"Patient/{e['resource']['id']}" for e in searchset["entry"])
    assert found == sorted([ref_of(post_entry), "Patient/seen-2"])
    assert put_entry["response"]["status"] == "201"


def test_response_entries_follow_request_order(repo: Repository) -> None:
    (old,) = seed(repo, patient("order"))
    status, body = submit(
        repo,
        transaction(
            bare("GET", old),
            put("Patient/ordered", {**patient(), "id": "ordered"}),
            post("Organization", organization("ordered")),
            bare("DELETE", "Patient/nobody"),
        ),
    )
    assert status == 200, body
    kinds = [
        (x["response"]["status"], x.get("resource", {}).get("resourceType")) for x in body["entry"]
    ]
    assert kinds == [
        ("200", "Patient"),
        ("201", "Patient"),
        ("201", "Organization"),
        ("200", "OperationOutcome"),
    ]


@pytest.mark.parametrize(
    "second",
    [
        put("Patient/twice", {**patient("b"), "id": "twice"}),
        bare("PATCH", "Patient/twice", [{"op": "replace", "path": "/gender", "value": "male"}]),
        bare("DELETE", "Patient/twice"),
    ],
    ids=["put", "patch", "delete"],
)
def test_two_entries_changing_one_resource_is_400(
    repo: Repository, store: Store, second: dict[str, Any]
) -> None:
    seed_status, _ = submit(
        repo, transaction(put("Patient/twice", {**patient("a"), "id": "twice"}))
    )
    assert seed_status == 200
    seq = max_seq(store)
    status, body = submit(
        repo,
        transaction(put("Patient/twice", {**patient("a", gender="female"), "id": "twice"}), second),
    )
    assert status == 400, body
    assert "Entry 1" in diagnostics(body)
    assert max_seq(store) == seq
    assert read(repo, "Patient/twice")["meta"]["versionId"] == "1"


# --- batch ---------------------------------------------------------------------------------


def test_batch_entries_succeed_or_fail_on_their_own(repo: Repository) -> None:
    (existing,) = seed(repo, patient("batch-0"))
    status, body = submit(
        repo,
        transaction(
            post("Patient", patient("batch-1")),
            post("Patient", patient("batch-bad", birthDate="not a date")),
            bare("GET", "Patient/does-not-exist"),
            put("Patient/batch-put", {**patient("batch-2"), "id": "batch-put"}),
            bare("GET", existing),
            put("Patient/one-id", {**patient("batch-3"), "id": "another-id"}),
            btype="batch",
        ),
    )
    assert status == 200
    assert body["type"] == "batch-response"
    entries = body["entry"]
    assert [x["response"]["status"] for x in entries] == ["201", "400", "404", "201", "200", "400"]
    for bad in (entries[1], entries[2], entries[5]):
        assert "resource" not in bad
        assert bad["response"]["outcome"]["resourceType"] == "OperationOutcome"
        assert bad["response"]["outcome"]["issue"][0]["severity"] == "error"
    assert "birthDate" in diagnostics(entries[1]["response"]["outcome"])
    assert entries[0]["resource"]["identifier"][0]["value"] == "batch-1"
    assert entries[4]["resource"]["id"] == existing.split("/")[1]
    values = sorted(p["identifier"][0]["value"] for p in search(repo, "Patient"))
    assert values == ["batch-0", "batch-1", "batch-2"]
    assert "id" in diagnostics(entries[5]["response"]["outcome"])


def test_batch_may_not_nest_bundles(repo: Repository) -> None:
    inner = transaction(post("Patient", patient("inner")))
    status, body = submit(
        repo, transaction(bare("POST", "", inner), post("Patient", patient("outer")), btype="batch")
    )
    assert status == 200
    assert [x["response"]["status"] for x in body["entry"]] == ["400", "201"]
    assert [p["identifier"][0]["value"] for p in search(repo, "Patient")] == ["outer"]


# --- Prefer ------------------------------------------------------------------------------------


def test_prefer_return_minimal_in_transaction(repo: Repository) -> None:
    p = urn()
    status, body = submit(
        repo,
        transaction(post("Patient", patient("min-1"), p), post("Observation", observation(p))),
        prefer="minimal",
    )
    assert status == 200, body
    for entry in body["entry"]:
        assert "resource" not in entry
        assert entry["response"]["status"] == "201"
        assert entry["response"]["etag"] == 'W/"1"'
        assert entry["response"]["lastModified"]
        assert "/_history/1" in entry["response"]["location"]
    pat_ref = ref_of(body["entry"][0])
    assert read(repo, ref_of(body["entry"][1]))["subject"]["reference"] == pat_ref


def test_prefer_default_returns_resources_in_transaction(repo: Repository) -> None:
    status, body = submit(repo, transaction(post("Patient", patient("rep-1"), urn())))
    assert status == 200
    (entry,) = body["entry"]
    assert entry["resource"]["resourceType"] == "Patient"
    assert f"Patient/{entry['resource']['id']}" == ref_of(entry)
    assert entry["resource"]["meta"]["versionId"] == "1"


def test_prefer_header_over_http(client: httpx.Client) -> None:
    bundle = transaction(post("Patient", patient("hdr-1"), urn()))
    r = client.post("/", json=bundle, headers={"Prefer": "return=minimal"})
    assert r.status_code == 200, r.text
    (entry,) = r.json()["entry"]
    assert "resource" not in entry
    assert entry["response"]["status"] == "201"


def test_transaction_deletes_run_before_conditional_creates_resolve(repo: Repository) -> None:
    """http.html#trules: DELETEs first, so an ifNoneExist on the same identifier creates anew."""
    ident = {"system": "urn:test:order", "value": "del-then-create"}
    first = repo.handle(
        FhirRequest("POST", "Patient", body={"resourceType": "Patient", "identifier": [ident]})
    )
    old_id = first.resource["id"]  # type: ignore[index]
    bundle = {
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [
            {
                "fullUrl": "urn:uuid:6f1c0f4e-0000-4000-8000-000000000001",
                "resource": {"resourceType": "Patient", "identifier": [ident]},
                "request": {
                    "method": "POST",
                    "url": "Patient",
                    "ifNoneExist": "identifier=urn:test:order|del-then-create",
                },
            },
            {"request": {"method": "DELETE", "url": f"Patient/{old_id}"}},
        ],
    }
    resp = repo.handle(FhirRequest("POST", "", body=bundle))
    statuses = [e["response"]["status"] for e in resp.resource["entry"]]  # type: ignore[index]
    assert statuses == ["201", "200"]
    found = repo.handle(
        FhirRequest("GET", "Patient", query=(("identifier", "urn:test:order|del-then-create"),))
    ).resource
    assert found["total"] == 1  # type: ignore[index]
    assert found["entry"][0]["resource"]["id"] != old_id  # type: ignore[index]
