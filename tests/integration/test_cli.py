"""The `bedside` command as real subprocesses: tokens, keys, `serve --demo`, bad settings."""

from __future__ import annotations

import base64
import os
import stat
import subprocess
import sys
from collections import Counter
from pathlib import Path

import httpx
import orjson
import pytest

from bedside.auth import tokens
from bedside.auth.keys import load_or_create
from bedside.demo.generator import generate_patients
from tests.conftest import start_server, stop_server

DEFAULT_AUDIENCE = "http://127.0.0.1:8000/fhir"


def bedside(*args: str, cwd: Path, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": "200", "NO_COLOR": "1"}
    return subprocess.run(
        [sys.executable, "-m", "bedside", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=cwd,
        env=env,
    )


def assert_plain_failure(done: subprocess.CompletedProcess[str]) -> str:
    """Non-zero exit, one plain sentence on stderr, no traceback, nothing on stdout."""
    assert done.returncode != 0, (done.stdout, done.stderr)
    output = done.stdout + done.stderr
    assert "Traceback" not in output, output
    assert 'File "' not in output, output
    message = done.stderr.strip()
    assert message.startswith("Error:"), message
    assert message.endswith("."), message
    assert done.stdout.strip() == ""
    return message


def claims_of(token: str) -> dict[str, object]:
    payload = token.split(".")[1]
    return dict(orjson.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))))


# --- admin token -----------------------------------------------------------------------------


