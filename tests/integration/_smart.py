"""Shared machinery for the SMART App Launch tests (tests/integration/test_smart_*.py).

Everything here goes over real HTTP on loopback to a real ``bedside serve`` process, one per
module and backend. Users, clients and launches are made with the ``bedside admin`` CLI as
subprocesses against the same data dir and database as the server, as an operator would; FHIR
data is created with an operator token from ``bedside admin token``.

The browser is an :class:`httpx.Client` that keeps cookies and follows nothing by itself:
:meth:`Smart.browser_flow` walks authorize, sign-in, the patient picker and consent the way a
person would, and returns where the server finally sent the browser.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import secrets
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cached_property
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from joserfc import jwt
from joserfc.jwk import ECKey, RSAKey

from tests.conftest import Server
from tests.integration._module_server import live_server

PASSWORD = "correct horse battery staple"
REDIRECT = "http://127.0.0.1:9/callback"  # never fetched: the tests read the Location header
JWT_BEARER = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
SIGNIN_FAILED = "Sign-in failed."
LAB = "http://terminology.hl7.org/CodeSystem/observation-category|laboratory"
_CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"

AssertionKey = RSAKey | ECKey


# --- PKCE and client assertions ------------------------------------------------------------------


def pkce_pair() -> tuple[str, str]:
    """A fresh (code_verifier, S256 code_challenge) pair (RFC 7636 §4.1, §4.2)."""
    verifier = secrets.token_urlsafe(48)
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return verifier, base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def generate_key(alg: str) -> AssertionKey:
    """A private key for RS384 (RSA-2048) or ES384 (P-384), made now, with a kid.

    The JWK carries no ``alg``, so the server's own algorithm allow-list is what refuses, e.g.,
    an RS256 signature by the same key.
    """
    kid = f"{alg.lower()}-{secrets.token_hex(4)}"
    if alg == "RS384":
        return RSAKey.generate_key(2048, parameters={"kid": kid}, private=True)
    if alg == "ES384":
        return ECKey.generate_key("P-384", parameters={"kid": kid}, private=True)
    raise ValueError(alg)


def public_jwks(*keys: AssertionKey) -> dict[str, Any]:
    return {"keys": [dict(k.as_dict(private=False)) for k in keys]}


def client_assertion(
    key: AssertionKey,
    client_id: str,
    audience: str,
    *,
    lifetime: int = 240,
    jti: str | None = None,
    now: float | None = None,
    alg: str | None = None,
    **claims: Any,
) -> str:
    """An RFC 7523 client assertion (SMART Backend Services) signed by ``key``."""
    issued = int(now if now is not None else time.time())
    body: dict[str, Any] = {
        "iss": client_id,
        "sub": client_id,
        "aud": audience,
        "exp": issued + lifetime,
        "iat": issued,
        "jti": jti or secrets.token_urlsafe(16),
        **claims,
    }
    algorithm = alg or ("RS384" if isinstance(key, RSAKey) else "ES384")
    header = {"alg": algorithm, "kid": key.kid, "typ": "JWT"}
    return jwt.encode(header, body, key, algorithms=[algorithm])


@contextmanager
def serve_json(document: dict[str, Any]) -> Iterator[str]:
    """Serve ``document`` at http://127.0.0.1:PORT/jwks.json from a thread; yield the URL."""
    payload = json.dumps(document).encode()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path != "/jwks.json":
                self.send_error(404)
                return
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}/jwks.json"
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)


# --- the browser flow ----------------------------------------------------------------------------


@dataclass
class Flow:
    """Where the browser ended up after authorize, sign-in, patient picker and consent."""

    location: str  # the final redirect (to the client's redirect_uri, or a server page)
    verifier: str
    challenge: str
    state: str
    consent_types: list[str] = field(default_factory=list)  # the checkboxes consent offered
    picker_patients: list[str] = field(default_factory=list)  # the radio values the picker had

    @property
    def params(self) -> dict[str, str]:
        return {k: v[0] for k, v in parse_qs(urlsplit(self.location).query).items()}

    @property
    def code(self) -> str:
        params = self.params
        assert "code" in params, f"no code in {self.location}"
        return params["code"]


def _request_id(location: str) -> str:
    return parse_qs(urlsplit(location).query)["request"][0]


def redirect_params(response: httpx.Response) -> dict[str, str]:
    """The query of a redirect's Location, one value per name."""
    location = response.headers["location"]
    return {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}


# --- one server per module and backend -----------------------------------------------------------


