"""The retry of a lost refresh answer, over real HTTP on both backends (docs/auth.md "Refresh
token rotation"; RFC 9700 §4.14.2; issue 14, finding 1).

The answer to a refresh can be lost after the server committed the rotation. The previous
refresh token then stays good for retries within the grace (``serve --refresh-grace``; 3 s
here, so that a test can outwait it) while its successor is unused, and each retry gets the same
successor. Every other reuse still revokes the whole family, the successor included.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from tests.conftest import BACKENDS
from tests.integration._smart import Smart, smart_server

SCOPE = "launch/patient openid fhirUser offline_access patient/Patient.rs patient/Observation.rs"
GRACE = 3


@dataclass
class World:
    smart: Smart
    patient: str  # the Patient id of user "cal"


@pytest.fixture(scope="module", params=BACKENDS)
def world(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[World]:
    extra = ("--refresh-grace", f"{GRACE}s")
    with smart_server(tmp_path_factory, str(request.param), *extra) as smart:
        patient = smart.create_patient("Adeyemi", "Cal")
        smart.add_user("cal", "patient", f"Patient/{patient}")
        smart.add_app("app")
        yield World(smart, patient)


def _login(world: World) -> dict[str, Any]:
    body = world.smart.login("app", "cal", SCOPE)
    assert body["refresh_token"], body
    return body


def _reads(world: World, token: str) -> int:
    return world.smart.get(f"/Patient/{world.patient}", token).status_code


def _refreshed(world: World, token: str, **extra: str) -> dict[str, Any]:
    r = world.smart.refresh(token, "app", **extra)
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


def _refused(world: World, token: str) -> None:
    r = world.smart.refresh(token, "app")
    assert r.status_code == 400, r.text
    assert r.json()["error"] == "invalid_grant"


def _lose_an_answer(world: World, token: str) -> str:
    """Refresh, and "lose" the answer: the server committed, the client never read it. The
    rotated token is returned only for the test to compare with."""
    lost = world.smart.refresh(token, "app")
    assert lost.status_code == 200, lost.text
    rotated: str = lost.json()["refresh_token"]
    return rotated


def test_a_lost_refresh_answer_is_retried_with_the_same_token_and_gets_the_same_rotated_one(
    world: World,
) -> None:
    first = _login(world)
    rotated = _lose_an_answer(world, first["refresh_token"])
    retry = _refreshed(world, first["refresh_token"])
    assert retry["refresh_token"] == rotated, "the retry gets the token the lost answer carried"
    assert _reads(world, retry["access_token"]) == 200
    assert set(retry["scope"].split()) == set(SCOPE.split())
    assert retry["patient"] == world.patient
    # The family goes on normally from the rotated token.
    following = _refreshed(world, retry["refresh_token"])
    assert following["refresh_token"] not in (first["refresh_token"], rotated)
    assert _reads(world, following["access_token"]) == 200
    again = _refreshed(world, following["refresh_token"])
    assert _reads(world, again["access_token"]) == 200
    assert _reads(world, retry["access_token"]) == 200  # nothing was revoked on the way


def test_a_retry_whose_answer_is_lost_too_is_retried_again_within_the_grace(
    world: World,
) -> None:
    first = _login(world)
    rotated = _lose_an_answer(world, first["refresh_token"])
    assert _lose_an_answer(world, first["refresh_token"]) == rotated  # lost again
    retry = _refreshed(world, first["refresh_token"])
    assert retry["refresh_token"] == rotated
    assert _reads(world, retry["access_token"]) == 200
    assert _reads(world, _refreshed(world, rotated)["access_token"]) == 200


def test_a_retry_after_the_grace_revokes_the_family_and_its_successor(world: World) -> None:
    first = _login(world)
    rotated = _lose_an_answer(world, first["refresh_token"])
    time.sleep(GRACE + 1.5)
    _refused(world, first["refresh_token"])
    assert _reads(world, first["access_token"]) == 401
    _refused(world, rotated)


def test_a_retry_after_the_rotated_token_was_used_revokes_the_family(world: World) -> None:
    first = _login(world)
    rotated = _lose_an_answer(world, first["refresh_token"])
    newest = _refreshed(world, rotated)  # the successor is used: no answer was lost
    _refused(world, first["refresh_token"])  # within the grace, and still reuse
    assert _reads(world, newest["access_token"]) == 401
    _refused(world, newest["refresh_token"])


def test_a_retry_refused_for_a_wider_scope_keeps_the_retry(world: World) -> None:
    first = _login(world)
    rotated = _lose_an_answer(world, first["refresh_token"])
    r = world.smart.refresh(first["refresh_token"], "app", scope="patient/Patient.cruds")
    assert r.status_code == 400 and r.json()["error"] == "invalid_scope", r.text
    assert _refreshed(world, first["refresh_token"])["refresh_token"] == rotated


def _at_once(world: World, token: str, n: int = 2) -> list[httpx.Response]:
    gate = threading.Barrier(n)
    answers: list[httpx.Response] = []

    def refresh() -> None:
        gate.wait()
        answers.append(world.smart.refresh(token, "app"))

    threads = [threading.Thread(target=refresh) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert len(answers) == n
    return answers


def test_two_refreshes_at_once_with_one_token_get_one_rotated_token(world: World) -> None:
    first = _login(world)
    answers = _at_once(world, first["refresh_token"])
    assert [a.status_code for a in answers] == [200, 200], [a.text for a in answers]
    tokens = {a.json()["refresh_token"] for a in answers}
    assert len(tokens) == 1, "one family, one successor"
    newest = _refreshed(world, tokens.pop())
    assert _reads(world, newest["access_token"]) == 200


def test_two_retries_at_once_get_the_same_rotated_token(world: World) -> None:
    first = _login(world)
    rotated = _lose_an_answer(world, first["refresh_token"])
    answers = _at_once(world, first["refresh_token"])
    assert [a.status_code for a in answers] == [200, 200], [a.text for a in answers]
    assert [a.json()["refresh_token"] for a in answers] == [rotated, rotated]
    assert _reads(world, _refreshed(world, rotated)["access_token"]) == 200
