"""The device's HTTP client for one Bedside server: sign-in, tokens and the device API.

A device talks to exactly one server, named by its FHIR base URL. It discovers the
authorization server from ``<fhir base>/.well-known/smart-configuration`` (SMART App Launch 2.2
§Conformance) and signs the user in as a native public client, ``bedside-device``, with the
authorization code grant, PKCE S256 (RFC 7636) and a loopback redirect (RFC 8252 §7.3; see
:mod:`bedside.device.loopback`). Refresh tokens rotate on every use (the server treats reuse as
theft), so :meth:`Remote.refresh` hands the new one to the caller's ``keep`` the moment the
answer is read, before any check of the answer that could fail, and asks once more at once when
the answer was lost on the way (the server allows a retry within its grace: docs/auth.md).

The device API (``/device/register``, ``/device/status``, ``/device/unlock-key``,
``/device/pins``) and the policy snapshot (``/policy/snapshot``) live at the server's root, the
FHIR base without ``/fhir``; docs/device.md describes them. Push and pull
(:mod:`bedside.device.remote_sync`) take and give the protocol's types.

Every failure is a :class:`~bedside.device.errors.DeviceError` whose message is one sentence
for the user. Messages never include a token, a code, a key or the body of a request; the
server's own OperationOutcome ``diagnostics`` (written to be shown, without PHI) are passed on.
"""

from __future__ import annotations

import base64
import binascii
import secrets
import time
import webbrowser
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Final
from urllib.parse import quote

import httpx
import orjson

from bedside.device.clock import ServerClock
from bedside.device.errors import DeviceError
from bedside.device.loopback import LoopbackRedirect
from bedside.device.refusal import device_status_of, refusal
from bedside.device.remote_sync import SyncCalls
from bedside.device.signin import (
    CLIENT_ID,
    SIGN_IN_TIMEOUT,
    Tokens,
    authorize_url,
    browser_available,
    fhir_base_of,
    jwt_claims,
    pkce_pair,
    tokens_from,
)

_JSON: Final = "application/json"


@dataclass(frozen=True)
class Discovery:
    """The endpoints of ``.well-known/smart-configuration`` this client uses."""

    issuer: str
    authorization_endpoint: str
    token_endpoint: str
    jwks_uri: str
    revocation_endpoint: str | None = None


@dataclass(frozen=True)
class UnlockKey:
    """The answer of ``POST /device/unlock-key``: the escrow key, or an order to wipe."""

    escrow_key: bytes | None = field(repr=False)
    wipe: bool = False


