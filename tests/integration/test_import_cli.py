"""`bedside import` as a real subprocess, into SQLite (--data-dir) and PostgreSQL (--database)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import orjson
import pytest

from bedside.audit.entry import NullAuditor
from bedside.consent.evaluate import shares_for
from bedside.policy.decide import Policy
from bedside.rest import FhirRequest, Repository
from bedside.store import open_store
from tests.conftest import BASE, OPERATOR, sample_bundles

_ROW = re.compile(r"^\W*([A-Za-z]+)\W+(\d[\d,]*)\W*$")
_RATE = re.compile(r"(\d+) file\(s\), (\d+) resources in [\d.]+ s \(([\d,]+) resources/s\)")


@dataclass
class Target:
    args: list[str]
    url: str
    cwd: Path


@pytest.fixture
def target(backend: str, db_url: str, tmp_path: Path) -> Target:
    data_dir = tmp_path / "data"
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    if backend == "sqlite":
        return Target(["--data-dir", str(data_dir)], f"sqlite:///{data_dir / 'bedside.db'}", cwd)
    return Target(["--data-dir", str(data_dir), "--database", db_url], db_url, cwd)


def run_import(target: Target, *paths: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": "200", "NO_COLOR": "1"}
    return subprocess.run(
        [sys.executable, "-m", "bedside", "import", *map(str, paths), *target.args],
        capture_output=True,
        text=True,
        timeout=180,
        cwd=target.cwd,
        env=env,
    )


def summary_counts(stdout: str) -> Counter[str]:
    counts: Counter[str] = Counter()
    for line in stdout.splitlines():
        m = _ROW.match(line)
        if m and m.group(1) != "Count":
            counts[m.group(1)] = int(m.group(2).replace(",", ""))
    return counts


def stored(url: str) -> Counter[str]:
    """Resources per type, read back through the store."""
    store = open_store(url)
    try:
        repo = Repository(
            store, OPERATOR, BASE, policy=Policy(consents=shares_for), auditor=NullAuditor()
        )
        out: Counter[str] = Counter()
        for rtype in ("Patient", "Observation", "Encounter", "Organization", "Practitioner"):
            resp = repo.handle(FhirRequest("GET", rtype, query=(("_summary", "count"),)))
            assert resp.resource is not None
            if resp.resource["total"]:
                out[rtype] = resp.resource["total"]
        with store.read() as session:  # every stored version, across types
            versions = session.history(None, None, since=None, before_seq=None, count=1_000_000)
        # each import transaction also stores the Provenance of its writes
        out["_versions"] = sum(1 for v in versions if v.type != "Provenance")
        out["_provenance"] = sum(1 for v in versions if v.type == "Provenance")
        return out
    finally:
        store.close()


def read(url: str, ref: str) -> dict:
    store = open_store(url)
    try:
        resp = Repository(
            store, OPERATOR, BASE, policy=Policy(consents=shares_for), auditor=NullAuditor()
        ).handle(FhirRequest("GET", ref))
        assert resp.resource is not None
        return resp.resource
    finally:
        store.close()


def bundle_counts(paths: list[Path]) -> Counter[str]:
    counts: Counter[str] = Counter()
    for p in paths:
        counts.update(e["resource"]["resourceType"] for e in orjson.loads(p.read_bytes())["entry"])
    return counts


def test_import_folder_prints_summary(target: Target, tmp_path: Path) -> None:
    chosen = sample_bundles()[:3]
    folder = tmp_path / "in"
    folder.mkdir()
    for p in chosen:
        shutil.copy(p, folder / p.name)
    expected = bundle_counts(chosen)

    done = run_import(target, folder)
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    printed = summary_counts(done.stdout)
    total = printed.pop("Total")
    assert printed == expected, done.stdout
    assert total == sum(expected.values())
    m = _RATE.search(done.stdout)
    assert m, done.stdout
    assert int(m.group(1)) == 3
    assert int(m.group(2)) == total
    assert int(m.group(3).replace(",", "")) > 0

    got = stored(target.url)
    assert got["_versions"] == total
    assert 1 <= got["_provenance"] <= len(chosen)  # one per transaction Bundle
    for rtype in ("Patient", "Observation", "Encounter"):
        assert got[rtype] == expected[rtype]


def test_broken_json_file_is_named_and_good_files_still_load(
    target: Target, tmp_path: Path
) -> None:
    chosen = sample_bundles()[1:3]
    folder = tmp_path / "in"
    folder.mkdir()
    for p in chosen:
        shutil.copy(p, folder / p.name)
    # Sorted between the good files, so a later good file must still load after it fails.
    broken = folder / (chosen[0].name[:3] + "_broken.json")
    broken.write_text('{"resourceType": "Bundle", "type": "transaction", "entry": [')
    expected = bundle_counts(chosen)

    done = run_import(target, folder)
    assert done.returncode == 1, (done.stdout, done.stderr)
    assert "Traceback" not in done.stderr
    assert broken.name in done.stderr
    assert "not valid JSON" in done.stderr
    for p in chosen:
        assert p.name not in done.stderr
    printed = summary_counts(done.stdout)
    assert printed.pop("Total") == sum(expected.values())
    assert printed == expected

    got = stored(target.url)
    assert got["_versions"] == sum(expected.values())
    assert got["Patient"] == 2
    assert got["Observation"] == expected["Observation"]


def _ndjson_line(resource: dict) -> str:
    return orjson.dumps(resource).decode()


def _ndjson_resources() -> list[dict]:
    org = {"resourceType": "Organization", "id": "nd-org", "name": "Ward 3"}
    pat = {
        "resourceType": "Patient",
        "id": "nd-pat",
        "managingOrganization": {"reference": "Organization/nd-org"},
    }
    enc = {
        "resourceType": "Encounter",
        "id": "nd-enc",
        "status": "finished",
        "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "IMP"},
        "subject": {"reference": "Patient/nd-pat"},
        "serviceProvider": {"reference": "Organization/nd-org"},
    }

    def obs(n: int) -> dict:
        return {
            "resourceType": "Observation",
            "id": f"nd-obs-{n}",
            "status": "final",
            "code": {"coding": [{"system": "http://loinc.org", "code": "8867-4"}]},
            "subject": {"reference": "Patient/nd-pat"},
            "encounter": {"reference": "Encounter/nd-enc"},
            "valueQuantity": {"value": 60 + n, "unit": "/min"},
        }

    # The Observations come first: ids are kept, so order does not matter.
    return [obs(1), obs(2), org, pat, enc, obs(3)]


def test_ndjson_with_ids_loads_and_bad_json_line_is_reported(
    target: Target, tmp_path: Path
) -> None:
    lines = [_ndjson_line(r) for r in _ndjson_resources()]
    lines.insert(3, '{"resourceType": "Observation", "id": "nd-broken", ')  # line 4
    path = tmp_path / "resources.ndjson"
    path.write_text("\n".join(lines) + "\n")

    done = run_import(target, path)
    assert done.returncode == 1, (done.stdout, done.stderr)
    assert "Traceback" not in done.stderr
    assert re.search(r"resources\.ndjson line 4\b", done.stderr), done.stderr
    assert "nd-broken" not in done.stderr  # positions, never content
    printed = summary_counts(done.stdout)
    assert printed.pop("Total") == 6
    assert printed == Counter({"Observation": 3, "Organization": 1, "Patient": 1, "Encounter": 1})

    got = stored(target.url)
    assert got == Counter(
        {
            "Observation": 3,
            "Organization": 1,
            "Patient": 1,
            "Encounter": 1,
            "_versions": 6,
            "_provenance": 6,
        }
    )
    obs = read(target.url, "Observation/nd-obs-2")
    assert obs["subject"]["reference"] == "Patient/nd-pat"
    assert obs["encounter"]["reference"] == "Encounter/nd-enc"
    assert read(target.url, "Patient/nd-pat")["managingOrganization"] == {
        "reference": "Organization/nd-org"
    }


def test_ndjson_invalid_resource_line_is_reported_with_its_line_number(
    target: Target, tmp_path: Path
) -> None:
    lines = [_ndjson_line(r) for r in _ndjson_resources()]
    bad = {"resourceType": "Observation", "id": "nd-invalid", "status": "not-a-status"}
    lines.insert(4, _ndjson_line(bad))  # line 5: valid JSON, not a valid Observation
    path = tmp_path / "resources.ndjson"
    path.write_text("\n".join(lines) + "\n")

    done = run_import(target, path)
    assert done.returncode == 1, (done.stdout, done.stderr)
    assert "Traceback" not in done.stderr
    assert re.search(r"resources\.ndjson line 5\b", done.stderr), done.stderr
    got = stored(target.url)
    assert got == Counter(
        {
            "Observation": 3,
            "Organization": 1,
            "Patient": 1,
            "Encounter": 1,
            "_versions": 6,
            "_provenance": 6,
        }
    )
