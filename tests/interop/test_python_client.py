"""The official SMART Python client (`fhirclient` on PyPI) completes a standalone launch.

What the client does, from its source (fhirclient 4.4.0): it reads the authorize and token
endpoints from the `oauth-uris` extension of GET {fhir}/metadata (parsed strictly by its R4
models), sends `aud`, `state` and PKCE S256 to the authorize endpoint, and on the callback
POSTs code, code_verifier, redirect_uri, client_id (and state) as a form to the token endpoint.
The `patient` of the token response becomes its patient, read with Bearer auth.

The browser's part runs twice: over HTTP with a form-filling user agent, and in Chromium.
"""

from __future__ import annotations

import httpx
from fhirclient.client import FHIRClient  # type: ignore[import-untyped]
from fhirclient.models.patient import Patient  # type: ignore[import-untyped]
from playwright.sync_api import Route

from tests.conftest import free_port
from tests.interop._chromium import Tab, sign_in_and_allow
from tests.interop._forms import FormUserAgent
from tests.interop.conftest import SmartSite

CLIENT_ID = "interop-python"
SCOPE = "launch/patient openid fhirUser patient/*.read"


def start_launch(site: SmartSite) -> tuple[FHIRClient, str]:
    """Register the app and let the client build its authorize URL from the server's metadata."""
    redirect_uri = f"http://127.0.0.1:{free_port()}/callback"  # never fetched: the flow stops there
    site.register_app(CLIENT_ID, redirect_uri, SCOPE)
    client = FHIRClient(
        settings={
            "app_id": CLIENT_ID,
            "api_base": site.fhir_base,
            "redirect_uri": redirect_uri,
            "scope": SCOPE,
        }
    )
    authorize_url = client.authorize_url
    assert authorize_url, "fhirclient found no authorize endpoint in the CapabilityStatement"
    discovery = httpx.get(f"{site.fhir_base}/.well-known/smart-configuration", timeout=30).json()
    assert authorize_url.startswith(discovery["authorization_endpoint"] + "?"), (
        "metadata's oauth-uris and .well-known/smart-configuration disagree",
        authorize_url,
        discovery,
    )
    return client, redirect_uri


def finish_launch(site: SmartSite, client: FHIRClient, callback: str) -> None:
    """Exchange the code, then read the launch patient the way an app does."""
    assert "code=" in callback, f"The server sent the browser back without a code: {callback}"
    client.handle_callback(callback)
    assert client.patient_id == site.patient_id, client.launch_context
    patient = Patient.read(client.patient_id, client.server)
    assert patient.id == site.patient_id
    assert patient.name[0].family == site.family
    assert patient.name[0].given == [site.given]
    assert client.human_name(patient.name[0]) == f"{site.given} {site.family}"


def test_python_client_standalone_launch_reads_the_patient(smart_site: SmartSite) -> None:
    client, redirect_uri = start_launch(smart_site)
    with FormUserAgent(smart_site.username, smart_site.password) as browser:
        callback = browser.authorize(client.authorize_url, redirect_uri)
    finish_launch(smart_site, client, callback)


def test_python_client_standalone_launch_signs_in_through_chromium(
    smart_site: SmartSite, tab: Tab
) -> None:
    client, redirect_uri = start_launch(smart_site)
    landed: list[str] = []

    def arrive(route: Route) -> None:  # the app's callback page, served by the test itself
        landed.append(route.request.url)
        route.fulfill(status=200, content_type="text/html", body="<p>Back at the app.</p>")

    def is_callback(url: str) -> bool:
        return url.startswith(redirect_uri)

    tab.page.route(is_callback, arrive)
    tab.page.goto(client.authorize_url)
    sign_in_and_allow(tab, smart_site.username, smart_site.password)
    try:
        tab.page.wait_for_url(is_callback)
    except Exception:
        raise AssertionError(f"Allow did not lead back to the app.\n  {tab.describe()}") from None
    assert landed, tab.describe()
    finish_launch(smart_site, client, landed[0])