class Remote(SyncCalls):
    """The HTTP client for the server at ``fhir_base`` (one per command; not thread-safe)."""

    def __init__(
        self,
        fhir_base: str,
        *,
        client_id: str = CLIENT_ID,
        transport: httpx.BaseTransport | None = None,
        timeout: float = 30.0,
        clock: Callable[[], float] | ServerClock = time.time,
    ) -> None:
        self.fhir_base = fhir_base_of(fhir_base)
        self.root = self.fhir_base.removesuffix("/fhir")
        self.client_id = client_id
        self.clock = ServerClock.of(clock)  # the device's clock; learns the server's from answers
        self._http = httpx.Client(timeout=timeout, transport=transport, follow_redirects=False)
        self._http.event_hooks["response"].append(lambda answer: self.clock.heard(answer))
        self._discovery: Discovery | None = None
        self._jwks: dict[str, Any] | None = None

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Remote:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- transport and errors ----------------------------------------------------------------

    def request(
        self,
        method: str,
        url: str,
        *,
        token: str | None = None,
        accept: str = _JSON,
        **kwargs: Any,
    ) -> httpx.Response:
        headers = {"Accept": accept, **kwargs.pop("headers", {})}
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        try:
            return self._http.request(method, url, headers=headers, **kwargs)
        except httpx.TimeoutException:
            raise DeviceError(f"The server at {self.root} did not answer in time.") from None
        except httpx.HTTPError:
            raise DeviceError(f"The server at {self.root} cannot be reached.") from None

    def json_of(self, response: httpx.Response, doing: str) -> dict[str, Any]:
        if response.status_code >= 400:
            raise DeviceError(refusal(response, doing, self.root))
        try:
            body = orjson.loads(response.content)  # a pull page is MBs: 5x faster than json
        except orjson.JSONDecodeError:
            body = None
        if not isinstance(body, dict):
            raise DeviceError(f"The server at {self.root} sent an unreadable answer to {doing}.")
        return body

    # --- discovery and keys ------------------------------------------------------------------

    def discover(self) -> Discovery:
        """SMART discovery; the issuer must be this FHIR base (mix-up defence, RFC 9207 §2.4)."""
        if self._discovery is None:
            url = f"{self.fhir_base}/.well-known/smart-configuration"
            body = self.json_of(self.request("GET", url), "the discovery request")
            try:
                found = Discovery(
                    issuer=str(body["issuer"]),
                    authorization_endpoint=str(body["authorization_endpoint"]),
                    token_endpoint=str(body["token_endpoint"]),
                    jwks_uri=str(body["jwks_uri"]),
                    revocation_endpoint=body.get("revocation_endpoint"),
                )
            except KeyError:
                raise DeviceError(
                    f"The server at {self.root} does not offer SMART sign-in."
                ) from None
            if found.issuer != self.fhir_base:
                raise DeviceError(
                    f"The server at {self.root} names another issuer; check the address."
                )
            self._discovery = found
        return self._discovery

    def jwks(self, *, fresh: bool = False) -> dict[str, Any]:
        """The server's public signing keys (they verify tokens and policy snapshots)."""
        if self._jwks is None or fresh:
            body = self.json_of(
                self.request("GET", self.discover().jwks_uri), "the key set request"
            )
            if not isinstance(body.get("keys"), list):
                raise DeviceError(f"The server at {self.root} sent an unreadable key set.")
            self._jwks = body
        return self._jwks

    def _verified(self, token: str, typ: str) -> dict[str, Any]:
        """The claims of a JWT the server signed, checked against its JWKS (refetched once)."""
        for fresh in (False, True):
            claims = jwt_claims(token, self.jwks(fresh=fresh), typ, self.fhir_base, self.clock)
            if claims is not None:
                return claims
        raise DeviceError(f"The server at {self.root} sent a token this device cannot verify.")

    # --- sign-in (RFC 6749 §4.1, RFC 7636, RFC 8252) -----------------------------------------

    def sign_in(
        self,
        *,
        show_url: Callable[[str], None],
        open_browser: bool = False,
        timeout: float = SIGN_IN_TIMEOUT,
    ) -> Tokens:
        """Sign the user in through a browser; the tokens of the new grant.

        ``show_url`` receives the sign-in URL (always: the user may open it on their own).
        A browser is opened only when asked and one seems available.
        """
        self.discover()
        verifier, challenge = pkce_pair()
        state, nonce = secrets.token_urlsafe(24), secrets.token_urlsafe(16)
        with LoopbackRedirect(state) as listener:
            url = authorize_url(
                self.discover().authorization_endpoint,
                client_id=self.client_id,
                redirect_uri=listener.redirect_uri,
                state=state,
                challenge=challenge,
                nonce=nonce,
                aud=self.fhir_base,
            )
            show_url(url)
            if open_browser and browser_available():
                webbrowser.open(url)
            code = listener.wait(timeout)
            redirect_uri = listener.redirect_uri
        form = {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": redirect_uri,
            "code_verifier": verifier,
            "client_id": self.client_id,
        }
        tokens = self._token(form, "the sign-in")
        nonce_back = tokens.id_claims.get("nonce")
        if tokens.id_claims and not (
            isinstance(nonce_back, str) and secrets.compare_digest(nonce_back, nonce)
        ):
            raise DeviceError(f"The server at {self.root} answered for another sign-in.")
        return tokens

    def refresh(self, refresh_token: str, keep: Callable[[str], None] | None = None) -> Tokens:
        """A new access token (RFC 6749 §6) and the rotated refresh token.

        The server has spent ``refresh_token`` once it answers, so ``keep`` (store it) gets the
        rotated one as soon as the answer is read, before the access token is checked: a check
        that fails must not leave the device holding only a spent token. An answer lost on the
        way (the connection dropped) is asked for once more with the same token, which the
        server answers with the same rotated token (docs/auth.md "Refresh token rotation").
        """
        form = {
            "grant_type": "refresh_token",
            "refresh_token": refresh_token,
            "client_id": self.client_id,
        }
        return self._token(form, "the token refresh", keep=keep, retry=True)

    def _token(
        self,
        form: dict[str, str],
        doing: str,
        *,
        keep: Callable[[str], None] | None = None,
        retry: bool = False,
    ) -> Tokens:
        url = self.discover().token_endpoint
        try:
            response = self.request("POST", url, data=form)
        except DeviceError:
            if not retry:
                raise
            response = self.request("POST", url, data=form)  # the answer, not the ask, was lost
        body = self.json_of(response, doing)
        rotated = body.get("refresh_token")
        if keep is not None and isinstance(rotated, str) and rotated:
            keep(rotated)
        access = body.get("access_token")
        if not isinstance(access, str):
            raise DeviceError(f"The server at {self.root} sent no access token.")
        claims = self._verified(access, "at+jwt")
        id_claims: dict[str, Any] = {}
        if isinstance(body.get("id_token"), str):
            id_claims = self._verified(body["id_token"], "JWT")
            if id_claims.get("aud") != self.client_id or id_claims.get("sub") != claims.get("sub"):
                raise DeviceError(f"The server at {self.root} sent an identity for another app.")
        return tokens_from(body, access, claims, id_claims)

    def revoke(self, refresh_token: str) -> bool:
        """End a grant by its refresh token (RFC 7009 §2.1); False if the server refused."""
        endpoint = self.discover().revocation_endpoint
        if endpoint is None:
            return False
        form = {"token": refresh_token, "token_type_hint": "refresh_token"}
        response = self.request("POST", endpoint, data={**form, "client_id": self.client_id})
        return response.status_code == 200

    # --- the device API ----------------------------------------------------------------------

    def register_device(
        self,
        token: str,
        *,
        device_id: str,
        public_key: str,
        app_version: str,
        posture: dict[str, Any],
        escrow_key: bytes | None,
    ) -> dict[str, Any]:
        """``POST /device/register``: bind the token's grant to this device.

        The first registration deposits the escrow key; a later one (after a new sign-in on
        the same device) sends none, since the device no longer holds it.
        """
        body: dict[str, Any] = {
            "device_id": device_id,
            "public_key": public_key,
            "app_version": app_version,
            "posture": posture,
        }
        if escrow_key is not None:
            body["escrow_key"] = base64.urlsafe_b64encode(escrow_key).rstrip(b"=").decode()
        response = self.request("POST", f"{self.root}/device/register", token=token, json=body)
        return self.json_of(response, "the device registration")

    def report_telemetry(self, token: str, body: dict[str, Any]) -> None:
        """``POST /device/telemetry``: the health report (204); DeviceError if refused."""
        response = self.request("POST", f"{self.root}/device/telemetry", token=token, json=body)
        if response.status_code >= 400:
            raise DeviceError(refusal(response, "the health report", self.root))

    def report_wiped(self, token: str, *, sent: int, lost: int) -> None:
        """``POST /device/wiped``: what this device sent and lost as it wipes (204)."""
        body = {"sent": sent, "lost": lost}
        response = self.request("POST", f"{self.root}/device/wiped", token=token, json=body)
        if response.status_code >= 400:
            raise DeviceError(refusal(response, "the wipe report", self.root))

    def device_status(self, token: str, device_id: str | None = None) -> str:
        """``GET /device/status``: "active", "revoked" or "wipe".

        With a device's token, that device; with a token of a sign-in not yet bound to the
        device (an online unlock), the device named by ``device_id``.
        """
        params = {"device_id": device_id} if device_id else None
        url = f"{self.root}/device/status"
        response = self.request("GET", url, token=token, params=params)
        status = self.json_of(response, "the device status request").get("status")
        if status not in ("active", "revoked", "wipe"):
            raise DeviceError(f"The server at {self.root} sent an unknown device status.")
        return str(status)

    def unlock_key(self, token: str) -> UnlockKey:
        """``POST /device/unlock-key``: the escrow key after a fresh sign-in, or a wipe order."""
        response = self.request("POST", f"{self.root}/device/unlock-key", token=token)
        if response.status_code >= 400 and device_status_of(response) == "wipe":
            return UnlockKey(None, wipe=True)
        text = self.json_of(response, "the unlock").get("escrow_key")
        try:
            key = base64.urlsafe_b64decode(str(text) + "=" * (-len(str(text)) % 4))
        except (binascii.Error, ValueError):
            key = b""
        if text is None or len(key) != 32:
            raise DeviceError(f"The server at {self.root} sent an unreadable unlock key.")
        return UnlockKey(key)

    def pins(self, token: str) -> list[str]:
        """``GET /device/pins``: the patient ids this device pinned."""
        response = self.request("GET", f"{self.root}/device/pins", token=token)
        pins = self.json_of(response, "the pin list request").get("pins")
        return [str(p) for p in pins] if isinstance(pins, list) else []

    def pin(self, token: str, patient: str) -> None:
        """``PUT /device/pins/{patient}``: keep a patient on this device (server-checked)."""
        self._no_content("PUT", f"/device/pins/{quote(patient, safe='')}", token, "the pin")

    def unpin(self, token: str, patient: str) -> None:
        self._no_content("DELETE", f"/device/pins/{quote(patient, safe='')}", token, "the unpin")

    def _no_content(self, method: str, path: str, token: str, doing: str) -> None:
        response = self.request(method, f"{self.root}{path}", token=token)
        if response.status_code >= 400:
            raise DeviceError(refusal(response, doing, self.root))

    def snapshot(self, token: str) -> str:
        """``GET /policy/snapshot`` as a compact JWS (``Accept: application/jose``)."""
        response = self.request(
            "GET", f"{self.root}/policy/snapshot", token=token, accept="application/jose"
        )
        if response.status_code >= 400:
            raise DeviceError(refusal(response, "the offline policy request", self.root))
        text = response.text.strip()
        if text.count(".") != 2:
            raise DeviceError(f"The server at {self.root} sent an unreadable offline policy.")
        return text


__all__ = ["Discovery", "Remote", "UnlockKey", "fhir_base_of"]
