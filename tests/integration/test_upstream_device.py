"""A result ingested over MLLP reaches the device of a nurse caring for the patient at its next
sync pull, and not the device of anyone else: upstream writes go through the same transaction
path, policy and change feed as every other write (real `bedside serve`, SQLite and PostgreSQL)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import BACKENDS, free_port
from tests.integration import _hl7_messages as hl7
from tests.integration._pull_world import new_world
from tests.integration._smart import Smart, smart_server

pytestmark = pytest.mark.timeout(180)


@pytest.fixture(params=BACKENDS)
def feed(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Smart, int]]:
    folder = tmp_path_factory.mktemp("device-feed")
    port = free_port()
    config: Path = folder / "upstream.toml"
    config.write_text(hl7.upstream_toml(port, hl7.concept_map(folder / "cm.json")))
    with smart_server(tmp_path_factory, str(request.param), "--upstream", str(config)) as smart:
        yield smart, port


def _result_for(mrn: str, control: str) -> bytes:
    return (
        hl7.RESULT.replace(b"12345^^^HOSP^MR", f"{mrn}^^^HOSP^MR".encode())
        .replace(b"MSG-R01", control.encode())
        .replace(b"ORD-1|LAB-1", f"ORD-{control}|LAB-{control}".encode())
    )


def test_an_upstream_result_reaches_the_carers_device_only(feed: tuple[Smart, int]) -> None:
    smart, port = feed
    world = new_world(smart)
    for pid, mrn in ((world.nurse.patient, "D-1"), (world.nurse.stranger, "D-2")):
        patient = world.read("Patient", pid)
        patient["identifier"] = [{"system": hl7.MRN_SYSTEM, "value": mrn}]
        patient.pop("meta", None)
        world.put(patient)
    since = world.pull().next

    client = hl7.MllpClient(port)
    try:
        assert client.send(_result_for("D-1", "DEV-1"))["code"] == "AA"
        assert client.send(_result_for("D-2", "DEV-2"))["code"] == "AA"
    finally:
        client.close()

    # On PostgreSQL the pull horizon is the cluster's: a transaction open elsewhere holds a
    # fresh write back for a moment (docs/sync-pull.md), so pull until the result arrives.
    resources: list[dict[str, Any]] = []
    deadline = time.monotonic() + 15
    while not any(r["resourceType"] == "Observation" for r in resources):
        assert time.monotonic() < deadline, "the ingested result never reached the device"
        pulled = world.pull(since)
        since = pulled.next
        resources.extend(pulled.resources())
        time.sleep(0.1)
    time.sleep(0.5)
    resources.extend(world.pull(since).resources())  # anything else that was on its way
    results = [r for r in resources if r["resourceType"] == "Observation"]
    assert len(results) == 1
    assert results[0]["subject"]["reference"] == f"Patient/{world.nurse.patient}"
    assert results[0]["code"]["coding"][0]["code"] == "2345-7"
    assert results[0]["meta"]["source"] == "urn:bedside:upstream:adt"
    subjects = {r.get("subject", {}).get("reference") for r in pulled.resources() if "subject" in r}
    assert f"Patient/{world.nurse.stranger}" not in subjects
