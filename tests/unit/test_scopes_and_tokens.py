"""SMART scopes (ScopeSet), server keys and the server's signed bearer tokens."""

from __future__ import annotations

import base64
import stat
import time
from pathlib import Path

import orjson
import pytest
from joserfc import jwt
from joserfc.jwk import RSAKey

from bedside.auth import tokens
from bedside.auth.keys import SigningKeys, load_or_create, rotate
from bedside.auth.scopes import ScopeSet
from bedside.errors import ConfigurationError, InvalidRequest, Unauthorized

AUD = "http://127.0.0.1:8000/fhir"
ALL_INTERACTIONS = ["create", "read", "vread", "update", "patch", "delete", "search"]


# --- scopes ----------------------------------------------------------------------------------


def allowed(scopes: ScopeSet, rtype: str) -> set[str]:
    return {i for i in ALL_INTERACTIONS if scopes.allows(rtype, i)}


def test_v2_letters_grant_exactly_their_interactions() -> None:
    s = ScopeSet.parse("system/Patient.rs")
    assert allowed(s, "Patient") == {"read", "vread", "search"}
    assert allowed(s, "Observation") == set()
    c = ScopeSet.parse("user/Observation.cu")
    assert allowed(c, "Observation") == {"create", "update", "patch"}
    d = ScopeSet.parse("patient/Encounter.d")
    assert allowed(d, "Encounter") == {"delete"}
    full = ScopeSet.parse("system/Patient.cruds")
    assert allowed(full, "Patient") == set(ALL_INTERACTIONS)


def test_history_needs_read_for_an_instance_and_search_for_a_type() -> None:
    r = ScopeSet.parse("system/Patient.r")
    assert r.allows("Patient", "history-instance")
    assert not r.allows("Patient", "history-type")
    s = ScopeSet.parse("system/Patient.s")
    assert s.allows("Patient", "history-type")
    assert not s.allows("Patient", "history-instance")


def test_v1_read_write_and_star_map_to_letters() -> None:
    assert allowed(ScopeSet.parse("system/Patient.read"), "Patient") == {"read", "vread", "search"}
    assert allowed(ScopeSet.parse("system/Patient.write"), "Patient") == {
        "create",
        "update",
        "patch",
        "delete",
    }
    assert allowed(ScopeSet.parse("system/Patient.*"), "Patient") == set(ALL_INTERACTIONS)


def test_wildcard_type_covers_every_type() -> None:
    s = ScopeSet.parse("system/*.rs")
    for rtype in ("Patient", "Observation", "Encounter"):
        assert allowed(s, rtype) == {"read", "vread", "search"}


def test_scopes_combine_across_a_grant() -> None:
    s = ScopeSet.parse("system/Patient.rs system/Observation.c openid fhirUser")
    assert allowed(s, "Patient") == {"read", "vread", "search"}
    assert allowed(s, "Observation") == {"create"}
    assert s.other == ("openid", "fhirUser")


def test_granular_scope_grants_its_letters_on_the_type_its_query_filters_rows() -> None:
    # the query is applied to rows by bedside.rest.access (tests/unit/test_access.py)
    s = ScopeSet.parse("patient/Observation.rs?category=laboratory")
    assert len(s.scopes) == 1
    assert s.scopes[0].query == "category=laboratory"
    assert allowed(s, "Observation") == {"read", "vread", "search"}
    assert allowed(s, "Condition") == set()


def test_text_round_trips_in_canonical_letter_order() -> None:
    s = ScopeSet.parse("system/Patient.read user/*.* launch")
    assert s.text() == "system/Patient.rs user/*.cruds launch"
    assert ScopeSet.parse(s.text()) == s


def test_launch_context_scopes_are_kept_as_other() -> None:
    s = ScopeSet.parse("launch/patient launch/encounter openid patient/Patient.r")
    assert s.other == ("launch/patient", "launch/encounter", "openid")
    assert allowed(s, "Patient") == {"read", "vread"}


@pytest.mark.parametrize(
    "text",
    [
        "system/patient.read",  # type must be a FHIR type name
        "admin/Patient.read",  # unknown context
        "system/Patient.sr",  # v2 letters must be in cruds order
        "system/Patient.x",
        "system/Patient.",  # grants nothing
        "system/Patient",
        "system/.rs",
        "system/Patient.rr",
    ],
)
def test_invalid_scope_raises_invalid_request(text: str) -> None:
    with pytest.raises(InvalidRequest):
        ScopeSet.parse(text)
    with pytest.raises(InvalidRequest):
        ScopeSet.parse(f"system/Patient.rs {text}")


def test_empty_scope_grants_nothing() -> None:
    s = ScopeSet.parse("")
    assert s.scopes == ()
    assert allowed(s, "Patient") == set()


