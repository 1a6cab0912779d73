"""The token, introspection and revocation endpoints (RFC 6749 §4.1.3, §6, §4.4; RFC 7009;
RFC 7662; SMART App Launch 2.2 and Backend Services), on top of :class:`AuthServer`.
"""

from __future__ import annotations

from typing import Any

from joserfc.errors import JoseError

from bedside.auth import ceilings, tokens
from bedside.auth.clients import Client
from bedside.auth.grants import Grant
from bedside.auth.scopes import ScopeSet
from bedside.auth.server import BACKEND_TTL, AuthServer
from bedside.errors import OAuthError, Unauthorized

__all__ = ["TokenEndpoint"]


class TokenEndpoint:
    def __init__(self, server: AuthServer) -> None:
        self.server = server

    # --- POST /auth/token ----------------------------------------------------------------------

    def token(self, form: dict[str, str], authorization: str | None) -> dict[str, Any]:
        grant_type = form.get("grant_type", "")
        if grant_type not in ("authorization_code", "refresh_token", "client_credentials"):
            raise OAuthError(
                "unsupported_grant_type",
                "grant_type must be authorization_code, refresh_token or client_credentials.",
            )
        client = self.server.client_auth.authenticate(form, authorization)
        if grant_type == "client_credentials":
            return self._client_credentials(client, form)
        if client.backend:
            raise OAuthError("unauthorized_client", "A backend service uses client_credentials.")
        if grant_type == "authorization_code":
            try:
                grant, nonce = self.server.grants.redeem_code(
                    form.get("code", ""),
                    client.client_id,
                    form.get("redirect_uri"),
                    form.get("code_verifier"),
                )
            except OAuthError:
                self.server.audit_refused_exchange("code", form.get("code", ""), client.client_id)
                raise
            return self._response(client, grant, ScopeSet.parse(grant.scope), nonce, fresh=True)
        refresh_token = form.get("refresh_token", "")
        wider = OAuthError(
            "invalid_scope", "A refresh may narrow the granted scope, never widen it."
        )
        requested = ceilings.parse(form["scope"]) if form.get("scope") else None

        def allow(grant: Grant) -> None:
            # Refuse a widening before rotating: a refused refresh must leave the client's
            # refresh token usable (it gets no new one), not spend it and turn its next use
            # into "reuse" that revokes the grant.
            if requested is not None and not ceilings.covers(
                ScopeSet.parse(grant.scope), requested
            ):
                raise wider

        try:
            rotated = self.server.grants.rotate_refresh(refresh_token, client.client_id, allow)
        except OAuthError as refused:
            if refused is not wider:
                self.server.audit_refused_exchange("refresh", refresh_token, client.client_id)
            raise
        grant = rotated.grant
        scope = requested if requested is not None else ScopeSet.parse(grant.scope)
        return self._response(
            client,
            grant,
            scope,
            None,
            fresh=False,
            refresh=rotated.refresh_token,
            retry=rotated.retry,
        )

    def _client_credentials(self, client: Client, form: dict[str, str]) -> dict[str, Any]:
        if not client.backend:
            raise OAuthError(
                "unauthorized_client", "Only backend service clients may use client_credentials."
            )
        requested = ceilings.parse(form.get("scope", ""))
        scope = ceilings.narrow(requested, ScopeSet.parse(client.scope))
        if not scope.scopes:
            raise OAuthError(
                "invalid_scope", "Ask for system/ scopes this service is registered for."
            )
        ttl = min(BACKEND_TTL, self.server.config.access_ttl)
        grant = self.server.grants.create(client.client_id, None, scope.text().strip(), {}, ttl)
        token = tokens.issue(
            self.server.keyring.current(),
            subject=client.client_id,
            audience=self.server.config.fhir_base,
            scope=grant.scope,
            ttl=ttl,
            now=self.server.clock(),
            extra={"client_id": client.client_id, "sid": grant.id},
        )
        self.server.audit("token-issue", subject=client.client_id, client_id=client.client_id)
        return {
            "access_token": token,
            "token_type": "Bearer",
            "expires_in": ttl,
            "scope": grant.scope,
        }

    def _response(
        self,
        client: Client,
        grant: Grant,
        scope: ScopeSet,
        nonce: str | None,
        *,
        fresh: bool,
        refresh: str | None = None,
        retry: bool = False,
    ) -> dict[str, Any]:
        server = self.server
        user = server.users.get(grant.user_id) if grant.user_id else None
        if user is None or user.disabled:
            server.grants.revoke(grant.id, "user disabled or removed")
            raise OAuthError("invalid_grant", "The user can no longer use this app.")
        ttl = server.config.access_ttl
        keys = server.keyring.current()
        ctx = grant.context
        text = scope.text().strip()
        access = tokens.issue(
            keys,
            subject=user.id,
            audience=server.config.fhir_base,
            scope=text,
            ttl=ttl,
            now=server.clock(),
            extra={
                "client_id": client.client_id,
                "sid": grant.id,
                "patient": ctx.get("patient"),
                "encounter": ctx.get("encounter"),
                "fhirUser": user.fhir_user,
                "role": user.role,
                "auth_time": grant.created_at,  # the sign-in that authorized this grant
                "device": grant.device,  # set once the device registered (docs/device-registry.md)
            },
        )
        body: dict[str, Any] = {
            "access_token": access,
            "token_type": "Bearer",
            "expires_in": ttl,
            "scope": text,
            "need_patient_banner": bool(ctx.get("need_patient_banner", True)),
            "smart_style_url": server.config.url("smart-style.json"),
        }
        for key in ("patient", "encounter", "fhirContext"):
            if ctx.get(key):
                body[key] = ctx[key]
        if "openid" in scope.other and ("fhirUser" in scope.other or "profile" in scope.other):
            body["id_token"] = tokens.id_token(
                keys,
                issuer=server.config.fhir_base,
                subject=user.id,
                client_id=client.client_id,
                fhir_user=user.fhir_user,
                nonce=nonce,
                ttl=ttl,
                now=server.clock(),
            )
        wants_refresh = {"offline_access", "online_access"} & set(ScopeSet.parse(grant.scope).other)
        if refresh is not None:
            body["refresh_token"] = refresh
        elif fresh and wants_refresh:
            body["refresh_token"] = server.grants.issue_refresh(grant)
        server.audit(
            "token-issue" if fresh else "token-refresh",
            subject=user.id,
            user_ref=user.fhir_user,
            role=user.role,
            client_id=client.client_id,
            patient=ctx.get("patient"),
            # a retry of a lost answer (docs/auth.md "Refresh token rotation")
            description="retry within the refresh grace" if retry else None,
        )
        return body

    # --- POST /auth/introspect (RFC 7662) -----------------------------------------------------

    def introspect(self, form: dict[str, str], authorization: str | None) -> dict[str, Any]:
        caller = self.server.client_auth.authenticate(form, authorization)
        if caller.public:
            raise OAuthError(
                "invalid_client", "Introspection is for confidential clients.", status=401
            )
        token = form.get("token", "")
        if not token:
            raise OAuthError("invalid_request", "token is required.")
        server = self.server
        try:
            claims = tokens.decode(
                server.keyring.current(), token, audience=server.config.fhir_base
            )
        except (Unauthorized, JoseError, ValueError):
            claims = None
        if claims is not None:
            sid = claims.get("sid")
            if sid is not None and not server.grants.is_active(str(sid)):
                return {"active": False}
            out: dict[str, Any] = {
                "active": True,
                "token_type": "Bearer",
                **{
                    k: claims[k]
                    for k in ("scope", "client_id", "exp", "iat", "sub", "aud", "iss", "patient")
                    if k in claims
                },
            }
            if claims.get("fhirUser"):
                out["fhirUser"] = f"{server.config.fhir_base}/{claims['fhirUser']}"
            return out
        grant = server.grants.grant_of_refresh(token)
        if grant is None or not server.grants.is_active(grant.id):
            return {"active": False}
        user = server.users.get(grant.user_id) if grant.user_id else None
        out = {
            "active": True,
            "token_type": "refresh_token",
            "scope": grant.scope,
            "client_id": grant.client_id,
            "exp": grant.expires_at,
            "iat": grant.created_at,
        }
        if grant.patient:
            out["patient"] = grant.patient
        if user is not None:
            out["sub"] = user.id
            if user.fhir_user:
                out["fhirUser"] = f"{server.config.fhir_base}/{user.fhir_user}"
        return out

    # --- POST /auth/revoke (RFC 7009) ---------------------------------------------------------

    def revoke(self, form: dict[str, str], authorization: str | None) -> None:
        """Revoke the grant behind a refresh or access token. Unknown tokens are not an error."""
        client = self.server.client_auth.authenticate(form, authorization)
        token = form.get("token", "")
        if not token:
            raise OAuthError("invalid_request", "token is required.")
        server = self.server
        grant = server.grants.grant_of_refresh(token)
        if grant is None:
            try:
                claims = tokens.decode(
                    server.keyring.current(), token, audience=server.config.fhir_base
                )
                sid = claims.get("sid")
                grant = server.grants.get(str(sid)) if sid else None
            except (Unauthorized, JoseError, ValueError):
                grant = None
        if (
            grant is not None
            and grant.client_id == client.client_id
            and server.grants.revoke(grant.id, "revoked by the client")
        ):
            server.audit(
                "token-revoke",
                subject=grant.user_id or grant.client_id,
                client_id=client.client_id,
                patient=grant.patient,
            )
