"""The portal's and health links' modules stay small and list their public API, sorted and
complete (STYLE.md: one concept per module, ``__all__`` kept honest by a test)."""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[2] / "src" / "bedside"
MODULES = (
    *(f"bedside.portal.{p.stem}" for p in sorted((SRC / "portal").glob("[!_]*.py"))),
    *(f"bedside.healthlinks.{p.stem}" for p in sorted((SRC / "healthlinks").glob("[!_]*.py"))),
    "bedside.web.portal",
    "bedside.web.portal_share",
    "bedside.web.portal_views",
    "bedside.web.health_links_api",
)


def _isort_style(name: str) -> tuple[int, str]:
    """Ruff's RUF022 order: CONSTANTS, then Classes, then functions."""
    return (0 if name.isupper() else 1 if name[0].isupper() else 2, name)


@pytest.mark.parametrize("name", MODULES)
def test_each_module_is_under_400_lines_and_lists_its_api(name: str) -> None:
    module = importlib.import_module(name)
    assert module.__file__ is not None
    assert len(Path(module.__file__).read_text("utf-8").splitlines()) < 400, name
    exported = list(module.__all__)
    assert exported == sorted(exported, key=_isort_style), name
    assert all(hasattr(module, n) for n in exported), name


def test_the_packages_are_found() -> None:
    assert len(MODULES) >= 12
