"""`bedside device …`: a device node on this computer, driven from the command line.

Each command works on one home directory (``--home``: one user, one install; docs/device.md).
``enroll`` signs in through a browser and sets the home up; the others open it with the PIN,
which is read from a hidden prompt or, for scripts, from standard input (``--pin-stdin``, one
PIN per line), never from the command line. Each command is its own process, so the device is
locked again when it ends. Human output is a table; ``--json`` prints JSON for scripts. A
failure is one sentence on standard error and exit code 1.
"""

from __future__ import annotations

import getpass
import hmac
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import orjson
import typer
from rich.console import Console
from rich.table import Table

from bedside.cli.device_status import status_json, status_table, when
from bedside.errors import BedsideError

if TYPE_CHECKING:
    from bedside.device.enroll import SignIn
    from bedside.device.node import Node

__all__ = [
    "Home",
    "Json",
    "NoBrowser",
    "PinStdin",
    "Timeout",
    "change_pin",
    "console",
    "device_app",
    "enroll",
    "out",
    "outbox",
    "patients",
    "status",
    "unlock",
    "wipe",
]

device_app = typer.Typer(
    no_args_is_help=True, help="A Bedside device on this computer: enroll, unlock, inspect, wipe."
)
console = Console(stderr=True, soft_wrap=True)
out = Console(soft_wrap=True)

Home = Annotated[Path, typer.Option("--home", help="The device's home folder (one per user).")]
Json = Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")]
PinStdin = Annotated[
    bool, typer.Option("--pin-stdin", help="Read the PIN(s) from standard input, one per line.")
]
NoBrowser = Annotated[
    bool, typer.Option("--no-browser", help="Only print the sign-in address; open no browser.")
]
Timeout = Annotated[
    float, typer.Option("--sign-in-timeout", help="Seconds to wait for the browser sign-in.")
]


def _fail(message: str) -> typer.Exit:
    console.print(f"[red]Error:[/red] {message}", markup=True, highlight=False)
    return typer.Exit(code=1)


@contextmanager
def _plain_errors() -> Iterator[None]:
    """Every Bedside error becomes one sentence and exit code 1, never a traceback."""
    try:
        yield
    except BedsideError as exc:
        raise _fail(str(exc)) from None


def _print_json(value: Any) -> None:
    sys.stdout.write(orjson.dumps(value, option=orjson.OPT_INDENT_2).decode() + "\n")


# --- reading PINs ----------------------------------------------------------------------------


def _stdin_pin(what: str) -> str:
    line = sys.stdin.readline().rstrip("\r\n")
    if not line:
        raise _fail(f"No {what} on standard input.")
    return line


def _pin(from_stdin: bool, what: str = "PIN") -> str:
    if from_stdin:
        return _stdin_pin(what)
    if not sys.stdin.isatty():
        raise _fail("Give the PIN on standard input with --pin-stdin.")
    return getpass.getpass(f"{what}: ")


def _new_pin(from_stdin: bool) -> str:
    """A new PIN: one line from stdin, or typed twice at a hidden prompt."""
    if from_stdin:
        return _stdin_pin("new PIN")
    first = _pin(False, "New PIN (6-12 digits)")
    again = getpass.getpass("New PIN again: ")
    if not hmac.compare_digest(first.encode(), again.encode()):
        raise _fail("The two PINs differ; nothing was changed.")
    return first


def _sign_in(no_browser: bool, timeout: float, as_json: bool) -> SignIn:
    from bedside.device.enroll import SignIn

    def show(url: str) -> None:
        if as_json:
            sys.stdout.write(orjson.dumps({"sign_in_url": url}).decode() + "\n")
        else:
            sys.stdout.write(f"Sign in with a browser at this address:\n{url}\n")
        sys.stdout.flush()  # the user (or a script playing the browser) needs it now

    return SignIn(show_url=show, open_browser=not no_browser, timeout=timeout)


@contextmanager
def _unlocked(home: Path, from_stdin: bool) -> Iterator[Node]:
    """The node of ``home``, unlocked with the PIN for the length of the block."""
    from bedside.device.node import Node

    with _plain_errors():
        node = Node(home)
        pin = _pin(from_stdin)
        try:
            node.unlock(pin)
            yield node
        finally:
            node.lock()


# --- commands --------------------------------------------------------------------------------


@device_app.command("enroll")
def enroll(
    home: Home,
    server: Annotated[str, typer.Option("--server", help="The server's address (…/fhir).")],
    pin_stdin: PinStdin = False,
    no_browser: NoBrowser = False,
    sign_in_timeout: Timeout = 300.0,
    as_json: Json = False,
) -> None:
    """Sign in through a browser and set this device up (choose a new PIN)."""
    from bedside.device import enroll as enrolling
    from bedside.device.keys import check_pin

    pin = _new_pin(pin_stdin)
    with _plain_errors():
        check_pin(pin)
        done = enrolling.enroll(home, server, pin, _sign_in(no_browser, sign_in_timeout, as_json))
    if as_json:
        _print_json(
            {
                "device_id": done.device_id,
                "user": done.user,
                "fhir_user": done.fhir_user,
                "server": done.server,
                "posture": done.posture,
                "pins": done.pins,
                "status": status_json(done.status, done.info),
            }
        )
        return
    console.print(f"This device is set up for {done.fhir_user or done.user} on {done.server}.")
    facts = done.posture
    console.print(
        f"Reported to the server: OS {facts.get('os') or 'unknown'}, disk encryption "
        f"{_fact(facts.get('disk_encryption'))}, screen lock {_fact(facts.get('screen_lock'))}."
    )
    out.print(status_table(done.status, done.info))


