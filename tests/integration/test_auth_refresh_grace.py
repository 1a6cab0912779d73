"""Refresh rotation's retry of a lost answer on real SQLite and PostgreSQL, driven with an
injected clock (docs/auth.md "Refresh token rotation"; issue 14, finding 1): the grace, reuse
after it or after the successor was used, the sealed successor, and concurrent presentations.
The same over HTTP: test_smart_refresh_grace.py."""

from __future__ import annotations

import threading

import pytest

from bedside.auth.grants import Grants
from bedside.errors import OAuthError
from bedside.store import Store


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


def _family(store: Store, clock: Clock, grace: int = 60) -> tuple[Grants, str, str, str]:
    """Grants, a grant id, its first refresh token, and the successor whose answer was "lost"."""
    grants = Grants(store, clock=clock, refresh_grace=grace)
    grant = grants.create("app", "u1", "patient/*.rs offline_access", {}, 3600)
    first = grants.issue_refresh(grant)
    return grants, grant.id, first, grants.rotate_refresh(first, "app").refresh_token


def test_a_lost_refresh_answer_is_retried_and_gets_the_same_successor(
    store: Store, clock: Clock
) -> None:
    grants, gid, first, lost = _family(store, clock)
    clock.now += 59
    retry = grants.rotate_refresh(first, "app")
    assert retry.retry and retry.refresh_token == lost
    assert retry.grant.id == gid and grants.is_active(gid)
    following = grants.rotate_refresh(lost, "app")  # the family goes on as usual
    assert not following.retry and following.refresh_token not in (first, lost)
    assert grants.rotate_refresh(following.refresh_token, "app").grant.id == gid


def test_the_successor_is_stored_sealed_never_in_plain(store: Store, clock: Clock) -> None:
    _, _, first, lost = _family(store, clock)
    with store.records() as db:
        rows = db.rows("SELECT token_hash, successor_sealed FROM auth_refresh_tokens")
    stored = " ".join(str(v) for row in rows for v in row)
    assert first not in stored and lost not in stored
    assert [r for r in rows if r[1] is not None], "the rotated token keeps its successor sealed"


def test_retries_whose_answers_are_lost_too_get_the_same_successor_until_the_grace_ends(
    store: Store, clock: Clock
) -> None:
    """The server killed twice in a row after answering: each retry gets the one successor,
    nothing new is minted, and the grace still runs from the rotation."""
    grants, gid, first, lost = _family(store, clock)
    for _ in range(3):
        clock.now += 15
        assert grants.rotate_refresh(first, "app").refresh_token == lost
    clock.now += 16  # 61 s after the rotation
    with pytest.raises(OAuthError):
        grants.rotate_refresh(first, "app")
    assert not grants.is_active(gid)
    with pytest.raises(OAuthError):  # the successor died with the family
        grants.rotate_refresh(lost, "app")


def test_reuse_after_the_grace_revokes_the_family_and_its_successor(
    store: Store, clock: Clock
) -> None:
    grants, gid, first, lost = _family(store, clock)
    clock.now += 61
    with pytest.raises(OAuthError):
        grants.rotate_refresh(first, "app")
    assert not grants.is_active(gid)
    with pytest.raises(OAuthError):  # the unused successor died with the family
        grants.rotate_refresh(lost, "app")


def test_reuse_after_the_successor_was_used_revokes_the_family(store: Store, clock: Clock) -> None:
    grants, gid, first, second = _family(store, clock)
    third = grants.rotate_refresh(second, "app").refresh_token  # the successor is used
    with pytest.raises(OAuthError):  # within the grace, yet no longer a lost answer
        grants.rotate_refresh(first, "app")
    assert not grants.is_active(gid)
    with pytest.raises(OAuthError):
        grants.rotate_refresh(third, "app")


def test_no_grace_means_no_retry(store: Store, clock: Clock) -> None:
    grants, gid, first, lost = _family(store, clock, grace=0)
    with pytest.raises(OAuthError):
        grants.rotate_refresh(first, "app")
    assert not grants.is_active(gid)
    with pytest.raises(OAuthError):
        grants.rotate_refresh(lost, "app")


