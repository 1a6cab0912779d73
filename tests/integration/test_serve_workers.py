"""`bedside serve --workers 2`: every process agrees on grants, revocations and signing keys,
because they live in the database and the data dir, not in a process."""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import pytest
from joserfc import jws

from tests.conftest import BACKENDS
from tests.integration._smart import (
    JWT_BEARER,
    AssertionKey,
    Smart,
    client_assertion,
    generate_key,
    public_jwks,
    smart_server,
)


@pytest.fixture(scope="module", params=BACKENDS)
def workers(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Smart, AssertionKey]]:
    extra = ("--workers", "2", "--max-body-other", "32KiB")  # the limit must reach each worker
    with smart_server(tmp_path_factory, str(request.param), *extra) as smart:
        key = generate_key("RS384")
        smart.add_backend("svc", jwks=public_jwks(key))
        yield smart, key


def _form(smart: Smart, key: AssertionKey, **extra: str) -> dict[str, str]:
    return {
        "client_assertion_type": JWT_BEARER,
        "client_assertion": client_assertion(key, "svc", smart.token_url),
        **extra,
    }


def _token(smart: Smart, key: AssertionKey) -> str:
    form = _form(smart, key, grant_type="client_credentials", scope="system/Patient.rs")
    r = smart.oauth_post("/auth/token", form)
    assert r.status_code == 200, r.text
    return str(r.json()["access_token"])


def _statuses(smart: Smart, token: str, path: str, n: int = 12) -> set[int]:
    """Status codes of ``n`` requests, each on a fresh connection (so both workers answer)."""
    out = set()
    for _ in range(n):
        with httpx.Client(timeout=30) as c:
            r = c.get(f"{smart.fhir}/{path}", headers={"Authorization": f"Bearer {token}"})
            out.add(r.status_code)
    return out


def test_every_worker_applies_the_body_limit_it_was_given(
    workers: tuple[Smart, AssertionKey],
) -> None:
    smart, _ = workers
    for _ in range(8):  # a fresh connection each time, so both workers answer
        r = smart.oauth_post("/auth/token", {"grant_type": "x" * 40_000})
        assert r.status_code == 413
        assert "(32768 bytes)" in r.json()["error_description"]


def test_revocation_reaches_every_worker_at_once(workers: tuple[Smart, AssertionKey]) -> None:
    smart, key = workers
    patient = smart.create_patient("Okafor", "Ngozi")
    token = _token(smart, key)
    assert _statuses(smart, token, f"Patient/{patient}") == {200}
    revoked = smart.oauth_post("/auth/revoke", _form(smart, key, token=token))
    assert revoked.status_code == 200
    assert _statuses(smart, token, f"Patient/{patient}") == {401}


def test_a_rotated_key_signs_in_every_worker_and_old_tokens_stay_valid(
    workers: tuple[Smart, AssertionKey],
) -> None:
    smart, key = workers
    patient = smart.create_patient("Lind", "Maja")
    old = _token(smart, key)
    old_kid = jws.extract_compact(old.encode()).protected["kid"]
    new_kid = smart.admin("keys", "rotate").strip().splitlines()[-1]
    assert new_kid != old_kid
    deadline = time.monotonic() + 15
    kids: set[str] = set()
    while time.monotonic() < deadline:
        kids = {jws.extract_compact(_token(smart, key).encode()).protected["kid"] for _ in range(6)}
        if kids == {new_kid}:
            break
        time.sleep(0.5)
    assert kids == {new_kid}  # every worker now signs with the new key
    assert _statuses(smart, old, f"Patient/{patient}") == {200}  # and still accepts the old one
    published = httpx.get(f"{smart.root}/auth/jwks", timeout=30).json()
    assert {k["kid"] for k in published["keys"]} >= {old_kid, new_kid}
