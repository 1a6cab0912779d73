"""The authorization server's state on real SQLite and PostgreSQL: users and lockout, clients,
codes, rotating refresh tokens, launches and assertion replay, driven with an injected clock."""

from __future__ import annotations

import secrets
from pathlib import Path

import pytest

from bedside.auth.clients import Clients
from bedside.auth.grants import Grants, pkce_challenge
from bedside.auth.keys import KeyRing, rotate
from bedside.auth.users import MAX_FAILURES, SignInFailed, Users, lock_seconds
from bedside.errors import AdminError, OAuthError
from bedside.store import Store


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


PASSWORD = "correct horse battery"


def test_sign_in_locks_after_repeated_failures_and_reset_lifts_it(
    store: Store, clock: Clock
) -> None:
    users = Users(store, clock=clock)
    ana = users.add("ana", "patient", PASSWORD, "Patient/p1")
    assert users.authenticate("ana", PASSWORD).id == ana.id
    for _ in range(MAX_FAILURES):
        with pytest.raises(SignInFailed):
            users.authenticate("ana", "wrong password")
    # Locked: even the right password fails, with the same message as a wrong one.
    with pytest.raises(SignInFailed) as locked:
        users.authenticate("ana", PASSWORD)
    with pytest.raises(SignInFailed) as unknown:
        users.authenticate("nobody", PASSWORD)
    assert str(locked.value) == str(unknown.value)
    clock.now += lock_seconds(MAX_FAILURES) + 1
    assert users.authenticate("ana", PASSWORD).id == ana.id  # the lock expires
    for _ in range(MAX_FAILURES):
        with pytest.raises(SignInFailed):
            users.authenticate("ana", "wrong password")
    clock.now += lock_seconds(MAX_FAILURES) + 1
    with pytest.raises(SignInFailed):  # one more failure after the lock: a longer lock
        users.authenticate("ana", "wrong password")
    clock.now += lock_seconds(MAX_FAILURES) + 1
    with pytest.raises(SignInFailed):
        users.authenticate("ana", PASSWORD)
    users.reset_password("ana", "another long passphrase")
    assert users.authenticate("ana", "another long passphrase").id == ana.id


def test_lock_grows_and_is_capped() -> None:
    assert lock_seconds(MAX_FAILURES - 1) == 0
    assert lock_seconds(MAX_FAILURES) == 60
    assert lock_seconds(MAX_FAILURES + 1) == 120
    assert lock_seconds(MAX_FAILURES + 20) == 3600


def test_disabled_user_cannot_sign_in_and_loses_grants(store: Store, clock: Clock) -> None:
    users, grants = Users(store, clock=clock), Grants(store, clock=clock)
    users.add("dr-who", "doctor", PASSWORD, "Practitioner/d1")
    user = users.by_username("dr-who")
    assert user is not None
    grant = grants.create("app", user.id, "user/*.rs", {}, 3600)
    assert grants.is_active(grant.id)
    users.set_disabled("dr-who", True)
    with pytest.raises(SignInFailed):
        users.authenticate("dr-who", PASSWORD)
    assert not grants.is_active(grant.id)


@pytest.mark.parametrize(
    ("username", "role", "fhir_user", "password"),
    [
        ("ana", "nurse", "Patient/1", PASSWORD),  # a nurse is not a Patient
        ("ana", "patient", None, PASSWORD),  # a patient needs their record
        ("ana", "surgeon", None, PASSWORD),  # unknown role
        ("-bad", "doctor", None, PASSWORD),
        ("ana", "doctor", "Practitioner/1", "short"),
        ("ana", "doctor", "Observation/1", PASSWORD),
    ],
)
def test_user_add_refuses_bad_input(
    store: Store, username: str, role: str, fhir_user: str | None, password: str
) -> None:
    with pytest.raises(AdminError):
        Users(store).add(username, role, password, fhir_user)
    assert Users(store).list() == []


def test_duplicate_user_and_password_stored_hashed(store: Store) -> None:
    Users(store).add("ana", "patient", PASSWORD, "Patient/p1")
    with pytest.raises(AdminError):
        Users(store).add("ana", "patient", PASSWORD, "Patient/p1")
    with store.records() as db:
        row = db.one("SELECT password_hash FROM auth_users WHERE username = 'ana'")
    assert row is not None and str(row[0]).startswith("$argon2id$") and PASSWORD not in row[0]


@pytest.mark.parametrize(
    "uri",
    ["http://app.example/cb", "https://app.example/cb#frag", "app.example/cb", "ftp://x/cb"],
)
def test_client_redirect_uris_must_be_safe(store: Store, uri: str) -> None:
    with pytest.raises(AdminError):
        Clients(store).add("app", redirect_uris=[uri])


def test_client_rules(store: Store) -> None:
    clients = Clients(store)
    with pytest.raises(AdminError):  # a short secret
        clients.add("app", redirect_uris=["https://a.example/cb"], secret="x" * 31)
    with pytest.raises(AdminError):  # a backend service needs keys
        clients.add("svc", redirect_uris=[], backend=True, secret="x" * 40)
    with pytest.raises(AdminError):  # apps do not get system/ scopes
        clients.add("app", redirect_uris=["https://a.example/cb"], scope="system/*.rs")
    with pytest.raises(AdminError):  # a private key is never registered
        clients.add("svc", redirect_uris=[], jwks={"keys": [{"kty": "RSA", "d": "x"}]})
    app = clients.add("app", redirect_uris=["http://127.0.0.1:9/cb"], secret="s" * 40)
    assert app.auth_method == "client_secret_basic"
    assert app.secret_matches("s" * 40) and not app.secret_matches("s" * 39)
    with store.records() as db:
        row = db.one("SELECT secret_hash FROM auth_clients WHERE client_id = 'app'")
    assert row is not None and "s" * 40 not in str(row[0])
    with pytest.raises(AdminError):
        clients.add("app", redirect_uris=["http://127.0.0.1:9/cb"])  # already registered


