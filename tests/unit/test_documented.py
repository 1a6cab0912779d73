"""Every CLI command and option, every setting and every HTTP route is documented.

As Datasette checks its CLI reference against the code, these walk what the code actually
offers (the Typer app's commands, the policy file's keys, the ``BEDSIDE_*`` environment
variables read, the routes of the server and of the clinician app) and look each one up in the
documentation (README.md and docs/). A new option, key, variable or route without its line in
the docs fails here, naming it.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from starlette.routing import BaseRoute, Mount, Route, WebSocketRoute
from typer.main import get_command

from bedside.cli.reference import commands, render

ROOT = Path(__file__).resolve().parents[2]
SRC = ROOT / "src" / "bedside"
DOC_FILES = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
DOCS = {p: p.read_text("utf-8") for p in DOC_FILES}
ALL_DOCS = "\n".join(DOCS.values())


def _cli() -> Any:
    from bedside.cli import app

    return get_command(app)


def test_the_cli_reference_is_what_the_commands_make() -> None:
    """docs/cli.md is made by ``python -m bedside.cli.reference > docs/cli.md``: run it after
    adding or changing a command or an option's help."""
    page = (ROOT / "docs" / "cli.md").read_text("utf-8")
    assert page == render(), "docs/cli.md is out of date: python -m bedside.cli.reference"


def test_every_option_has_its_help() -> None:
    bare = [
        f"{name} {param.opts[0]}"
        for name, command in commands(_cli())
        for param in command.params
        if param.param_type_name == "option" and param.opts != ["--help"]
        if not (getattr(param, "help", None) or "").strip()
    ]
    assert not bare, f"options without a help text (their documentation): {bare}"


def test_every_command_is_documented() -> None:
    found = dict(commands(_cli()))
    assert {"bedside serve", "bedside device status", "bedside admin user add"} <= set(found)
    missing = [name for name in found if name not in ALL_DOCS]
    assert not missing, f"commands no page of docs/ or the README names: {missing}"


def test_every_option_is_documented_where_its_command_is() -> None:
    missing, checked = [], 0
    for name, command in commands(_cli()):
        pages = [text for text in DOCS.values() if name in text]
        for param in command.params:
            if param.param_type_name != "option" or getattr(param, "hidden", False):
                continue
            checked += 1
            flags = [o for o in param.opts if o.startswith("--") and o != "--help"]
            if flags and not any(f in text for f in flags for text in pages):
                missing.append(f"{name} {flags[0]}")
    assert checked > 50  # the walk reaches the options (it cannot pass by finding none)
    assert not missing, f"options not on any page that names their command: {missing}"


#: where the code reads an environment variable of its own: os.environ / getenv with the name,
#: or a constant ``ENV... = "BEDSIDE_..."`` it reads through
_READS = re.compile(
    r"(?:environ[^\n]{0,20}|getenv\(|ENV[A-Z_]*(?:: Final)? = )[\"'](BEDSIDE_[A-Z0-9_]+)"
)


def _env_names() -> set[str]:
    names: set[str] = set()
    for path in SRC.rglob("*.py"):
        names |= set(_READS.findall(path.read_text("utf-8")))
    return names


def test_every_environment_variable_is_documented() -> None:
    names = _env_names()
    assert "BEDSIDE_DEVICE_KEYSTORE" in names  # the scan finds what the code reads
    missing = sorted(n for n in names if n not in ALL_DOCS)
    assert not missing, f"environment variables the docs do not name: {missing}"


def _keys(table: dict[str, Any], prefix: str = "") -> Iterator[str]:
    for key, value in table.items():
        if isinstance(value, dict) and not prefix.startswith(("roles.", "sync.review")):
            yield from _keys(value, f"{prefix}{key}.")
        else:
            yield f"{prefix}{key}"


def test_every_policy_setting_is_documented() -> None:
    """Each key of the default policy file on a page that also names its ``[section]``."""
    policy = tomllib.loads((SRC / "policy" / "default.toml").read_text("utf-8"))
    missing = []
    for dotted in _keys(policy):
        section, _, key = dotted.rpartition(".")
        if dotted.startswith("roles."):
            continue  # a role's table is data (its letters), documented as the roles table
        word = re.compile(rf"\b{re.escape(key)}\b")
        if not any(f"[{section}]" in text and word.search(text) for text in DOCS.values()):
            missing.append(dotted)
    assert not missing, f"policy settings no page describes with their [section]: {missing}"


def _routes(routes: list[BaseRoute], prefix: str = "") -> Iterator[str]:
    for route in routes:
        if isinstance(route, Mount):
            if route.name == "static" or route.path.endswith("/static"):
                continue
            yield from _routes(list(route.routes), prefix + route.path)
        elif isinstance(route, Route | WebSocketRoute):
            yield prefix + route.path


def _starlette(app: Any) -> Any:
    for _ in range(20):
        if hasattr(app, "routes"):
            return app
        app = app.app
    raise AssertionError("no Starlette app under the middleware")


def _documented(path: str) -> bool:
    """``/sync/item/{seq}`` is documented as ``/sync/item/<seq>``, ``/sync/item/{seq}`` or
    ``/sync/item/42``; a path without parameters as itself; never as part of a longer path."""
    parts = re.split(r"\{[^}]+\}", path)
    pattern = r"(?:\{[^}]+\}|<[^>]+>|:[a-z_]+|[A-Za-z0-9_.-]+)".join(re.escape(p) for p in parts)
    return re.search(rf"(?<![a-z0-9/_-]){pattern}(?![A-Za-z0-9/_{{<-])", ALL_DOCS) is not None


@pytest.fixture(scope="module")
def server_routes(tmp_path_factory: pytest.TempPathFactory) -> list[str]:
    from bedside.web.asgi import build

    data = tmp_path_factory.mktemp("data")
    app, store = build(
        data,
        f"sqlite:///{data / 'b.db'}",
        "http://bedside.test/fhir",
        "http://bedside.test",
        300,
        listen_mllp=False,
    )
    try:
        return sorted(set(_routes(list(_starlette(app).routes))))
    finally:
        store.close()


def test_every_server_route_is_documented(server_routes: list[str]) -> None:
    assert "/sync/push" in server_routes and "/fhir/{path:path}" not in ["/"]
    missing = [r for r in server_routes if not _documented(r)]
    assert not missing, f"HTTP routes no page of the docs names: {missing}"


def _app_routes() -> list[str]:
    """The clinician app's routes, as each screen's module declares them (building the app
    needs an unlocked device)."""
    found: set[str] = set()
    for path in (SRC / "device" / "app").glob("*.py"):
        found |= set(re.findall(r"Route\(\s*f?\"(/[^\"]*)\"", path.read_text("utf-8")))
    return sorted(found)


def test_every_clinician_app_route_is_documented() -> None:
    routes = _app_routes()
    assert "/patients" in routes and "/patients/{pid}" in routes
    missing = [r for r in routes if not _documented(r)]
    assert not missing, f"clinician app routes no page of the docs names: {missing}"
