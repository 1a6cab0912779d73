"""Which modules name given tables in SQL: the string literals of a package's modules
(docstrings aside; f-strings with their fields blanked) matched against a pattern."""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

SRC = Path(__file__).resolve().parents[2] / "src" / "bedside"

#: Words after which a table name stands in a statement.
SQL_BEFORE = r"\b(?:FROM|JOIN|INTO|UPDATE|TABLE|ON)\s+(?:main\.)?"


def _docstrings(tree: ast.AST) -> set[int]:
    found: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            first = node.body[0] if node.body else None
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                found.add(id(first.value))
    return found


def literals(path: Path) -> Iterator[tuple[int, str]]:
    """``(line, text)`` of each string literal in the module that is not a docstring."""
    tree = ast.parse(path.read_text("utf-8"))
    skip = _docstrings(tree)
    for node in ast.walk(tree):
        if isinstance(node, ast.JoinedStr):
            skip.update(id(v) for v in node.values)
            text = "".join(v.value if isinstance(v, ast.Constant) else "{}" for v in node.values)
            yield node.lineno, text
        elif (
            isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in skip
        ):
            yield node.lineno, node.value


def naming(paths: Iterator[Path], pattern: re.Pattern[str]) -> list[str]:
    """``path:line: text`` of every literal in ``paths`` that ``pattern`` finds."""
    hits = []
    for path in sorted(paths):
        for line, text in literals(path):
            if pattern.search(text):
                hits.append(f"{path.relative_to(SRC)}:{line}: {text[:80]}")
    return hits
