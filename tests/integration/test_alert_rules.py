"""The Prometheus alerting rules (docs/prometheus/bedside-alerts.yml): ``promtool check rules``
and ``promtool test rules`` pass (Debian's ``prometheus`` package; ``make prometheus`` installs
it); and, with or without promtool, every metric a rule reads is one the server exposes, and
every alert has its runbook entry in docs/operations.md."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from bedside.metrics.registry import Metrics
from bedside.metrics.state import DatabaseState
from bedside.metrics.upstream import UpstreamState
from bedside.policy.rules import PolicyRules
from bedside.store import open_store
from bedside.upstream import Upstream
from bedside.upstream.config import parse as parse_upstream

DOCS = Path(__file__).resolve().parents[2] / "docs"
RULES = DOCS / "prometheus" / "bedside-alerts.yml"
RULE_TESTS = DOCS / "prometheus" / "bedside-alerts.test.yml"
_SUFFIXES = ("_total", "_count", "_sum", "_bucket", "_created")


def promtool() -> str:
    found = shutil.which("promtool")
    if found is None:
        pytest.skip("promtool is not installed (make prometheus); the checks below still run")
    return found


def test_promtool_checks_the_rules() -> None:
    out = subprocess.run(
        [promtool(), "check", "rules", str(RULES)], capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 0, out.stdout + out.stderr
    assert "SUCCESS: 10 rules found" in out.stdout


def test_each_alert_fires_on_its_signal_and_not_on_ordinary_traffic() -> None:
    out = subprocess.run(
        [promtool(), "test", "rules", str(RULE_TESTS)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=RULE_TESTS.parent,
    )
    assert out.returncode == 0, out.stdout + out.stderr


def exposed(tmp_path: Path) -> set[str]:
    """Every metric family name a scrape of a fresh server shows."""
    store = open_store(f"sqlite:///{tmp_path / 'bedside.db'}")
    try:
        metrics = Metrics()
        metrics.add_collector(DatabaseState(store, PolicyRules.default()))
        feeds = parse_upstream(
            '[source.adt]\nkind = "hl7v2"\nfiles = "inbox"\n', source="t", data_dir=tmp_path
        )
        metrics.add_collector(UpstreamState(store, Upstream(store, feeds, "http://x/fhir")))
        # one sample of each labelled counter, so its family is in the text
        metrics.request("/metrics", "GET", 200, 0.01, {})
        metrics.token("refresh_token", None)
        metrics.push({("confirmed", ""): 1})
        metrics.sign_ins.labels("refused").inc()
        metrics.fhir.labels("read", "allowed").inc()
        metrics.access.labels("care-team", "allowed").inc()
        metrics.consent_changes.labels("inactive").inc()
        text = metrics.render().decode()
    finally:
        store.close()
    return set(re.findall(r"^# TYPE (\S+) ", text, re.M))


def test_every_metric_a_rule_reads_is_exposed_and_every_alert_has_a_runbook(
    tmp_path: Path,
) -> None:
    families = exposed(tmp_path)
    rules = yaml.safe_load(RULES.read_text())
    runbook = (DOCS / "operations.md").read_text()
    alerts = [r for g in rules["groups"] for r in g["rules"]]
    assert len(alerts) == 10
    for rule in alerts:
        for name in re.findall(r"\bbedside_[a-z_]+", rule["expr"]):
            base = next((name[: -len(s)] for s in _SUFFIXES if name.endswith(s)), name)
            assert name in families or base in families, f"{rule['alert']} reads {name}"
        anchor = rule["annotations"]["runbook"].split("#", 1)[1]
        assert f"### {rule['alert']}" in runbook and anchor == rule["alert"].lower()
