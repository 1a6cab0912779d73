"""The official SMART JS client (`fhirclient` on npm) completes a standalone launch in Chromium.

tests/interop/js is a two-page SMART app: launch.html calls FHIR.oauth2.authorize() and
index.html (the redirect URI) calls FHIR.oauth2.ready() and client.patient.read(), writing the
patient, or the error, into the page. It is served from its own loopback port, so every call the
client makes to Bedside is cross-origin and needs CORS.

What the client does, from its source (fhirclient 2.6.3, lib/smart.js): it reads
{iss}/.well-known/smart-configuration (falling back to {iss}/metadata), sends PKCE S256 only when
`code_challenge_methods_supported` lists it, sends `aud` = iss, POSTs the token request as a form
with client_id and code_verifier, takes the patient from the token response's `patient`, and
reads {iss}/Patient/{id} with `Authorization: Bearer` (a CORS preflight).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlencode

import pytest

from tests.interop._chromium import CHROMIUM, Tab, sign_in_and_allow
from tests.interop.conftest import IN_CI, SmartSite, require

APP_DIR = Path(__file__).resolve().parent / "js"
BUNDLE = APP_DIR / "node_modules" / "fhirclient" / "build" / "fhir-client.js"
CLIENT_ID = "interop-js"
SCOPE = "launch/patient openid fhirUser patient/*.rs"  # what launch.html requests


REMEDY = "run `make chromium interop-js` (`make test` does)"


def _missing() -> str | None:
    if not CHROMIUM.exists():
        return f"{CHROMIUM} is missing"
    if not BUNDLE.exists():
        return f"the SMART JS client is not installed at {BUNDLE}"
    return None


if _missing() and not IN_CI:
    pytest.skip(f"{_missing()}; {REMEDY} to run the JS interop tests.", allow_module_level=True)


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def app_origin() -> Iterator[str]:
    """The static SMART app on its own loopback port: a different origin from the server."""
    require(_missing(), REMEDY)
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), partial(_QuietHandler, directory=str(APP_DIR)))
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()


def test_the_app_page_loads_the_smart_client_bundle(app_origin: str, tab: Tab) -> None:
    """The harness on its own: Chromium renders the app and the bundle defines FHIR.oauth2."""
    tab.page.goto(f"{app_origin}/launch.html")  # no iss: authorize() must fail, in the page
    assert tab.page.evaluate("typeof FHIR.oauth2.authorize") == "function", tab.describe()
    assert tab.page.evaluate("typeof FHIR.oauth2.ready") == "function", tab.describe()
    tab.page.wait_for_selector("body[data-state=error]")
    assert "No server url found" in tab.page.inner_text("#error"), tab.describe()


def test_js_client_standalone_launch_reads_the_patient(
    smart_site: SmartSite, app_origin: str, tab: Tab
) -> None:
    smart_site.register_app(CLIENT_ID, f"{app_origin}/index.html", SCOPE)
    query = urlencode({"iss": smart_site.fhir_base, "clientId": CLIENT_ID})
    tab.page.goto(f"{app_origin}/launch.html?{query}")
    sign_in_and_allow(tab, smart_site.username, smart_site.password)
    try:
        tab.page.wait_for_selector("body[data-state]")
    except Exception:
        raise AssertionError(f"The app never finished.\n  {tab.describe()}") from None
    state = tab.page.get_attribute("body", "data-state")
    assert state == "done", f"The app reported an error.\n  {tab.describe()}"
    assert tab.page.url.startswith(f"{app_origin}/index.html"), tab.describe()
    assert tab.page.inner_text("#patient-id") == smart_site.patient_id, tab.describe()
    name = tab.page.inner_text("#patient-name")
    assert name == f"{smart_site.given} {smart_site.family}", tab.describe()
    # The client used PKCE, which it does only when discovery lists S256.
    authorize = [u for u in tab.navigations if "response_type=code" in u]
    assert authorize and "code_challenge_method=S256" in authorize[0], tab.navigations