def test_a_retry_by_another_client_is_refused_and_spends_nothing(
    store: Store, clock: Clock
) -> None:
    grants, gid, first, lost = _family(store, clock)
    with pytest.raises(OAuthError):
        grants.rotate_refresh(first, "intruder")
    assert grants.is_active(gid)
    assert grants.rotate_refresh(first, "app").refresh_token == lost


def test_a_refused_retry_spends_neither_the_retry_nor_the_successor(
    store: Store, clock: Clock
) -> None:
    grants, _, first, lost = _family(store, clock)

    def refuse(_: object) -> None:
        raise OAuthError("invalid_scope", "wider")

    with pytest.raises(OAuthError, match="wider"):
        grants.rotate_refresh(first, "app", refuse)
    assert grants.rotate_refresh(first, "app").refresh_token == lost
    with pytest.raises(OAuthError, match="wider"):
        grants.rotate_refresh(lost, "app", refuse)
    assert grants.rotate_refresh(lost, "app").refresh_token != lost


def _at_once(grants: Grants, token: str, n: int = 2) -> list[str]:
    """The refresh tokens ``n`` threads got by presenting ``token`` at the same moment."""
    gate = threading.Barrier(n)
    got: list[str] = []

    def refresh() -> None:
        gate.wait()
        got.append(grants.rotate_refresh(token, "app").refresh_token)

    threads = [threading.Thread(target=refresh) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    return got


def test_concurrent_refreshes_with_one_token_get_one_successor(store: Store, clock: Clock) -> None:
    """Two requests with the same token at once (as a retry racing a slow first answer): both
    get the same successor and the family goes on; never two families (PostgreSQL row locks,
    SQLite's single writer)."""
    grants = Grants(store, clock=clock)
    for _ in range(5):
        grant = grants.create("app", "u1", "patient/*.rs offline_access", {}, 3600)
        got = _at_once(grants, grants.issue_refresh(grant))
        assert len(got) == 2 and got[0] == got[1], "both answers carry the one successor"
        assert grants.is_active(grant.id)
        with store.records() as db:
            live = db.rows(
                "SELECT token_hash FROM auth_refresh_tokens WHERE grant_id = ?"
                " AND rotated_at IS NULL",
                (grant.id,),
            )
        assert len(live) == 1
        assert grants.rotate_refresh(got[0], "app").grant.id == grant.id


def test_concurrent_retries_get_one_successor(store: Store, clock: Clock) -> None:
    grants, gid, first, lost = _family(store, clock)
    assert _at_once(grants, first, n=3) == [lost] * 3
    assert grants.is_active(gid)
    assert grants.rotate_refresh(lost, "app").grant.id == gid


def _race(grants: Grants, tokens: tuple[str, ...]) -> list[str]:
    """Present each token from its own thread at the same moment; each outcome, in order."""
    gate = threading.Barrier(len(tokens))
    outcomes = ["" for _ in tokens]

    def present(i: int) -> None:
        gate.wait()
        try:
            outcomes[i] = grants.rotate_refresh(tokens[i], "app").refresh_token
        except OAuthError:
            outcomes[i] = "refused"

    threads = [threading.Thread(target=present, args=(i,)) for i in range(len(tokens))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    return outcomes


def test_a_retry_racing_a_use_of_the_successor_never_leaves_two_live_tokens(
    store: Store, clock: Clock
) -> None:
    """The retry commits first (it gets the successor, whose use then rotates it) or the use
    does (the retry is then reuse and revokes the family); never both alive."""
    for _ in range(5):
        grants, gid, first, lost = _family(store, clock)
        retried, used = _race(grants, (first, lost))
        with store.records() as db:
            live = db.one(
                "SELECT COUNT(*) FROM auth_refresh_tokens WHERE grant_id = ?"
                " AND rotated_at IS NULL",
                (gid,),
            )
        assert used != "refused"
        if retried == "refused":
            assert not grants.is_active(gid)
        else:
            assert retried == lost and grants.is_active(gid)
            assert live is not None and int(live[0]) == 1
