"""A PHI canary over what issue 20 added: the console's pages, ``/metrics``, the support CLI and
device telemetry. A canary patient goes through break-glass, a device's pushes (one of them a
conflict on her contact details) and the audit trail; then no canary string may appear on any
console page (the break-glass review shows her identifier by design, and her name only after
"Show patient", which is the positive control), in a scrape, in `bedside support` output
without a reason, in the kept telemetry, or in the server's log."""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterator
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from tests.conftest import BACKENDS
from tests.integration._smart import PASSWORD, Smart, smart_server
from tests.integration._sync_world import SCOPE, enrol, push, read, results, sql
from tests.integration.test_metrics import metrics_token, scrape
from tests.integration.test_phi_canary import CANARIES, FAMILY, GIVEN, MRN, canary_patient
from tests.integration.test_support_cli import support

NAME_CANARIES = tuple(c for c in CANARIES if c not in (MRN, "58213"))


@pytest.fixture(scope="module", params=BACKENDS)
def smart(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Smart]:
    with smart_server(tmp_path_factory, str(request.param)) as s:
        yield s


def console(smart: Smart, username: str) -> tuple[httpx.Client, str]:
    """A signed-in console session (cookies) and its CSRF token, as a browser would have."""
    c = httpx.Client(base_url=smart.root, follow_redirects=True, timeout=30)
    page = c.get("/console/")
    rid = parse_qs(urlsplit(str(page.url)).query)["request"][0]
    done = c.post("/auth/signin", data={"request": rid, "username": username, "password": PASSWORD})
    assert done.status_code == 200 and "Overview" in done.text, done.text
    csrf = re.search(r'name="csrf" value="([^"]+)"', done.text)
    assert csrf is not None
    return c, csrf.group(1)


def absent(text: str, where: str, canaries: tuple[str, ...] = CANARIES) -> None:
    for canary in canaries:
        assert canary not in text, f"{canary!r} in {where}"


def test_no_canary_leaves_through_the_console_metrics_support_or_telemetry(
    smart: Smart,
) -> None:
    pid = smart.create(canary_patient())
    practitioner = smart.create({"resourceType": "Practitioner", "name": [{"family": "Doc"}]})
    doctor = f"doctor-{secrets.token_hex(3)}"
    doctor_id = smart.add_user(doctor, "doctor", f"Practitioner/{practitioner}")
    smart.add_user(officer := f"security-{secrets.token_hex(3)}", "security")
    smart.add_user(reviewer := f"governance-{secrets.token_hex(3)}", "governance")
    token = metrics_token(smart)
    # break-glass on the canary, then a device's pushes about her (one conflicting)
    tokens = smart.login("bedside-device", doctor, SCOPE)
    reason = {"resourceType": "Parameters", "parameter": [{"name": "reason", "valueString": "A&E"}]}
    with smart.fhir_client(tokens["access_token"]) as c:
        assert c.post(f"/Patient/{pid}/$break-glass", json=reason).status_code == 200
        assert c.get(f"/Patient/{pid}").status_code == 200
    device = enrol(smart, (doctor, doctor_id, practitioner))
    seen = {k: v for k, v in read(smart, f"/Patient/{pid}").items() if k != "meta"}
    with smart.fhir_client(smart.operator_token) as c:  # the server's copy moves on
        moved = {**seen, "telecom": [{"system": "phone", "value": "+1 555 014 0000"}]}
        assert c.put(f"/Patient/{pid}", json=moved).status_code == 200
    mine = {**seen, "telecom": [{"system": "email", "value": "zebulonia.q@example.org"}]}
    out = results(push(smart, device, [device.event("update", mine, base="1", patient=pid)]))
    assert out[0]["state"] == "needs-review", out
    report = {"protocol": 1, "outbox": {"pending": 1}, "app_version": "1.0.0"}
    r = httpx.post(
        f"{smart.root}/device/telemetry",
        json=report,
        headers={"Authorization": f"Bearer {device.access}"},
        timeout=30,
    )
    assert r.status_code == 204

    # the console, page by page, as the security officer and the governance reviewer
    c, csrf = console(smart, officer)
    pages = {
        "overview": c.get("/console/").text,
        "devices": c.get("/console/devices").text,
        "device": c.get(f"/console/devices/{device.device_id}").text,
        "audit": c.get("/console/audit").text,
        "audit search": c.post("/console/audit", data={"csrf": csrf, "patient": pid}).text,
        "chain": c.get("/console/audit/chain").text,
    }
    glass = c.get("/console/break-glass?status=open").text
    grant = re.search(r'/console/break-glass/([^/"]+)/show', glass)
    assert grant is not None
    shown = c.post(f"/console/break-glass/{grant.group(1)}/show", data={"csrf": csrf}).text
    c.close()
    for where, text in pages.items():
        absent(text, f"the console's {where} page")
    assert MRN in glass  # by identifier, by design
    absent(glass, "the break-glass review before Show patient", NAME_CANARIES)
    assert GIVEN in shown and FAMILY in shown  # the canary can be found: the check can fail
    g, _ = console(smart, reviewer)
    absent(g.get("/console/conflicts?state=open").text, "the conflict queue")
    item = g.get(f"/console/conflicts/{out[0]['review']}")
    assert item.status_code == 200 and "What each side holds" not in item.text
    absent(item.text, "a conflict's summary for governance")
    g.close()

    # /metrics, the support CLI without a reason, the kept telemetry, the server's log
    _, text = scrape(smart, token)
    absent(text, "/metrics", (*CANARIES, pid))
    for args in (
        ("device", device.device_id),
        ("user", doctor),
        ("device", device.device_id, "--json"),
    ):
        proc = support(smart, *args)
        assert proc.returncode == 0, proc.stderr
        absent(proc.stdout, f"bedside support {' '.join(args)}", (*CANARIES, pid))
    kept = sql(smart, "SELECT report FROM device_telemetry")
    absent(repr(kept), "device telemetry", (*CANARIES, pid))
    log = (smart.server.data_dir.parent / f"server-{urlsplit(smart.root).port}.log").read_text()
    absent(log, "the server log")