@dataclass
class Smart:
    """A running server plus the CLI and HTTP helpers the SMART tests share."""

    server: Server
    database: str
    backend: str

    @property
    def fhir(self) -> str:
        return self.server.base

    @property
    def root(self) -> str:
        return self.server.base.removesuffix("/fhir")

    @property
    def token_url(self) -> str:
        return f"{self.root}/auth/token"

    # --- the admin CLI ---------------------------------------------------------------------------

    def admin(self, *args: str, stdin: str | None = None, check: bool = True) -> str:
        """Run ``bedside admin ARGS`` against this server's data; return its stdout."""
        proc = subprocess.run(
            [
                sys.executable,
                "-m",
                "bedside",
                "admin",
                *args,
                "--data-dir",
                str(self.server.data_dir),
                *(["--database", self.database] if args[0] not in ("token", "keys") else []),
            ],
            input=stdin,
            capture_output=True,
            text=True,
            timeout=60,
        )
        if check and proc.returncode != 0:
            raise AssertionError(f"bedside admin {' '.join(args)} failed: {proc.stderr}")
        return proc.stdout

    @cached_property
    def operator_token(self) -> str:
        out = self.admin("token", "--scope", "system/*.cruds")
        return out.strip().splitlines()[-1]

    def add_user(
        self, username: str, role: str, fhir_user: str | None = None, password: str = PASSWORD
    ) -> str:
        args = ["user", "add", username, "--role", role, "--password-stdin"]
        if fhir_user is not None:
            args += ["--fhir-user", fhir_user]
        return self.admin(*args, stdin=password + "\n").strip().splitlines()[-1]

    def add_app(
        self, client_id: str, *, scope: str | None = None, redirect_uri: str = REDIRECT
    ) -> None:
        """A public SMART app (PKCE, no secret)."""
        args = ["client", "add", client_id, "--redirect-uri", redirect_uri, "--public"]
        self.admin(*args, *(["--scope", scope] if scope else []))

    def add_confidential_app(self, client_id: str, *, redirect_uri: str = REDIRECT) -> str:
        """A confidential app with a 40-character secret (client_secret_basic); the secret."""
        secret = secrets.token_urlsafe(30)
        assert len(secret) == 40
        args = ["client", "add", client_id, "--redirect-uri", redirect_uri, "--secret-stdin"]
        self.admin(*args, stdin=secret + "\n")
        return secret

    def add_backend(
        self,
        client_id: str,
        *,
        jwks: dict[str, Any] | None = None,
        jwks_url: str | None = None,
        scope: str = "system/*.rs",
    ) -> None:
        args = ["client", "add", client_id, "--backend", "--scope", scope]
        if jwks is not None:
            path = self.server.data_dir.parent / f"{client_id}.jwks.json"
            path.write_text(json.dumps(jwks))
            args += ["--jwks-file", str(path)]
        else:
            assert jwks_url is not None
            args += ["--jwks-url", jwks_url]
        self.admin(*args)

    # --- FHIR data -------------------------------------------------------------------------------

    def fhir_client(self, token: str | None = None) -> httpx.Client:
        headers = {"Accept": "application/fhir+json"}
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        return httpx.Client(base_url=self.fhir, headers=headers, timeout=30.0)

    def create(self, resource: dict[str, Any]) -> str:
        """POST a resource with the operator token; its server-assigned id."""
        with self.fhir_client(self.operator_token) as c:
            r = c.post(
                f"/{resource['resourceType']}",
                json=resource,
                headers={
                    "Content-Type": "application/fhir+json",
                    "Prefer": "return=representation",
                },
            )
        assert r.status_code == 201, r.text
        return str(r.json()["id"])

    def create_patient(self, family: str, given: str = "Test") -> str:
        return self.create(
            {
                "resourceType": "Patient",
                "name": [{"family": family, "given": [given]}],
                "birthDate": "1980-02-03",
            }
        )

    def create_observation(self, patient: str, category: str, code: str = "1234-5") -> str:
        return self.create(
            {
                "resourceType": "Observation",
                "status": "final",
                "category": [{"coding": [{"system": _CATEGORY, "code": category}]}],
                "code": {"coding": [{"system": "http://loinc.org", "code": code}]},
                "subject": {"reference": f"Patient/{patient}"},
                "valueQuantity": {"value": 5.1, "unit": "mmol/L"},
            }
        )

    def create_condition(self, patient: str) -> str:
        return self.create(
            {
                "resourceType": "Condition",
                "code": {"text": "Hypertension"},
                "subject": {"reference": f"Patient/{patient}"},
            }
        )

    def get(self, path: str, token: str | None, **params: str) -> httpx.Response:
        with self.fhir_client(token) as c:
            return c.get(path, params=params)

    # --- OAuth -----------------------------------------------------------------------------------

    def browser(self) -> httpx.Client:
        return httpx.Client(base_url=self.root, follow_redirects=False, timeout=30.0)

    def authorize_params(
        self, client_id: str, scope: str, *, challenge: str, state: str, **extra: str
    ) -> dict[str, str]:
        return {
            "response_type": "code",
            "client_id": client_id,
            "redirect_uri": REDIRECT,
            "scope": scope,
            "state": state,
            "aud": self.fhir,
            "code_challenge": challenge,
            "code_challenge_method": "S256",
            **extra,
        }

    def browser_flow(
        self,
        client_id: str,
        username: str,
        scope: str,
        *,
        password: str = PASSWORD,
        untick: Sequence[str] = (),
        patient: str | None = None,
        decision: str = "allow",
        method: str = "GET",
        state: str | None = None,
        **extra: str,
    ) -> Flow:
        """Authorize, sign in, pick ``patient`` if asked, consent; return the final redirect."""
        verifier, challenge = pkce_pair()
        state = state if state is not None else secrets.token_urlsafe(12)
        params = self.authorize_params(client_id, scope, challenge=challenge, state=state, **extra)
        flow = Flow("", verifier, challenge, state)
        with self.browser() as b:
            if method == "POST":
                r = b.post("/auth/authorize", data=params)
            else:
                r = b.get("/auth/authorize", params=params)
            assert r.status_code == 303, r.text
            flow.location = r.headers["location"]
            if not flow.location.startswith("/auth/signin"):
                return flow  # an error sent back to the client
            rid = _request_id(flow.location)
            assert b.get(flow.location).status_code == 200
            r = b.post(
                "/auth/signin", data={"request": rid, "username": username, "password": password}
            )
            assert r.status_code == 303, f"sign-in as {username}: {r.status_code}"
            location = r.headers["location"]
            r = b.get(location)
            if r.status_code == 303 and r.headers["location"].startswith("/auth/patient"):
                r = b.get(r.headers["location"])
                assert r.status_code == 200, r.text
                flow.picker_patients = re.findall(r'name="patient" value="([^"]+)"', r.text)
                assert patient is not None, "the server asked for a patient"
                r = b.post("/auth/patient", data={"request": rid, "patient": patient})
                assert r.status_code == 303, r.text
                r = b.get(r.headers["location"])
            assert r.status_code == 200, r.text
            flow.consent_types = re.findall(r'name="type" value="([^"]+)"', r.text)
            kept = [t for t in flow.consent_types if t not in untick]
            r = b.post("/auth/consent", data={"request": rid, "decision": decision, "type": kept})
            assert r.status_code == 303, r.text
            flow.location = r.headers["location"]
        return flow

    def redeem(
        self,
        code: str,
        verifier: str | None,
        client_id: str,
        *,
        secret: str | None = None,
        **extra: str,
    ) -> httpx.Response:
        """POST /auth/token with grant_type=authorization_code."""
        form = {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT}
        if verifier is not None:
            form["code_verifier"] = verifier
        form.update(extra)
        auth = (client_id, secret) if secret is not None else None
        if secret is None:
            form["client_id"] = client_id
        return httpx.post(self.token_url, data=form, auth=auth, timeout=30.0)

    def refresh(
        self, refresh_token: str, client_id: str, *, secret: str | None = None, **extra: str
    ) -> httpx.Response:
        form = {"grant_type": "refresh_token", "refresh_token": refresh_token, **extra}
        if secret is None:
            form["client_id"] = client_id
        auth = (client_id, secret) if secret is not None else None
        return httpx.post(self.token_url, data=form, auth=auth, timeout=30.0)

    def login(
        self,
        client_id: str,
        username: str,
        scope: str,
        *,
        secret: str | None = None,
        **kwargs: Any,
    ) -> dict[str, Any]:
        """The whole authorization code flow; the token response (asserted 200)."""
        flow = self.browser_flow(client_id, username, scope, **kwargs)
        r = self.redeem(flow.code, flow.verifier, client_id, secret=secret)
        assert r.status_code == 200, r.text
        body: dict[str, Any] = r.json()
        return body

    def oauth_post(
        self, path: str, form: dict[str, str], auth: tuple[str, str] | None = None
    ) -> httpx.Response:
        return httpx.post(f"{self.root}{path}", data=form, auth=auth, timeout=30.0)


