"""Every module of bedside.upstream lists its public names in __all__ (ruff RUF022 keeps the
list sorted, constants first), and every listed name exists."""

from __future__ import annotations

import ast
import importlib
import pkgutil
from pathlib import Path

import pytest

import bedside.upstream

MODULES = sorted(m.name for m in pkgutil.iter_modules(bedside.upstream.__path__))


@pytest.mark.parametrize("name", MODULES)
def test_public_api_is_complete(name: str) -> None:
    module = importlib.import_module(f"bedside.upstream.{name}")
    exported = list(module.__all__)
    assert all(hasattr(module, n) for n in exported)
    tree = ast.parse(Path(module.__file__ or "").read_text("utf-8"))
    public = {
        n.name
        for n in tree.body
        if isinstance(n, ast.FunctionDef | ast.ClassDef) and not n.name.startswith("_")
    }
    assert public <= set(exported)