def test_code_is_single_use_and_reuse_revokes_the_grant(store: Store, clock: Clock) -> None:
    grants = Grants(store, clock=clock)
    grant = grants.create("app", "u1", "patient/*.rs", {"patient": "p1"}, 3600)
    verifier = secrets.token_urlsafe(48)
    code = grants.issue_code(grant, "https://a.example/cb", pkce_challenge(verifier), None)
    redeemed, _ = grants.redeem_code(code, "app", "https://a.example/cb", verifier)
    assert redeemed.id == grant.id and redeemed.patient == "p1"
    with pytest.raises(OAuthError) as again:
        grants.redeem_code(code, "app", "https://a.example/cb", verifier)
    assert again.value.error == "invalid_grant"
    assert not grants.is_active(grant.id)  # the revocation was committed


def test_code_checks_pkce_client_redirect_and_expiry(store: Store, clock: Clock) -> None:
    grants = Grants(store, clock=clock)
    grant = grants.create("app", "u1", "patient/*.rs", {}, 3600)
    verifier = secrets.token_urlsafe(48)
    challenge = pkce_challenge(verifier)
    uri = "https://a.example/cb"
    for client, redirect, given in [
        ("app", uri, None),
        ("app", uri, ""),
        ("app", uri, verifier + "x"),
        ("app", uri, challenge),  # the challenge is not the verifier
        ("other", uri, verifier),
        ("app", uri + "/other", verifier),
    ]:
        code = grants.issue_code(grant, uri, challenge, None)
        with pytest.raises(OAuthError):
            grants.redeem_code(code, client, redirect, given)
    code = grants.issue_code(grant, uri, challenge, None)
    clock.now += 61
    with pytest.raises(OAuthError):
        grants.redeem_code(code, "app", uri, verifier)


def test_refresh_rotation_and_reuse_detection(store: Store, clock: Clock) -> None:
    grants = Grants(store, clock=clock)
    grant = grants.create("app", "u1", "patient/*.rs offline_access", {}, 3600)
    first = grants.issue_refresh(grant)
    rotated = grants.rotate_refresh(first, "app")
    second = rotated.refresh_token
    assert rotated.grant.id == grant.id and second != first and not rotated.retry
    with pytest.raises(OAuthError):  # bound to its client
        grants.rotate_refresh(second, "intruder")
    third = grants.rotate_refresh(second, "app").refresh_token
    with pytest.raises(OAuthError):  # reuse of a rotated token ...
        grants.rotate_refresh(first, "app")
    assert not grants.is_active(grant.id)
    with pytest.raises(OAuthError):  # ... revokes the whole family, newest token included
        grants.rotate_refresh(third, "app")
    with pytest.raises(OAuthError):
        grants.rotate_refresh(secrets.token_urlsafe(32), "app")


def test_refresh_expires_with_its_grant(store: Store, clock: Clock) -> None:
    grants = Grants(store, clock=clock)
    grant = grants.create("app", "u1", "patient/*.rs offline_access", {}, 100)
    token = grants.issue_refresh(grant)
    clock.now += 101
    with pytest.raises(OAuthError):
        grants.rotate_refresh(token, "app")
    assert grants.grant_of_refresh(token) is None


def test_launch_and_assertion_replay(store: Store, clock: Clock) -> None:
    grants = Grants(store, clock=clock)
    launch = grants.create_launch({"patient": "p1", "encounter": "e1"}, "u1")
    assert grants.launch(launch) == ({"patient": "p1", "encounter": "e1"}, "u1")
    assert grants.launch("l-unknown") is None
    clock.now += 601
    assert grants.launch(launch) is None
    assert grants.first_use_of_assertion("svc", "jti-1", int(clock.now) + 300)
    assert not grants.first_use_of_assertion("svc", "jti-1", int(clock.now) + 300)
    assert grants.first_use_of_assertion("other", "jti-1", int(clock.now) + 300)


def test_browser_request_is_bound_to_its_browser(store: Store, clock: Clock) -> None:
    grants = Grants(store, clock=clock)
    rid, browser = grants.open_request({"client_id": "app"})
    assert grants.load_request(rid, browser)[0] == {"client_id": "app"}
    with pytest.raises(OAuthError):
        grants.load_request(rid, "someone else's cookie")
    clock.now += 16 * 60
    with pytest.raises(OAuthError):
        grants.load_request(rid, browser)


def test_key_ring_picks_up_a_rotated_key(tmp_path: Path) -> None:
    ring = KeyRing(tmp_path, recheck=0.0)
    first = ring.current().signing.kid
    rotate(tmp_path)
    keys = ring.current()
    assert keys.signing.kid != first
    assert {k.kid for k in keys.all.keys} >= {first, keys.signing.kid}
