"""`bedside device …` as real subprocesses against a real `bedside serve` on each backend.

The test plays the user's browser: it reads the sign-in address the CLI prints, walks the
server's sign-in and consent pages with an httpx client (like ``Smart.browser_flow``), and lets
the server's final redirect land on the CLI's own loopback listener. Homes are real folders in
``tmp_path`` with real SQLCipher stores; the device secret is kept in the home's file (no OS
key store in CI), which ``status`` must say plainly.
"""

from __future__ import annotations

import json
import os
import queue
import re
import stat
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from tests.conftest import BACKENDS, free_port
from tests.integration._smart import PASSWORD, Nurse, Smart, new_nurse, smart_server
from tests.integration.test_cli import assert_plain_failure

PIN = "204863"
NEW_PIN = "771930"
ENV = {**os.environ, "COLUMNS": "200", "NO_COLOR": "1", "BEDSIDE_DEVICE_KEYSTORE": "file"}
JWT = re.compile(r"eyJ[A-Za-z0-9_-]+\.eyJ")


@pytest.fixture(scope="module", params=BACKENDS)
def smart(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Smart]:
    with smart_server(tmp_path_factory, str(request.param)) as s:
        yield s


@pytest.fixture(autouse=True)
def _file_keystore(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BEDSIDE_DEVICE_KEYSTORE", "file")  # for the in-process Node, too


# --- the CLI and the browser -----------------------------------------------------------------


def device(*args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bedside", "device", *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
        env=ENV,
    )


def _lines(stream: IO[str], into: queue.Queue[str | None]) -> None:
    for line in stream:
        into.put(line)
    into.put(None)


def walk_browser(smart: Smart, url: str, username: str) -> httpx.Response:
    """Sign in and allow at ``url``; follow the final redirect to the CLI's loopback listener."""
    assert url.startswith(f"{smart.root}/auth/authorize?")
    query = {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}
    assert query["client_id"] == "bedside-device"
    assert query["code_challenge_method"] == "S256" and query["aud"] == smart.fhir
    assert query["redirect_uri"].startswith("http://127.0.0.1:")
    with smart.browser() as b:
        r = b.get(url)
        assert r.status_code == 303, r.text
        signin = r.headers["location"]
        rid = parse_qs(urlsplit(signin).query)["request"][0]
        assert b.get(signin).status_code == 200
        form = {"request": rid, "username": username, "password": PASSWORD}
        r = b.post("/auth/signin", data=form)
        assert r.status_code == 303, r.text
        r = b.get(r.headers["location"])
        assert r.status_code == 200, r.text
        types = re.findall(r'name="type" value="([^"]+)"', r.text)
        r = b.post("/auth/consent", data={"request": rid, "decision": "allow", "type": types})
        assert r.status_code == 303, r.text
        back = r.headers["location"]
    assert back.startswith(query["redirect_uri"] + "?")
    return httpx.get(back, timeout=30)


def signed_in(
    smart: Smart, username: str, *args: str, stdin: str
) -> tuple[subprocess.CompletedProcess[str], str]:
    """Run ``bedside device ARGS`` that signs in; play the browser; (result, sign-in URL)."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "bedside", "device", *args],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=ENV,
    )
    assert proc.stdin is not None and proc.stdout is not None and proc.stderr is not None
    proc.stdin.write(stdin)
    proc.stdin.close()
    lines: queue.Queue[str | None] = queue.Queue()
    threading.Thread(target=_lines, args=(proc.stdout, lines), daemon=True).start()
    seen: list[str] = []
    url = ""
    try:
        while not url:
            line = lines.get(timeout=60)
            if line is None:
                break
            seen.append(line)
            found = re.search(r"(http://\S+/auth/authorize\?\S+)", line)
            if found:
                url = found.group(1).rstrip('"}')
        assert url, f"no sign-in URL: {''.join(seen)} {proc.stderr.read()}"
        landed = walk_browser(smart, url, username)
        assert landed.status_code == 200 and "return to the terminal" in landed.text
        proc.wait(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    rest = []
    while (line := lines.get(timeout=10)) is not None:
        rest.append(line)
    stdout = "".join(seen + rest)
    done = subprocess.CompletedProcess(proc.args, proc.returncode, stdout, proc.stderr.read())
    return done, url


def enroll(smart: Smart, nurse: Nurse, home: Path, *extra: str) -> dict[str, Any]:
    args = ("enroll", "--home", str(home), "--server", smart.fhir, "--pin-stdin", "--no-browser")
    done, _ = signed_in(smart, nurse.username, *args, "--json", *extra, stdin=PIN + "\n")
    assert done.returncode == 0, done.stderr
    assert not JWT.search(done.stdout + done.stderr), "a token was printed"
    last = done.stdout[done.stdout.index("\n") + 1 :]  # after the {"sign_in_url": ...} line
    result: dict[str, Any] = json.loads(last)
    return result


def as_json(done: subprocess.CompletedProcess[str]) -> Any:
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def listed(smart: Smart, device_id: str) -> dict[str, Any]:
    devices = json.loads(smart.admin("device", "list", "--json"))
    return next(d for d in devices if d["device_id"] == device_id)


# --- enrollment and the everyday commands ----------------------------------------------------


def test_enroll_sets_up_an_encrypted_home_the_server_lists(smart: Smart, tmp_path: Path) -> None:
    nurse = new_nurse(smart)
    home = tmp_path / "home"
    args = ("enroll", "--home", str(home), "--server", smart.root, "--pin-stdin", "--no-browser")
    done, url = signed_in(smart, nurse.username, *args, stdin=PIN + "\n")
    assert done.returncode == 0, done.stderr
    assert "Sign in with a browser at this address:" in done.stdout
    assert "This device is set up for Practitioner/" in done.stderr
    assert "disk encryption" in done.stderr and "screen lock unknown" in done.stderr
    assert "in a file in the home folder (no OS key store was usable)" in done.stdout
    assert not JWT.search(done.stdout + done.stderr)
    assert parse_qs(urlsplit(url).query)["scope"] == ["openid fhirUser offline_access user/*.cruds"]

    info = json.loads((home / "device.json").read_text())
    assert set(info) == {
        "version", "install_id", "device_id", "server", "user", "client_id", "app_version",
        "enrolled_at",
    }  # fmt: skip
    assert info["server"] == smart.fhir and info["user"] == nurse.user_id
    assert stat.S_IMODE(home.stat().st_mode) == 0o700
    for name in ("keys.json", "secret", "store.db", "device.json"):
        assert stat.S_IMODE((home / name).stat().st_mode) == 0o600, name
    assert not (home / "store.db").read_bytes().startswith(b"SQLite format 3")
    keys = json.loads((home / "keys.json").read_text())
    assert "pin" in keys and "escrow" in keys and keys["failed"] == 0

    registered = listed(smart, info["device_id"])
    assert registered["status"] == "active"
    assert registered["user"] == nurse.user_id
    assert registered["posture"]["os"]  # platform.system/release
    assert registered["posture"]["screen_lock"] is None


def test_status_patients_outbox_pin_and_wipe(smart: Smart, tmp_path: Path) -> None:
    from bedside.device import Node

    nurse = new_nurse(smart)
    home = tmp_path / "home"
    enrolled = enroll(smart, nurse, home)
    assert enrolled["user"] == nurse.user_id and enrolled["server"] == smart.fhir
    assert enrolled["status"]["mode"] == "normal"
    H = ("--home", str(home))

    locked = as_json(device("status", *H, "--json"))
    assert locked["unlocked"] is False and locked["mode"] is None
    assert locked["keys"]["locked"] is False and locked["keys"]["secret_storage"] == "file"
    open_status = as_json(device("status", *H, "--pin-stdin", "--json", stdin=PIN + "\n"))
    assert open_status["unlocked"] is True and open_status["mode"] == "normal"
    assert time.time() < open_status["snapshot_expires"] < open_status["read_only_until"]
    human = device("status", *H)
    assert "not shown: the device is locked" in human.stdout
    no_pin = device("patients", *H)  # stdin is a pipe, not a terminal: no hidden prompt
    assert "--pin-stdin" in assert_plain_failure(no_pin)

    patients = as_json(device("patients", *H, "--pin-stdin", "--json", stdin=PIN + "\n"))
    ids = {p["id"] for p in patients}
    assert nurse.patient in ids and nurse.stranger not in ids
    assert next(p for p in patients if p["id"] == nurse.patient)["basis"] == "care-team"

    node = Node(home)
    node.unlock(PIN)
    recorded = node.record(
        "create",
        {
            "resourceType": "Observation",
            "status": "final",
            "code": {"coding": [{"system": "http://loinc.org", "code": "8867-4"}]},
            "subject": {"reference": f"Patient/{nurse.patient}"},
            "valueQuantity": {"value": 72, "unit": "/min"},
        },
        patient=nurse.patient,
    )
    node.lock()
    pending = as_json(
        device("outbox", *H, "--state", "pending", "--pin-stdin", "--json", stdin=PIN + "\n")
    )
    assert [(e["seq"], e["type"], e["state"]) for e in pending] == [(1, "Observation", "pending")]
    assert pending[0]["resource_id"] == recorded.id and pending[0]["patient"] == nurse.patient
    assert (
        as_json(
            device("outbox", *H, "--state", "confirmed", "--pin-stdin", "--json", stdin=PIN + "\n")
        )
        == []
    )
    bad_state = device("outbox", *H, "--state", "lost", "--pin-stdin", stdin=PIN + "\n")
    assert "outbox state is one of" in assert_plain_failure(bad_state)

    changed = device("pin", *H, "--pin-stdin", stdin=f"{PIN}\n{NEW_PIN}\n")
    assert changed.returncode == 0, changed.stderr
    old = device("status", *H, "--pin-stdin", stdin=PIN + "\n")
    assert "That PIN is not right" in assert_plain_failure(old)
    assert as_json(device("status", *H, "--pin-stdin", "--json", stdin=NEW_PIN + "\n"))["unlocked"]

    wiped = device("wipe", *H, "--yes")
    assert wiped.returncode == 0, wiped.stderr
    assert not any((home / n).exists() for n in ("keys.json", "secret", "store.db", "device.json"))
    assert "not set up" in assert_plain_failure(device("status", *H))


def test_wrong_pins_lock_the_device_until_an_online_unlock_sets_a_new_pin(
    smart: Smart, tmp_path: Path
) -> None:
    from bedside.device import Node

    nurse = new_nurse(smart)
    home = tmp_path / "home"
    enrolled = enroll(smart, nurse, home)
    H = ("--home", str(home))
    node = Node(home)
    node.unlock(PIN)
    node.save_draft({"resourceType": "Observation", "status": "preliminary", "code": {"text": "x"}})
    node.lock()

    messages = [
        assert_plain_failure(device("unlock", *H, "--pin-stdin", stdin="000000\n"))
        for _ in range(5)
    ]
    assert all("That PIN is not right" in m for m in messages[:4])
    assert "This device is locked" in messages[4]
    keys = as_json(device("status", *H, "--json"))["keys"]
    assert keys["locked"] is True and keys["reason"] == "pin-attempts"
    assert "This device is locked" in assert_plain_failure(
        device("unlock", *H, "--pin-stdin", stdin=PIN + "\n")
    )
    assert "pin" not in json.loads((home / "keys.json").read_text())

    args = ("unlock", *H, "--online", "--pin-stdin", "--no-browser")
    done, _ = signed_in(smart, nurse.username, *args, stdin=NEW_PIN + "\n")
    assert done.returncode == 0, done.stderr
    assert "open again" in done.stderr
    reopened = as_json(device("status", *H, "--pin-stdin", "--json", stdin=NEW_PIN + "\n"))
    assert reopened["keys"]["locked"] is False and reopened["drafts"] == 1  # nothing was lost
    assert reopened["device_id"] == enrolled["device_id"]
    assert listed(smart, enrolled["device_id"])["status"] == "active"


def test_online_unlock_of_a_device_flagged_for_wipe_wipes_it(smart: Smart, tmp_path: Path) -> None:
    nurse = new_nurse(smart)
    home = tmp_path / "home"
    enrolled = enroll(smart, nurse, home)
    smart.admin("device", "wipe", enrolled["device_id"])
    args = ("unlock", "--home", str(home), "--online", "--pin-stdin", "--no-browser")
    done, _ = signed_in(smart, nurse.username, *args, stdin=NEW_PIN + "\n")
    assert done.returncode == 1
    assert "flagged this device for wipe" in done.stderr and "Traceback" not in done.stderr
    assert not any((home / n).exists() for n in ("keys.json", "secret", "store.db", "device.json"))


# --- refusals --------------------------------------------------------------------------------


def test_enroll_refuses_a_pin_that_is_not_6_to_12_digits_before_any_sign_in(tmp_path: Path) -> None:
    args = ("enroll", "--home", str(tmp_path / "h"), "--server", "http://127.0.0.1:9/fhir")
    done = device(*args, "--pin-stdin", "--no-browser", stdin="12ab\n")
    assert assert_plain_failure(done) == "Error: The PIN must be 6 to 12 digits."
    assert not (tmp_path / "h" / "keys.json").exists()


def test_enroll_against_an_unreachable_server_says_so(tmp_path: Path) -> None:
    port = free_port()
    args = ("enroll", "--home", str(tmp_path / "h"), "--server", f"http://127.0.0.1:{port}")
    done = device(*args, "--pin-stdin", "--no-browser", stdin=PIN + "\n")
    message = assert_plain_failure(done)
    assert message == f"Error: The server at http://127.0.0.1:{port} cannot be reached."


def test_commands_on_a_home_that_was_never_set_up_say_so(tmp_path: Path) -> None:
    done = device("patients", "--home", str(tmp_path / "nothing"))
    assert "not set up" in assert_plain_failure(done)
    wipe = device("wipe", "--home", str(tmp_path / "nothing"))
    assert "There is no Bedside device in" in assert_plain_failure(wipe)


def test_online_unlock_of_a_revoked_device_is_refused_and_keeps_its_data(
    smart: Smart, tmp_path: Path
) -> None:
    nurse = new_nurse(smart)
    home = tmp_path / "home"
    enrolled = enroll(smart, nurse, home)
    smart.admin("device", "revoke", enrolled["device_id"])
    args = ("unlock", "--home", str(home), "--online", "--pin-stdin", "--no-browser")
    done, _ = signed_in(smart, nurse.username, *args, stdin=NEW_PIN + "\n")
    assert done.returncode == 1
    assert "Error: This device has been revoked, so it cannot be unlocked." in done.stderr
    assert (home / "keys.json").exists()  # revoking ends access; only a wipe order erases
    assert as_json(device("status", "--home", str(home), "--json"))["keys"]["locked"] is False
