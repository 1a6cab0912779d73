"""The console's Upstream page over real HTTP (SQLite and PostgreSQL): after HL7 v2 messages
about a canary patient (one accepted, one kept as a dead letter whose bad field is her name),
the page shows each source's dead letters waiting, their age and reason, and no canary string;
nor does ``/metrics``. The three console roles may open it (other roles cannot sign in to the
console at all: tests/browser/test_console_story.py)."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import BACKENDS, free_port
from tests.integration import _hl7_messages as hl7
from tests.integration._smart import Smart, smart_server
from tests.integration.test_console_phi_canary import absent, console
from tests.integration.test_phi_canary import CANARIES, FAMILY, GIVEN, MRN
from tests.integration.test_upstream_metrics import metrics_token, scrape

pytestmark = pytest.mark.timeout(180)

PID = f"PID|1||{MRN}^^^HOSP^MR||{FAMILY}^{GIVEN}||19170423|F|||1 Canary Row^^Town||555 014 7788"


def _admit(control: str) -> bytes:
    return (
        "\r".join(
            [
                f"MSH|^~\\&|EHR|HOSP|BEDSIDE|WARD|20260301080000||ADT^A01^ADT_A01|{control}|P|2.5",
                "EVN|A01|20260301080000",
                PID,
                "PV1|1|I|WARD1^101^A" + "|" * 16 + "V-CANARY^^^HOSP^VN",
            ]
        )
        + "\r"
    ).encode()


def _bad_result(control: str) -> bytes:
    return (
        "\r".join(
            [
                f"MSH|^~\\&|EHR|HOSP|BEDSIDE|WARD|20260301090000||ORU^R01^ORU_R01|{control}|P|2.5",
                PID,
                "OBR|1|ORD-C|LAB-C|GLU^Glucose^L|||20260301140000",
                f"OBX|1|NM|GLU^Glucose^L||{GIVEN}|mmol/L|||||F",
            ]
        )
        + "\r"
    ).encode()


@pytest.fixture(scope="module", params=BACKENDS)
def fed(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Smart, int]]:
    folder = tmp_path_factory.mktemp("feed")
    port = free_port()
    config: Path = folder / "upstream.toml"
    config.write_text(hl7.upstream_toml(port, hl7.concept_map(folder / "lab-to-loinc.json")))
    with smart_server(tmp_path_factory, str(request.param), "--upstream", str(config)) as s:
        yield s, port


def test_the_upstream_page_shows_dead_letters_and_no_phi(fed: tuple[Smart, int]) -> None:
    smart, port = fed
    feed = hl7.MllpClient(port)
    try:
        assert feed.send(_admit("CANARY-A01"))["code"] == "AA"
        bad = feed.send(_bad_result("CANARY-R01"))
        assert bad["code"] == "AE"
    finally:
        feed.close()
    smart.add_user(reviewer := f"governance-{secrets.token_hex(3)}", "governance")
    client, _ = console(smart, reviewer)
    try:
        page = client.get("/console/upstream")
    finally:
        client.close()
    assert page.status_code == 200, page.text
    assert page.headers["cache-control"] == "no-store"
    text = page.text
    assert "Upstream feeds" in text and "HL7 v2 feed" in text
    assert "Dead letters waiting from adt" in text
    assert "is not a number" in text  # the reason, a sentence of the feed's own
    assert "<strong>1</strong>" in text  # one waiting
    absent(text, "the console's Upstream page")
    assert "CANARY-R01" not in text and "CANARY-A01" not in text  # no message control id
    _, metrics = scrape(smart.server, metrics_token(smart.server.data_dir))
    absent(metrics, "/metrics", (*CANARIES, "CANARY-R01"))


@pytest.mark.parametrize("role", ["security", "clinical-safety"])
def test_the_other_console_roles_open_it(fed: tuple[Smart, int], role: str) -> None:
    smart, _ = fed
    smart.add_user(name := f"{role}-{secrets.token_hex(3)}", role)
    client, _ = console(smart, name)
    try:
        assert client.get("/console/upstream").status_code == 200
    finally:
        client.close()