# --- keys ------------------------------------------------------------------------------------


def test_keys_file_is_0600_and_folder_0700(tmp_path: Path) -> None:
    keys = load_or_create(tmp_path)
    folder = tmp_path / "keys"
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    files = list(folder.glob("signing-*.pem"))
    assert len(files) == 1
    assert stat.S_IMODE(files[0].stat().st_mode) == 0o600
    assert files[0].name == f"signing-{keys.signing.kid}.pem"


def test_keys_are_reused_on_the_next_load(tmp_path: Path) -> None:
    first = load_or_create(tmp_path)
    again = load_or_create(tmp_path)
    assert again.signing.kid == first.signing.kid
    assert "d" not in again.public_jwks()["keys"][0]  # type: ignore[index]


def test_group_readable_key_file_is_refused(tmp_path: Path) -> None:
    load_or_create(tmp_path)
    (key_file,) = (tmp_path / "keys").glob("signing-*.pem")
    key_file.chmod(0o640)
    with pytest.raises(ConfigurationError):
        load_or_create(tmp_path)


def test_loosened_keys_folder_is_tightened_again(tmp_path: Path) -> None:
    load_or_create(tmp_path)
    (tmp_path / "keys").chmod(0o755)
    load_or_create(tmp_path)
    assert stat.S_IMODE((tmp_path / "keys").stat().st_mode) == 0o700


# --- tokens ----------------------------------------------------------------------------------


@pytest.fixture
def keys(tmp_path: Path) -> SigningKeys:
    return load_or_create(tmp_path)


def test_token_roundtrip_gives_subject_and_scopes(keys: SigningKeys) -> None:
    token = tokens.issue(keys, subject="ward-7", audience=AUD, scope="system/Patient.rs", ttl=60)
    caller = tokens.verify(keys, token, audience=AUD)
    assert caller.subject == "ward-7"
    assert caller.scopes == ScopeSet.parse("system/Patient.rs")
    assert caller.scopes.allows("Patient", "read")
    assert not caller.scopes.allows("Patient", "create")


def test_token_claims_carry_issuer_audience_expiry_and_unique_id(keys: SigningKeys) -> None:
    now = time.time()
    a = tokens.issue(keys, subject="s", audience=AUD, scope="system/*.rs", ttl=300, now=now)
    b = tokens.issue(keys, subject="s", audience=AUD, scope="system/*.rs", ttl=300, now=now)
    ca, cb = jwt.decode(a, keys.all).claims, jwt.decode(b, keys.all).claims
    assert ca["iss"] == AUD
    assert ca["aud"] == AUD
    assert ca["exp"] - ca["iat"] == 300
    assert ca["jti"] != cb["jti"]


def test_issue_refuses_invalid_scope(keys: SigningKeys) -> None:
    with pytest.raises(InvalidRequest):
        tokens.issue(keys, subject="s", audience=AUD, scope="system/Patient.zz", ttl=60)


def test_expired_token_is_rejected(keys: SigningKeys) -> None:
    issued = time.time() - 3600
    token = tokens.issue(keys, subject="s", audience=AUD, scope="system/*.rs", ttl=60, now=issued)
    with pytest.raises(Unauthorized) as exc:
        tokens.verify(keys, token, audience=AUD)
    assert exc.value.status == 401
    assert "invalid_token" in exc.value.headers["WWW-Authenticate"]


def test_token_is_valid_until_expiry(keys: SigningKeys) -> None:
    now = time.time()
    token = tokens.issue(keys, subject="s", audience=AUD, scope="system/*.rs", ttl=60, now=now)
    tokens.verify(keys, token, audience=AUD, now=now + 59)
    with pytest.raises(Unauthorized):
        tokens.verify(keys, token, audience=AUD, now=now + 3600)


def test_token_before_its_not_before_time_is_rejected(keys: SigningKeys) -> None:
    # RFC 7519 §4.1.5 (issue 13, finding 12): "nbf" was ignored.
    now = int(time.time())
    claims = {"iss": AUD, "sub": "s", "aud": AUD, "exp": now + 7200, "nbf": now + 3600}
    claims["scope"] = "system/*.rs"
    header = {"alg": "RS256", "kid": keys.signing.kid, "typ": "at+jwt"}
    token = jwt.encode(header, claims, keys.signing)
    with pytest.raises(Unauthorized) as exc:
        tokens.verify(keys, token, audience=AUD, now=now)
    assert "invalid_token" in exc.value.headers["WWW-Authenticate"]
    assert tokens.verify(keys, token, audience=AUD, now=now + 3600).subject == "s"


