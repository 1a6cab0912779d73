"""The import layers hold (docs/architecture.md "Layers"; the contracts in pyproject.toml).

``lint-imports`` (import-linter) checks the contracts in ``make lint``; here the same check runs
on the source as it is, and on a copy of it with one forbidden import added, which must fail:
so a contract that can no longer fail (a typo in a module name, a layer left out) is caught too.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LINT = Path(sys.executable).with_name("lint-imports")


def lint(src: Path, config: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(src)}
    return subprocess.run(
        [str(LINT), "--config", str(config), "--no-cache"],
        capture_output=True,
        text=True,
        env=env,
        cwd=config.parent,
        check=False,
        timeout=300,
    )


def test_the_contracts_hold() -> None:
    done = lint(ROOT / "src", ROOT / "pyproject.toml")
    assert done.returncode == 0, done.stdout[-4000:]
    assert "Contracts: 3 kept, 0 broken." in done.stdout


@pytest.mark.parametrize(
    ("module", "line", "contract"),
    [
        ("device/node.py", "import bedside.store.base", "The device is not the server"),
        ("store/base.py", "import bedside.rest.repository", "The server's layers"),
        ("clinical/news2.py", "import bedside.policy.model", "What server and device share"),
    ],
)
def test_a_forbidden_import_breaks_its_contract(
    tmp_path: Path, module: str, line: str, contract: str
) -> None:
    src = tmp_path / "src"
    shutil.copytree(ROOT / "src" / "bedside", src / "bedside")
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    target = src / "bedside" / module
    target.write_text(target.read_text("utf-8") + f"\n{line}  # noqa\n", "utf-8")
    done = lint(src, tmp_path / "pyproject.toml")
    assert done.returncode != 0
    assert f"{contract}" in done.stdout and "BROKEN" in done.stdout