def _fact(value: object) -> str:
    if value is None:
        return "unknown (this computer cannot tell)"
    if isinstance(value, bool):
        return "on" if value else "off"
    return str(value)


@device_app.command("unlock")
def unlock(
    home: Home,
    pin_stdin: PinStdin = False,
    online: Annotated[
        bool,
        typer.Option("--online", help="Sign in again to open a locked device; set a new PIN."),
    ] = False,
    no_browser: NoBrowser = False,
    sign_in_timeout: Timeout = 300.0,
    as_json: Json = False,
) -> None:
    """Check the PIN (and run retention), or with --online open a locked device."""
    if not online:
        with _unlocked(home, pin_stdin) as node:
            status = node.status()
        if as_json:
            _print_json(status_json(status, node.info))
        else:
            console.print("The PIN is right; the device opens.")
            out.print(status_table(status, node.info))
        return
    from bedside.device.enroll import online_unlock

    new_pin = _new_pin(pin_stdin)
    with _plain_errors():
        done = online_unlock(home, new_pin, _sign_in(no_browser, sign_in_timeout, as_json))
    if done.wiped:
        if as_json:
            _print_json({"device_id": done.device_id, "wiped": True})
        raise _fail(
            "The server flagged this device for wipe, so its keys and data have been destroyed."
        )
    assert done.status is not None and done.info is not None
    if as_json:
        _print_json({"wiped": False, **status_json(done.status, done.info)})
        return
    console.print("The device is open again and your new PIN is set.")
    for note in done.notes:
        console.print(note)
    out.print(status_table(done.status, done.info))


@device_app.command("status")
def status(
    home: Home,
    pin_stdin: PinStdin = False,
    unlock: Annotated[
        bool, typer.Option("--unlock", help="Ask for the PIN to show the offline policy too.")
    ] = False,
    as_json: Json = False,
) -> None:
    """Show enrollment and keys (no PIN needed), and with the PIN the offline policy."""
    from bedside.device.node import Node

    if unlock or pin_stdin:
        with _unlocked(home, pin_stdin) as node:
            current = node.status()
    else:
        with _plain_errors():
            node = Node(home)
            current = node.status()
    if as_json:
        _print_json(status_json(current, node.info))
    else:
        out.print(status_table(current, node.info))


@device_app.command("pin")
def change_pin(home: Home, pin_stdin: PinStdin = False) -> None:
    """Change the PIN: the current one, then the new one (the data is not re-encrypted)."""
    from bedside.device.home import DeviceInfo
    from bedside.device.keys import KeyFile, check_pin

    with _plain_errors():
        DeviceInfo.load(home)
        keyfile = KeyFile.open(home)
        old = _pin(pin_stdin, "Current PIN")
        new = _new_pin(pin_stdin)
        check_pin(new)
        keyfile.set_pin(keyfile.unlock(old), new)
    console.print("The PIN is changed.")


@device_app.command("patients")
def patients(home: Home, pin_stdin: PinStdin = False, as_json: Json = False) -> None:
    """List the patients on this device (the working set)."""
    with _unlocked(home, pin_stdin) as node:
        rows = node.patients()
    if as_json:
        _print_json([asdict(p) for p in rows])
        return
    table = Table("Patient", "Name", "Born", "Gender", "Why on this device", "Pinned")
    for p in rows:
        table.add_row(
            p.id, p.display, p.birth_date or "", p.gender or "", p.basis, "yes" if p.pinned else ""
        )
    out.print(table)
    console.print(f"{len(rows)} patient(s) on this device.")


@device_app.command("outbox")
def outbox(
    home: Home,
    state: Annotated[
        str | None,
        typer.Option(
            "--state", help="Only pending, sending, confirmed, needs-review or rejected events."
        ),
    ] = None,
    pin_stdin: PinStdin = False,
    as_json: Json = False,
) -> None:
    """List the events recorded on this device and their sync state."""
    with _unlocked(home, pin_stdin) as node:
        entries = node.outbox(state)
    if as_json:  # the signed event itself (the whole resource) is left out
        _print_json([{k: v for k, v in asdict(e).items() if k != "event"} for e in entries])
        return
    table = Table("Seq", "State", "Action", "Resource", "Patient", "Recorded", "Reason")
    for e in entries:
        table.add_row(
            str(e.seq),
            e.state,
            e.action,
            f"{e.type}/{e.resource_id}",
            e.patient or "",
            when(e.created),
            e.reason or "",
        )
    out.print(table)
    console.print(f"{len(entries)} event(s).")


@device_app.command("wipe")
def wipe(
    home: Home,
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask for confirmation.")] = False,
) -> None:
    """Destroy this device's keys and data (events not yet sent are lost)."""
    from bedside.device import enroll as enrolling
    from bedside.device.home import DEVICE_FILE
    from bedside.device.keys import KEY_FILE

    if not ((home / DEVICE_FILE).exists() or (home / KEY_FILE).exists()):
        raise _fail(f"There is no Bedside device in {home}.")
    if not yes:
        if not sys.stdin.isatty():
            raise _fail("Confirm the wipe with --yes.")
        typer.confirm(
            "Destroy this device's keys and data? Events not yet sent are lost", abort=True
        )
    with _plain_errors():
        enrolling.wipe(home)
    console.print("The device's keys and data are destroyed; set it up again with enroll.")
