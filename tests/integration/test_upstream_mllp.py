"""ADT and ORU messages over MLLP on loopback into a real `bedside serve` (SQLite and
PostgreSQL): ACKs, one Encounter per visit, results with LOINC after the ConceptMap, a merge,
dead letters for what cannot be mapped, and the same messages sent twice changing nothing."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from tests.conftest import BACKENDS, Server, free_port
from tests.integration import _hl7_messages as hl7
from tests.integration._module_server import live_server

pytestmark = pytest.mark.timeout(180)


@pytest.fixture(params=BACKENDS)
def world(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Server, str, int, Path]]:
    folder = tmp_path_factory.mktemp("feed")
    port = free_port()
    cmap = hl7.concept_map(folder / "lab-to-loinc.json")
    config = folder / "upstream.toml"
    config.write_text(hl7.upstream_toml(port, cmap))
    with live_server(tmp_path_factory, request.param, "--upstream", str(config)) as (srv, url):
        yield srv, url, port, config


def _all(client: httpx.Client, rtype: str, **params: str) -> list[dict[str, Any]]:
    resp = client.get(f"/{rtype}", params={"_count": "1000", **params})
    assert resp.status_code == 200, resp.text
    return [e["resource"] for e in resp.json().get("entry", [])]


def _versions(client: httpx.Client) -> dict[str, str]:
    out = {}
    for rtype in (*hl7_types(), "Provenance"):
        for r in _all(client, rtype):
            out[f"{rtype}/{r['id']}"] = r["meta"]["versionId"]
    return out


def hl7_types() -> tuple[str, ...]:
    return (
        "Patient",
        "Encounter",
        "Observation",
        "DiagnosticReport",
        "Condition",
        "AllergyIntolerance",
        "RelatedPerson",
    )


def _cli(srv: Server, url: str, config: Path, *args: str) -> list[str]:
    where = ["--data-dir", str(srv.data_dir), "--database", url, "--upstream", str(config)]
    return [sys.executable, "-m", "bedside", "upstream", *args, "--source", "adt", *where]


def _status(srv: Server, url: str, config: Path) -> dict[str, Any]:
    out = subprocess.run(
        [*_cli(srv, url, config, "status"), "--json"], capture_output=True, check=True, timeout=60
    )
    status: dict[str, Any] = orjson.loads(out.stdout)
    return status


def test_adt_and_oru_over_mllp_make_one_record(world: tuple[Server, str, int, Path]) -> None:
    srv, url, port, config = world
    feed = hl7.MllpClient(port)
    try:
        for message in hl7.STORY:
            ack = feed.send(message)
            assert ack["type"].startswith("ACK"), ack
            assert ack["code"] == "AA", ack
        bad = feed.send(hl7.BAD_RESULT)
        assert bad["code"] == "AE" and bad["control"] == "MSG-BAD"
        assert "not a number" in bad["text"]
        garbage = feed.send(hl7.NOT_HL7)
        assert garbage["code"] == "AR"

        with srv.client() as client:
            survivor, prior = _patients(client)
            # one Encounter per visit: A01, A02, A03 of V100 updated one resource
            visits = _all(client, "Encounter", identifier="urn:bedside:upstream:adt/visit|V100")
            assert len(visits) == 1
            visit = visits[0]
            assert visit["status"] == "finished"
            assert visit["period"] == {
                "start": "2026-03-01T08:00:00Z",
                "end": "2026-03-02T10:00:00Z",
            }
            assert [(x["location"]["display"], x["status"]) for x in visit["location"]] == [
                ("WARD1 101 A", "completed"),
                ("WARD2 201 B", "completed"),
            ]
            assert visit["subject"]["reference"] == f"Patient/{survivor['id']}"
            assert visit["meta"]["source"] == "urn:bedside:upstream:adt"

            # results as Observations with LOINC after the ConceptMap, units in UCUM
            results = _all(client, "Observation", code="http://loinc.org|2345-7")
            assert len(results) == 2
            current = next(r for r in results if r["valueQuantity"]["value"] == 5.4)
            assert current["code"]["coding"][0]["code"] == "2345-7"
            assert {"system": hl7.LOCAL_CODES, "code": "GLU", "display": "Glucose"} in current[
                "code"
            ]["coding"]
            assert current["valueQuantity"]["system"] == "http://unitsofmeasure.org"
            assert current["encounter"]["reference"] == f"Encounter/{visit['id']}"
            reports = _all(client, "DiagnosticReport")
            assert len(reports) == 2

            # the merge: prior replaced by survivor, its records moved, nothing deleted
            assert prior["active"] is False
            assert {"other": {"reference": f"Patient/{survivor['id']}"}, "type": "replaced-by"} in (
                prior["link"]
            )
            assert {"other": {"reference": f"Patient/{prior['id']}"}, "type": "replaces"} in (
                survivor["link"]
            )
            for rtype in ("Encounter", "Observation", "DiagnosticReport"):
                assert _all(client, rtype, subject=f"Patient/{prior['id']}") == []
            old_visit = _all(client, "Encounter", identifier="urn:bedside:upstream:adt/visit|V050")
            assert old_visit[0]["subject"]["reference"] == f"Patient/{survivor['id']}"
            assert all(r["subject"]["reference"] == f"Patient/{survivor['id']}" for r in results)
            assert len(_all(client, "AllergyIntolerance")) == 1
            assert len(_all(client, "Condition")) == 1
            assert len(_all(client, "RelatedPerson")) == 1

            # a Provenance for every version written: target, agent = source, entity = message
            _assert_provenance(client, current, "MSG-R01")
            _assert_provenance(client, visit, "MSG-A03")
            # audited like any other write, naming the feed's client
            audit = client.get("/AuditEvent", params={"_count": "1000"})
            assert audit.status_code == 200, audit.text
            clients = {
                a["who"]["identifier"]["value"]
                for e in audit.json().get("entry", [])
                for a in e["resource"].get("agent", [])
                if "identifier" in a.get("who", {})
            }
            assert "upstream-adt" in clients
            before = _versions(client)

        # the same messages again: all acknowledged, nothing changes
        for message in hl7.STORY:
            assert feed.send(message)["code"] == "AA"
        with srv.client() as client:
            assert _versions(client) == before
    finally:
        feed.close()

    # the refused messages wait in the dead-letter store, without their content
    status = _status(srv, url, config)
    letters = {x["entity"]: x for x in status["dead_letters"]}
    assert set(letters) == {"MSG-BAD", "unknown"}
    assert "not a number" in letters["MSG-BAD"]["reason"]
    assert "Example" not in orjson.dumps(status).decode()  # no PHI in the status


def _patients(client: httpx.Client) -> tuple[dict[str, Any], dict[str, Any]]:
    survivor = _all(client, "Patient", identifier=f"{hl7.MRN_SYSTEM}|12345")
    prior = _all(client, "Patient", identifier=f"{hl7.MRN_SYSTEM}|777")
    assert len(survivor) == 1 and len(prior) == 1
    assert survivor[0]["id"] != prior[0]["id"]
    return survivor[0], prior[0]


def _assert_provenance(client: httpx.Client, resource: dict[str, Any], control_id: str) -> None:
    target = f"{resource['resourceType']}/{resource['id']}/_history/{resource['meta']['versionId']}"
    mine = [
        p
        for p in _all(client, "Provenance")
        if any(t["reference"] == target for t in p["target"])
        and p.get("meta", {}).get("source") == "urn:bedside:upstream:adt"
    ]
    assert len(mine) == 1, target
    prov = mine[0]
    assert prov["agent"][0]["who"]["identifier"]["value"] == "urn:bedside:upstream:adt"
    assert prov["entity"][0]["what"]["identifier"]["value"] == control_id
    assert prov["recorded"]


def test_dead_letter_is_kept_and_counted_on_replay(world: tuple[Server, str, int, Path]) -> None:
    """A refused message stays in the store; a replay that still fails keeps it open."""
    srv, url, port, config = world
    feed = hl7.MllpClient(port)
    try:
        assert feed.send(hl7.ADMIT)["code"] == "AA"
        assert feed.send(hl7.BAD_RESULT)["code"] == "AE"
    finally:
        feed.close()
    status = _status(srv, url, config)
    assert [x["entity"] for x in status["dead_letters"]] == ["MSG-BAD"]
    replay = subprocess.run(_cli(srv, url, config, "replay"), capture_output=True, timeout=60)
    assert replay.returncode == 1  # still not a number: stays open, attempts counted
    status = _status(srv, url, config)
    assert status["dead_letters"][0]["attempts"] == 2
    assert status["dead_letters_open"] == 1


def test_serve_refuses_a_bad_upstream_file_and_mllp_with_workers(tmp_path: Path) -> None:
    """Checked at start, one sentence each; nothing is served."""
    data = tmp_path / "data"
    bad = tmp_path / "bad.toml"
    bad.write_text("[source.adt]\nkind = 'hl7v2'\n")
    good = tmp_path / "good.toml"
    good.write_text(hl7.upstream_toml(free_port(), hl7.concept_map(tmp_path / "cm.json")))
    (tmp_path / "broken.json").write_text('{"resourceType": "ConceptMap", "group": [{}]}')
    broken = tmp_path / "broken.toml"
    broken.write_text(hl7.upstream_toml(free_port(), tmp_path / "broken.json"))
    for extra, says in (
        (["--upstream", str(broken)], "group 0 needs source and target systems"),
        (["--upstream", str(bad)], "an hl7v2 source needs mllp_port, files or both"),
        (["--upstream", str(good), "--workers", "2"], "needs --workers 1"),
        (["--upstream", str(tmp_path / "none.toml")], "does not exist"),
    ):
        out = subprocess.run(
            [sys.executable, "-m", "bedside", "serve", "--data-dir", str(data), *extra],
            capture_output=True,
            timeout=60,
        )
        assert out.returncode == 1
        assert says in out.stderr.decode()