@contextmanager
def smart_server(factory: pytest.TempPathFactory, backend: str, *extra: str) -> Iterator[Smart]:
    """A module's server on ``backend`` (``extra`` are more `serve` options), stopped and its
    PostgreSQL schema dropped on exit, also when the module's setup fails half way."""
    with live_server(factory, backend, *extra) as (srv, url):
        yield Smart(srv, url, backend)


# --- a small world for device tests: a nurse on one patient's care team, and a stranger ---------


@dataclass
class Nurse:
    username: str
    user_id: str
    patient: str  # on her care team
    stranger: str  # no relationship


def new_nurse(smart: Smart) -> Nurse:
    """A nurse user whose Practitioner is on an active CareTeam of a new patient."""
    practitioner = smart.create({"resourceType": "Practitioner", "name": [{"family": "Nurse"}]})
    patient = smart.create_patient("Cared")
    stranger = smart.create_patient("Stranger")
    smart.create(
        {
            "resourceType": "CareTeam",
            "status": "active",
            "subject": {"reference": f"Patient/{patient}"},
            "participant": [{"member": {"reference": f"Practitioner/{practitioner}"}}],
        }
    )
    username = f"nurse-{secrets.token_hex(4)}"
    user_id = smart.add_user(username, "nurse", f"Practitioner/{practitioner}")
    return Nurse(username, user_id, patient, stranger)
