"""The upstream feeds on ``GET /metrics`` after a scripted MLLP run into a real `bedside serve`
(SQLite and PostgreSQL): messages received and answered (accepted / refused), resends, resources
written, dead letters waiting and their age moved by exactly what the run did; the source's name
is the only label and nothing from a message appears in the text (docs/upstream.md)."""

from __future__ import annotations

import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import BACKENDS, Server, free_port
from tests.integration import _hl7_messages as hl7
from tests.integration._module_server import live_server
from tests.integration.test_metrics import Sample, moved

pytestmark = pytest.mark.timeout(180)


@pytest.fixture(params=BACKENDS)
def world(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Server, int]]:
    folder = tmp_path_factory.mktemp("feed")
    port = free_port()
    config = folder / "upstream.toml"
    config.write_text(hl7.upstream_toml(port, hl7.concept_map(folder / "lab-to-loinc.json")))
    with live_server(tmp_path_factory, request.param, "--upstream", str(config)) as (srv, _):
        yield srv, port


def metrics_token(data_dir: Path) -> str:
    proc = subprocess.run(
        [sys.executable, "-m", "bedside", "admin", "metrics-token", "--data-dir", str(data_dir)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.strip().splitlines()[-1]


def scrape(srv: Server, token: str) -> tuple[Counter[Sample], str]:
    root = srv.base.removesuffix("/fhir")
    with httpx.Client(timeout=30) as c:
        r = c.get(f"{root}/metrics", headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 200, r.text
    samples: Counter[Sample] = Counter()
    for family in text_string_to_metric_families(r.text):
        for s in family.samples:
            samples[(s.name, tuple(sorted(s.labels.items())))] += s.value
    return samples, r.text


def _one(samples: dict[object, float]) -> float:
    assert len(samples) == 1, samples
    return next(iter(samples.values()))


def test_a_scripted_mllp_run_moves_the_upstream_counters(world: tuple[Server, int]) -> None:
    srv, port = world
    token = metrics_token(srv.data_dir)
    before, _ = scrape(srv, token)
    src = (("source", "adt"),)
    assert before[("bedside_upstream_dead_letters_open", src)] == 0
    assert before[("bedside_upstream_messages_received_total", src)] == 0

    feed = hl7.MllpClient(port)
    try:
        for message in hl7.STORY:
            assert feed.send(message)["code"] == "AA"
        assert feed.send(hl7.ADMIT)["code"] == "AA"  # a resend: answered, nothing written
        assert feed.send(hl7.BAD_RESULT)["code"] == "AE"
        assert feed.send(hl7.NOT_HL7)["code"] == "AR"
    finally:
        feed.close()
    after, text = scrape(srv, token)

    sent = len(hl7.STORY) + 3
    assert moved(before, after, "bedside_upstream_messages_received_total") == {src: sent}
    assert moved(before, after, "bedside_upstream_messages_answered_total") == {
        (("ack", "accepted"), *src): len(hl7.STORY) + 1,
        (("ack", "refused"), *src): 2,
    }
    assert moved(before, after, "bedside_upstream_messages_duplicate_total") == {src: 1}
    written = _one(moved(before, after, "bedside_upstream_resources_written_total"))
    assert written >= len(hl7.STORY)  # every message of the story wrote something
    assert after[("bedside_upstream_dead_letters_open", src)] == 2
    assert 0 <= after[("bedside_upstream_dead_letter_oldest_age_seconds", src)] < 120
    assert after[("bedside_upstream_last_delivery_timestamp_seconds", src)] > 0
    # nothing from a message: no control id, no identifier, no name, no reason text
    for leak in ("MSG-BAD", "12345", "Example", "Alex", "not a number", "HOSP"):
        assert leak not in text
    labels = {k for (name, labels) in after if name.startswith("bedside_upstream") for k in labels}
    assert labels <= {("source", "adt"), ("ack", "accepted"), ("ack", "refused")}


def test_without_sources_there_are_no_upstream_series(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    with live_server(tmp_path_factory, "sqlite") as (srv, _):
        token = metrics_token(srv.data_dir)
        samples, _ = scrape(srv, token)
    assert not [n for (n, _labels) in samples if n.startswith("bedside_upstream")]
