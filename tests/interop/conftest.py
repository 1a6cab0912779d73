"""Fixtures for the SMART interop tests: the official clients against a real Bedside server.

Each test gets its own server on the parametrized backend (`server` and `db_url` from
tests/conftest.py) holding one Patient and a patient user linked to it, set up with the same
`bedside admin` commands an operator runs; the test registers the app it drives.

The browser is Debian's Chromium (`make chromium` installs it) and the JS client comes from
tests/interop/js's npm lock (`make interop-js`). Without them these tests skip with a message,
except under CI=true, where they fail: CI must run them.
"""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from playwright.sync_api import Browser, sync_playwright

from tests.conftest import Server
from tests.interop._chromium import CHROMIUM, Tab, launch

IN_CI = os.environ.get("CI", "").lower() == "true"


def require(problem: str | None, remedy: str) -> None:
    """Skip with `problem` and how to fix it; fail instead under CI=true."""
    if problem is None:
        return
    if IN_CI:
        pytest.fail(f"{problem}; CI must run the SMART interop tests: {remedy}.")
    pytest.skip(f"{problem}; {remedy} to run the SMART interop tests.")


def bedside_admin(*args: str, stdin: str | None = None) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "bedside", "admin", *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "COLUMNS": "200", "NO_COLOR": "1"},
    )
    assert done.returncode == 0, (
        f"`bedside admin {' '.join(args)}` exited {done.returncode}:\n{done.stdout}{done.stderr}"
    )
    return done.stdout


@dataclass(frozen=True)
class SmartSite:
    """A running server with a patient user who can sign in to SMART apps."""

    server: Server
    database: str
    patient_id: str
    given: str
    family: str
    username: str
    password: str

    @property
    def fhir_base(self) -> str:
        return self.server.base

    def register_app(self, client_id: str, redirect_uri: str, scope: str) -> None:
        """A public SMART app (PKCE, no secret), as `bedside admin client add` registers it."""
        bedside_admin(
            "client",
            "add",
            client_id,
            "--redirect-uri",
            redirect_uri,
            "--public",
            "--scope",
            scope,
            *self.cli_target(),
        )

    def cli_target(self) -> tuple[str, ...]:
        """The options that point `bedside admin` at this server's data dir and database."""
        return ("--data-dir", str(self.server.data_dir), "--database", self.database)


@pytest.fixture
def smart_site(server: Server, db_url: str) -> SmartSite:
    given, family = "Ada", f"Interop{secrets.token_hex(3)}"
    with server.client() as c:
        created = c.post(
            "/Patient",
            json={
                "resourceType": "Patient",
                "name": [{"given": [given], "family": family}],
                "gender": "female",
                "birthDate": "1985-12-10",
            },
        )
        assert created.status_code == 201, created.text
        patient_id = str(created.json()["id"])
    site = SmartSite(
        server, db_url, patient_id, given, family, "ada", f"pw-{secrets.token_urlsafe(18)}"
    )
    bedside_admin(
        "user",
        "add",
        site.username,
        "--role",
        "patient",
        "--fhir-user",
        f"Patient/{patient_id}",
        "--password-stdin",
        *site.cli_target(),
        stdin=site.password,
    )
    return site


@pytest.fixture(scope="session")
def chromium() -> Iterator[Browser]:
    missing = None if CHROMIUM.exists() else f"{CHROMIUM} is missing"
    require(missing, "run `make chromium` (`make test` does)")
    with sync_playwright() as playwright:
        browser = launch(playwright)
        yield browser
        browser.close()


@pytest.fixture
def tab(chromium: Browser) -> Iterator[Tab]:
    """A fresh browser profile (cookies, storage) for one test."""
    t = Tab.open(chromium)
    yield t
    t.close()