def test_admin_token_prints_a_jwt_and_creates_owner_only_keys(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    done = bedside(
        "admin", "token", "--scope", "system/*.cruds", "--data-dir", str(data_dir), cwd=tmp_path
    )
    assert done.returncode == 0, done.stderr
    token = done.stdout.strip().splitlines()[-1]
    parts = token.split(".")
    assert len(parts) == 3 and all(parts), token

    claims = claims_of(token)
    assert claims["scope"] == "system/*.cruds"
    assert claims["aud"] == DEFAULT_AUDIENCE
    assert claims["iss"] == DEFAULT_AUDIENCE
    ttl = int(claims["exp"]) - int(claims["iat"])  # type: ignore[call-overload]
    assert ttl == 3600
    caller = tokens.verify(load_or_create(data_dir), token, audience=DEFAULT_AUDIENCE)
    assert caller.subject == "operator"
    assert caller.scopes.allows("Patient", "delete")

    keys = data_dir / "keys"
    assert stat.S_IMODE(keys.stat().st_mode) == 0o700
    assert stat.S_IMODE(data_dir.stat().st_mode) == 0o700
    pems = list(keys.glob("signing-*.pem"))
    assert len(pems) == 1
    assert stat.S_IMODE(pems[0].stat().st_mode) == 0o600
    # The private key never appears in the output.
    assert "PRIVATE KEY" not in done.stdout + done.stderr

    # A second token reuses the same key.
    again = bedside(
        "admin", "token", "--scope", "patient/*.rs", "--data-dir", str(data_dir), cwd=tmp_path
    )
    assert again.returncode == 0, again.stderr
    assert list(keys.glob("signing-*.pem")) == pems
    second = again.stdout.strip().splitlines()[-1]
    assert tokens.verify(load_or_create(data_dir), second, audience=DEFAULT_AUDIENCE)


@pytest.mark.parametrize("ttl", ["48h", "90000", "0", "soon", "-5m"])
def test_admin_token_refuses_a_bad_ttl(tmp_path: Path, ttl: str) -> None:
    data_dir = tmp_path / "data"
    done = bedside(
        "admin",
        "token",
        "--scope",
        "system/*.cruds",
        "--ttl",
        ttl,
        "--data-dir",
        str(data_dir),
        cwd=tmp_path,
    )
    message = assert_plain_failure(done)
    assert "--ttl" in message and "24h" in message


def test_admin_token_accepts_a_ttl_within_a_day(tmp_path: Path) -> None:
    done = bedside(
        "admin",
        "token",
        "--scope",
        "system/*.rs",
        "--ttl",
        "24h",
        "--data-dir",
        str(tmp_path / "data"),
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    claims = claims_of(done.stdout.strip().splitlines()[-1])
    assert int(claims["exp"]) - int(claims["iat"]) == 24 * 3600  # type: ignore[call-overload]


def test_admin_token_refuses_bad_scopes(tmp_path: Path) -> None:
    done = bedside(
        "admin", "token", "--scope", "system/*.zz", "--data-dir", str(tmp_path / "d"), cwd=tmp_path
    )
    message = assert_plain_failure(done)
    assert "system/*.zz" in message


# --- serve -----------------------------------------------------------------------------------


def test_serve_demo_loads_demo_patients(db_url: str, tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    server = start_server(data_dir, db_url, "--demo", "--demo-patients", "3")
    try:
        # A token from `bedside admin token` on the same data dir is for this server.
        done = bedside(
            "admin", "token", "--scope", "system/*.rs", "--data-dir", str(data_dir), cwd=tmp_path
        )
        assert done.returncode == 0, done.stderr
        token = done.stdout.strip().splitlines()[-1]
        assert claims_of(token)["aud"] == server.base
        headers = {"Authorization": f"Bearer {token}", "Accept": "application/fhir+json"}
        with httpx.Client(base_url=server.base, headers=headers, timeout=30) as c:
            patients = c.get("/Patient", params={"_count": "10"})
            assert patients.status_code == 200, patients.text
            assert patients.json()["total"] == 3
            assert len(patients.json()["entry"]) == 3

            # Resources shared by every demo Bundle (ifNoneExist) exist once, not three times.
            bundles = list(generate_patients(3, seed=2026))
            shared = Counter(
                e["resource"]["resourceType"]
                for e in bundles[0]["entry"]
                if e["request"].get("ifNoneExist")
            )
            assert shared, "the demo bundles have no shared resources"
            for rtype, n in shared.items():
                got = c.get(f"/{rtype}", params={"_summary": "count"}).json()
                assert got["total"] == n, rtype
            # Every per-patient resource references one of the three patients.
            pids = {f"Patient/{e['resource']['id']}" for e in patients.json()["entry"]}
            obs = c.get("/Observation", params={"_count": "1000"}).json()
            assert obs["total"] > 0
            assert {e["resource"]["subject"]["reference"] for e in obs["entry"]} <= pids
    finally:
        stop_server(server)


def test_serve_with_bad_database_url_fails_plainly(tmp_path: Path) -> None:
    done = bedside(
        "serve",
        "--data-dir",
        str(tmp_path / "data"),
        "--database",
        "foo://x",
        "--port",
        "1",
        cwd=tmp_path,
        timeout=60,
    )
    message = assert_plain_failure(done)
    assert "sqlite:///" in message and "postgresql://" in message


@pytest.mark.parametrize(
    ("option", "size"), [("--max-body-fhir", "16 GiB"), ("--max-body-other", "100")]
)
def test_serve_with_a_bad_body_limit_fails_plainly(tmp_path: Path, option: str, size: str) -> None:
    done = bedside("serve", "--data-dir", str(tmp_path / "data"), option, size, cwd=tmp_path)
    message = assert_plain_failure(done)
    assert option in message and "64KiB" in message


@pytest.mark.parametrize("grace", ["10m", "-5s", "soon"])
def test_serve_with_a_bad_refresh_grace_fails_plainly(tmp_path: Path, grace: str) -> None:
    done = bedside(
        "serve", "--data-dir", str(tmp_path / "data"), "--refresh-grace", grace, cwd=tmp_path
    )
    message = assert_plain_failure(done)
    assert "--refresh-grace" in message and "at most 5m" in message


def test_import_with_bad_database_url_fails_plainly(tmp_path: Path) -> None:
    src = tmp_path / "one.ndjson"
    src.write_text('{"resourceType": "Patient"}\n')
    done = bedside(
        "import", str(src), "--data-dir", str(tmp_path / "d"), "--database", "foo://x", cwd=tmp_path
    )
    assert_plain_failure(done)
