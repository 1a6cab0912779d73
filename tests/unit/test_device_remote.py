"""The device's sign-in pieces without a server: the loopback listener, PKCE, and how
:class:`bedside.device.remote.Remote` turns server answers into sentences.

The HTTP server side is an ``httpx.MockTransport``; the loopback listener is real (it binds
127.0.0.1 and is reached over real HTTP), because its whole point is what a browser can send it.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import socket
import threading
import time
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from joserfc import jwt
from joserfc.jwk import RSAKey

from bedside.device.errors import DeviceError
from bedside.device.loopback import LoopbackRedirect
from bedside.device.remote import Remote, fhir_base_of
from bedside.device.signin import CLIENT_ID, SCOPE, pkce_pair

BASE = "http://bedside.test/fhir"
ROOT = "http://bedside.test"


# --- the loopback listener -------------------------------------------------------------------


def _hit(listener: LoopbackRedirect, query: str, path: str = "/callback") -> httpx.Response:
    return httpx.get(f"http://127.0.0.1:{listener.port}{path}?{query}", timeout=5)


def test_loopback_listener_refuses_a_wrong_state_and_keeps_waiting_for_the_right_one() -> None:
    state = secrets.token_urlsafe(16)
    with LoopbackRedirect(state) as listener:
        assert listener.redirect_uri == f"http://127.0.0.1:{listener.port}/callback"
        forged = _hit(listener, "code=stolen&state=" + secrets.token_urlsafe(16))
        assert forged.status_code == 400
        assert "does not belong" in forged.text
        assert _hit(listener, "code=stolen").status_code == 400  # no state at all
        assert _hit(listener, f"code=x&state={state}", path="/other").status_code == 404
        ok = _hit(listener, f"code=the-code&state={state}")
        assert ok.status_code == 200 and "return to the terminal" in ok.text
        assert listener.wait(1) == "the-code"
        # A second response, even with the right state, cannot replace the first.
        assert _hit(listener, f"code=later&state={state}").status_code == 400
        assert listener.wait(1) == "the-code"
        assert "the-code" not in ok.text


def test_loopback_listener_reports_an_authorization_error_as_a_sentence() -> None:
    state = secrets.token_urlsafe(16)
    with LoopbackRedirect(state) as listener:
        answer = _hit(
            listener, f"error=access_denied&error_description=The+user+said+no&state={state}"
        )
        assert answer.status_code == 200 and "not completed" in answer.text
        with pytest.raises(DeviceError, match=r"did not complete the sign-in: The user said no\."):
            listener.wait(1)


def test_loopback_listener_times_out_plainly_and_frees_its_port() -> None:
    with LoopbackRedirect("s" * 16) as listener:
        port = listener.port
        started = time.monotonic()
        with pytest.raises(DeviceError, match=r"No sign-in arrived within 0\.3 seconds"):
            listener.wait(0.3)
        assert time.monotonic() - started < 3
    with socket.socket() as s:
        s.bind(("127.0.0.1", port))  # closed: the port is free again


def test_loopback_listener_listens_on_ipv4_loopback_only() -> None:
    with LoopbackRedirect("s" * 16) as listener:
        assert listener._httpd.server_address[0] == "127.0.0.1"


def test_pkce_pair_is_s256_of_a_fresh_verifier() -> None:
    verifier, challenge = pkce_pair()
    digest = hashlib.sha256(verifier.encode()).digest()
    assert challenge == base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
    assert 43 <= len(verifier) <= 128
    assert pkce_pair()[0] != verifier


@pytest.mark.parametrize(
    ("typed", "base"),
    [
        ("http://h:8000", "http://h:8000/fhir"),
        ("http://h:8000/", "http://h:8000/fhir"),
        ("https://h/fhir/", "https://h/fhir"),
    ],
)
def test_server_address_may_be_the_root_or_the_fhir_base(typed: str, base: str) -> None:
    assert fhir_base_of(typed) == base


@pytest.mark.parametrize("typed", ["h:8000", "ftp://h/fhir", "http://h/fhir?x=1"])
def test_server_address_that_is_not_an_http_url_is_refused(typed: str) -> None:
    with pytest.raises(DeviceError):
        fhir_base_of(typed)


# --- a fake authorization server behind MockTransport -----------------------------------------


class FakeServer:
    """Discovery, JWKS and a token endpoint that checks PKCE, like the real one."""

    def __init__(self, *, issuer: str = BASE) -> None:
        self.key = RSAKey.generate_key(2048, parameters={"kid": "k1"}, private=True)
        self.issuer = issuer
        self.challenge: str | None = None
        self.nonce: str | None = None
        self.redirect_uri: str | None = None
        self.forms: list[dict[str, str]] = []
        self.refresh_count = 0

    def sign(self, claims: dict[str, Any], typ: str) -> str:
        return jwt.encode({"alg": "RS256", "kid": "k1", "typ": typ}, claims, self.key)

    def access(self, **extra: Any) -> str:
        now = int(time.time())
        claims = {"iss": BASE, "aud": BASE, "sub": "u1", "iat": now, "exp": now + 900, **extra}
        return self.sign(claims, "at+jwt")

    def handle(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path
        if path == "/fhir/.well-known/smart-configuration":
            return httpx.Response(
                200,
                json={
                    "issuer": self.issuer,
                    "authorization_endpoint": f"{ROOT}/auth/authorize",
                    "token_endpoint": f"{ROOT}/auth/token",
                    "jwks_uri": f"{ROOT}/auth/jwks",
                },
            )
        if path == "/auth/jwks":
            return httpx.Response(200, json={"keys": [self.key.as_dict(private=False)]})
        if path == "/auth/token":
            form = {k: v[0] for k, v in parse_qs(request.content.decode()).items()}
            self.forms.append(form)
            return self.token(form)
        return httpx.Response(404, json=_outcome("Not here."))

    def token(self, form: dict[str, str]) -> httpx.Response:
        if form["grant_type"] == "refresh_token":
            self.refresh_count += 1
            return httpx.Response(
                200,
                json={
                    "access_token": self.access(device="dev-1", auth_time=100),
                    "refresh_token": f"rotated-{self.refresh_count}",
                    "expires_in": 900,
                    "scope": SCOPE,
                },
            )
        digest = hashlib.sha256(form["code_verifier"].encode()).digest()
        if (
            form["code"] != "good-code"
            or base64.urlsafe_b64encode(digest).rstrip(b"=").decode() != self.challenge
            or form["redirect_uri"] != self.redirect_uri
        ):
            return httpx.Response(400, json={"error": "invalid_grant", "error_description": "No."})
        now = int(time.time())
        id_token = self.sign(
            {
                "iss": BASE,
                "aud": CLIENT_ID,
                "sub": "u1",
                "iat": now,
                "exp": now + 900,
                "nonce": self.nonce,
                "fhirUser": f"{BASE}/Practitioner/9",
            },
            "JWT",
        )
        return httpx.Response(
            200,
            json={
                "access_token": self.access(fhirUser="Practitioner/9", auth_time=now),
                "refresh_token": "first-refresh",
                "id_token": id_token,
                "expires_in": 900,
                "scope": SCOPE,
            },
        )


def _outcome(text: str) -> dict[str, Any]:
    return {
        "resourceType": "OperationOutcome",
        "issue": [{"severity": "error", "code": "forbidden", "diagnostics": text}],
    }


def _remote(fake: FakeServer) -> Remote:
    return Remote(BASE, transport=httpx.MockTransport(fake.handle))


def _browser(fake: FakeServer, code: str = "good-code", state: str | None = None) -> Any:
    """A show_url callback that plays the browser: the server redirects it to the listener."""

    def show(url: str) -> None:
        query = {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}
        assert urlsplit(url).path == "/auth/authorize"
        assert query["client_id"] == CLIENT_ID and query["scope"] == SCOPE
        assert query["aud"] == BASE and query["code_challenge_method"] == "S256"
        fake.challenge, fake.nonce = query["code_challenge"], query["nonce"]
        fake.redirect_uri = query["redirect_uri"]
        back = f"{query['redirect_uri']}?code={code}&state={state or query['state']}"
        threading.Thread(target=httpx.get, args=(back,), kwargs={"timeout": 5}).start()

    return show


def test_sign_in_walks_pkce_through_the_loopback_redirect_and_returns_the_identity() -> None:
    fake = FakeServer()
    with _remote(fake) as remote:
        tokens = remote.sign_in(show_url=_browser(fake), timeout=10)
    assert tokens.subject == "u1" and tokens.fhir_user == "Practitioner/9"
    assert tokens.refresh_token == "first-refresh"
    assert tokens.id_claims["fhirUser"] == f"{BASE}/Practitioner/9"
    assert tokens.device is None and tokens.auth_time is not None
    assert fake.redirect_uri is not None and fake.redirect_uri.startswith("http://127.0.0.1:")
    assert "first-refresh" not in repr(tokens) and tokens.access_token not in repr(tokens)


def test_sign_in_with_a_forged_state_never_exchanges_a_code() -> None:
    fake = FakeServer()
    with _remote(fake) as remote, pytest.raises(DeviceError, match="No sign-in arrived"):
        remote.sign_in(show_url=_browser(fake, state="forged-state-value"), timeout=1.5)
    assert fake.forms == []


def test_refresh_returns_the_rotated_refresh_token_and_the_device_claim() -> None:
    fake = FakeServer()
    with _remote(fake) as remote:
        first = remote.refresh("first-refresh")
        second = remote.refresh(first.refresh_token or "")
    assert (first.refresh_token, second.refresh_token) == ("rotated-1", "rotated-2")
    assert first.device == "dev-1" and first.auth_time == 100
    assert [f["refresh_token"] for f in fake.forms] == ["first-refresh", "rotated-1"]
    assert all(f["client_id"] == CLIENT_ID for f in fake.forms)


def test_refresh_hands_the_rotated_token_to_keep_before_checking_the_access_token() -> None:
    fake = FakeServer()
    other = FakeServer()  # the answer's access token is signed by a key the device doesn't know
    fake.access = other.access  # type: ignore[method-assign]
    kept: list[str] = []
    with _remote(fake) as remote, pytest.raises(DeviceError, match="cannot verify"):
        remote.refresh("first-refresh", keep=kept.append)
    assert kept == ["rotated-1"], "the server spent the old token: the new one must be kept"


def test_refresh_asks_once_more_when_the_answer_is_lost_and_not_a_third_time() -> None:
    fake = FakeServer()
    drops = [True]

    def flaky(request: httpx.Request) -> httpx.Response:
        answer = fake.handle(request)
        if request.url.path == "/auth/token" and drops and drops.pop():
            raise httpx.ReadError("connection reset by peer", request=request)
        return answer

    kept: list[str] = []
    with Remote(BASE, transport=httpx.MockTransport(flaky)) as remote:
        tokens = remote.refresh("first-refresh", keep=kept.append)
    assert tokens.refresh_token == "rotated-2" and kept == ["rotated-2"]
    assert [f["refresh_token"] for f in fake.forms] == ["first-refresh", "first-refresh"]

    def down(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/auth/token":
            fake.forms.append({})
            raise httpx.ReadError("connection reset by peer", request=request)
        return fake.handle(request)

    fake.forms.clear()
    downed = Remote(BASE, transport=httpx.MockTransport(down))
    with downed, pytest.raises(DeviceError, match="cannot be reached"):
        downed.refresh("first-refresh", keep=kept.append)
    assert len(fake.forms) == 2, "one retry, then the sentence"


def test_discovery_naming_another_issuer_is_refused() -> None:
    fake = FakeServer(issuer="http://elsewhere.test/fhir")
    with _remote(fake) as remote, pytest.raises(DeviceError, match="another issuer"):
        remote.discover()


def test_a_token_signed_by_another_key_is_refused() -> None:
    fake = FakeServer()
    other = FakeServer()  # same claims, different key
    with _remote(fake) as remote, pytest.raises(DeviceError, match="cannot verify"):
        remote._verified(other.access(), "at+jwt")


def test_unreachable_server_is_one_sentence_naming_the_server() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with Remote(f"http://127.0.0.1:{port}") as remote, pytest.raises(DeviceError) as caught:
        remote.discover()
    assert str(caught.value) == f"The server at http://127.0.0.1:{port} cannot be reached."


def _answering(status: int, body: Any) -> Remote:
    return Remote(BASE, transport=httpx.MockTransport(lambda r: httpx.Response(status, json=body)))


def test_server_refusals_pass_on_its_diagnostics_but_never_the_token() -> None:
    token = "secret-access-token-value"
    remote = _answering(403, _outcome("This patient is not in your care"))
    with remote, pytest.raises(DeviceError) as caught:
        remote.pin(token, "p1")
    message = str(caught.value)
    assert message == ("The server refused the pin (403): This patient is not in your care.")
    assert token not in message


def test_server_errors_do_not_echo_the_body() -> None:
    remote = _answering(500, _outcome("stack trace with internals"))
    with remote, pytest.raises(DeviceError) as caught:
        remote.device_status("t")
    assert "internals" not in str(caught.value)
    assert "(500)" in str(caught.value)


def _flagged(status: str, sentence: str) -> dict[str, Any]:
    outcome = _outcome(sentence)
    note = {"severity": "information", "code": "informational", "diagnostics": status}
    outcome["issue"].append(note)
    return outcome


def test_unlock_key_answers_wipe_when_the_device_is_flagged() -> None:
    body = _flagged('{"status":"wipe"}', "This device has been flagged for wipe: erase its data.")
    with _answering(410, body) as remote:
        answer = remote.unlock_key("t")
    assert answer.wipe and answer.escrow_key is None


def test_a_revoked_device_is_refused_in_words_without_the_machine_note() -> None:
    revoked = _answering(403, _flagged('{"status":"revoked"}', "This device has been revoked."))
    with revoked, pytest.raises(DeviceError) as caught:
        revoked.unlock_key("t")
    assert str(caught.value) == "The server refused the unlock (403): This device has been revoked."


def test_unlock_key_decodes_the_escrow_key() -> None:
    key = secrets.token_bytes(32)
    text = base64.urlsafe_b64encode(key).rstrip(b"=").decode()
    with _answering(200, {"escrow_key": text}) as remote:
        assert remote.unlock_key("t").escrow_key == key
    short = _answering(200, {"escrow_key": "c2hvcnQ"})
    with short, pytest.raises(DeviceError, match="unreadable unlock key"):
        short.unlock_key("t")