def test_token_with_a_malformed_not_before_is_rejected(keys: SigningKeys) -> None:
    now = int(time.time())
    claims = {"iss": AUD, "sub": "s", "aud": AUD, "exp": now + 60, "nbf": "soon"}
    claims["scope"] = "system/*.rs"
    header = {"alg": "RS256", "kid": keys.signing.kid, "typ": "at+jwt"}
    token = jwt.encode(header, claims, keys.signing)
    with pytest.raises(Unauthorized):
        tokens.verify(keys, token, audience=AUD, now=now)


def test_token_for_another_audience_is_rejected(keys: SigningKeys) -> None:
    token = tokens.issue(
        keys, subject="s", audience="https://elsewhere.example/fhir", scope="system/*.rs", ttl=60
    )
    with pytest.raises(Unauthorized):
        tokens.verify(keys, token, audience=AUD)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def test_tampered_signature_is_rejected(keys: SigningKeys) -> None:
    token = tokens.issue(keys, subject="s", audience=AUD, scope="system/*.rs", ttl=60)
    header, payload, signature = token.split(".")
    raw = bytearray(_unb64(signature))
    raw[len(raw) // 2] ^= 0x01
    with pytest.raises(Unauthorized):
        tokens.verify(keys, f"{header}.{payload}.{_b64(bytes(raw))}", audience=AUD)


def test_tampered_payload_is_rejected(keys: SigningKeys) -> None:
    token = tokens.issue(keys, subject="s", audience=AUD, scope="system/*.rs", ttl=60)
    header, payload, signature = token.split(".")
    claims = orjson.loads(_unb64(payload))
    claims["scope"] = "system/*.cruds"
    forged = f"{header}.{_b64(orjson.dumps(claims))}.{signature}"
    with pytest.raises(Unauthorized):
        tokens.verify(keys, forged, audience=AUD)


def test_token_signed_by_another_key_is_rejected(keys: SigningKeys, tmp_path: Path) -> None:
    other = load_or_create(tmp_path / "other")
    token = tokens.issue(other, subject="s", audience=AUD, scope="system/*.rs", ttl=60)
    with pytest.raises(Unauthorized):
        tokens.verify(keys, token, audience=AUD)
    stranger = RSAKey.generate_key(2048, auto_kid=True, private=True)
    now = int(time.time())
    claims = {"iss": AUD, "sub": "s", "aud": AUD, "iat": now, "exp": now + 60}
    header = {"alg": "RS256", "kid": keys.signing.kid}
    with pytest.raises(Unauthorized):
        tokens.verify(
            keys, jwt.encode(header, {**claims, "scope": "system/*.rs"}, stranger), audience=AUD
        )


def test_unsigned_and_garbage_tokens_are_rejected(keys: SigningKeys) -> None:
    now = int(time.time())
    claims = {"iss": AUD, "sub": "s", "aud": AUD, "exp": now + 60, "scope": "system/*.rs"}
    none_header = _b64(orjson.dumps({"alg": "none"}))
    unsigned = f"{none_header}.{_b64(orjson.dumps(claims))}."
    for token in (unsigned, "garbage", "a.b.c", ""):
        with pytest.raises(Unauthorized):
            tokens.verify(keys, token, audience=AUD)


def test_token_without_expiry_is_rejected(keys: SigningKeys) -> None:
    claims = {"iss": AUD, "sub": "s", "aud": AUD, "scope": "system/*.rs"}
    token = jwt.encode({"alg": "RS256", "kid": keys.signing.kid}, claims, keys.signing)
    with pytest.raises(Unauthorized):
        tokens.verify(keys, token, audience=AUD)


def test_token_from_another_issuer_is_rejected(keys: SigningKeys) -> None:
    now = int(time.time())
    claims = {"iss": "someone-else", "sub": "s", "aud": AUD, "exp": now + 60, "scope": ""}
    token = jwt.encode({"alg": "RS256", "kid": keys.signing.kid}, claims, keys.signing)
    with pytest.raises(Unauthorized):
        tokens.verify(keys, token, audience=AUD)


def test_rotated_out_key_still_verifies_its_tokens(tmp_path: Path) -> None:
    old = load_or_create(tmp_path)
    token = tokens.issue(old, subject="s", audience=AUD, scope="system/*.rs", ttl=60)
    time.sleep(0.01)  # key files are ordered by mtime
    new = rotate(tmp_path)
    assert new.signing.kid != old.signing.kid
    assert tokens.verify(new, token, audience=AUD).subject == "s"
    fresh = tokens.issue(new, subject="t", audience=AUD, scope="system/*.rs", ttl=60)
    header = orjson.loads(_unb64(fresh.split(".")[0]))
    assert header["kid"] == new.signing.kid
