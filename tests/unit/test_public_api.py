"""Every public module says what it offers: an ``__all__`` that is sorted and complete.

As httpx checks its package's ``__all__``, this walks every module of ``src/bedside`` whose
name does not start with an underscore and reads it (the source, not an import): ``__all__``
must be a literal list of strings, in isort's order (ruff's RUF022), naming only what the
module defines or imports, and naming every public function, class and constant it defines
itself (a module's logger and its type variables are not API). A name that is not part of the
module's API starts with an underscore.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[2] / "src"
MODULES = sorted(
    p
    for p in (SRC / "bedside").rglob("*.py")
    if not p.name.startswith("_") or p.name == "__init__.py"
    if not any(part.startswith("_") and part != "__init__.py" for part in p.relative_to(SRC).parts)
)


def _name(path: Path) -> str:
    return ".".join(path.relative_to(SRC).with_suffix("").parts).removesuffix(".__init__")


def defined(tree: ast.Module) -> tuple[set[str], set[str]]:
    """(public names the module defines itself, every name bound at the top level)."""
    own: set[str] = set()
    bound: set[str] = set()
    for node in tree.body:
        names: list[str] = []
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names = [node.name]
        elif isinstance(node, ast.Assign):
            names = [t.id for t in node.targets if isinstance(t, ast.Name)]
            if _plumbing(node.value):
                bound |= set(names)
                continue
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            names = [node.target.id]
        elif isinstance(node, ast.Import | ast.ImportFrom):
            bound |= {(a.asname or a.name).split(".")[0] for a in node.names}
            continue
        elif isinstance(node, ast.If | ast.Try):  # TYPE_CHECKING blocks, optional imports
            for sub in ast.walk(node):
                if isinstance(sub, ast.Import | ast.ImportFrom):
                    bound |= {(a.asname or a.name).split(".")[0] for a in sub.names}
            continue
        bound |= set(names)
        own |= {n for n in names if not n.startswith("_")}
    return own, bound


def _plumbing(value: ast.expr) -> bool:
    """A module's logger or a type variable: bound at the top level, never its API."""
    if not isinstance(value, ast.Call):
        return False
    func = value.func
    called = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
    return called in {"get_logger", "getLogger", "TypeVar", "ParamSpec"}


def declared(tree: ast.Module) -> list[str] | None:
    for node in tree.body:
        targets = (
            node.targets
            if isinstance(node, ast.Assign)
            else [node.target]
            if isinstance(node, ast.AnnAssign)
            else []
        )
        if any(isinstance(t, ast.Name) and t.id == "__all__" for t in targets):
            value = node.value
            assert isinstance(value, ast.List | ast.Tuple), "__all__ must be a literal list"
            items = [e.value for e in value.elts if isinstance(e, ast.Constant)]
            assert all(isinstance(i, str) for i in items) and len(items) == len(value.elts)
            return [str(i) for i in items]
    return None


def order(name: str) -> tuple[int, str]:
    """isort's order, as ruff's RUF022 keeps it: CONSTANTS, then Classes, then the rest."""
    if name.isupper() or (name.upper() == name and any(c.isalpha() for c in name)):
        return (0, name)
    return (1 if name[:1].isupper() else 2, name)


def problems(source: str) -> list[str]:
    """What is wrong with a module's ``__all__`` (empty when nothing is)."""
    tree = ast.parse(source)
    names = declared(tree)
    if names is None:
        return ["no __all__"]
    own, bound = defined(tree)
    out = []
    if names != sorted(names, key=order):
        out.append(f"__all__ is not sorted: {names}")
    if len(set(names)) != len(names):
        out.append("__all__ names something twice")
    if unknown := sorted(set(names) - bound):
        out.append(f"__all__ names what the module does not have: {unknown}")
    if missing := sorted(own - set(names) - {"__all__"}):
        out.append(f"public names missing from __all__ (or make them _private): {missing}")
    return out


def test_the_check_catches_each_mistake() -> None:
    good = 'import os\n__all__ = ["A", "run"]\nA = 1\ndef run(): ...\ndef _helper(): ...\n'
    assert problems(good) == []
    assert problems("def run(): ...\n") == ["no __all__"]
    assert "not sorted" in problems('__all__ = ["run", "A"]\nA = 1\ndef run(): ...\n')[0]
    assert "not sorted" in problems('__all__ = ["Cls", "CONST"]\nCONST = 1\nclass Cls: ...\n')[0]
    assert "does not have" in problems('__all__ = ["gone"]\n')[0]
    assert "missing" in problems('__all__ = ["A"]\nA = 1\ndef run(): ...\n')[0]
    assert problems('from os import path\n__all__ = ["path"]\n') == []  # a re-export
    assert problems("import structlog\n__all__ = []\nlog = structlog.get_logger()\n") == []


@pytest.mark.parametrize("path", MODULES, ids=_name)
def test_every_public_module_has_a_sorted_complete_all(path: Path) -> None:
    assert problems(path.read_text("utf-8")) == []
