"""`mtlsaudit demo`: the two embedded targets, scanned for real, judged as described."""

from __future__ import annotations

import asyncio
import json

import jsonschema
import pytest
from typer.testing import CliRunner

from mtlsaudit.cli import app
from mtlsaudit.demo import run_demo
from mtlsaudit.models import EvidenceStatus, MatchKind, OutcomeKind
from mtlsaudit.report.json import SCHEMA_PATH
from mtlsaudit.scan import ScanOptions


@pytest.fixture(scope="module")
def demo_reports(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("demo")
    return {r.target.name: r for r in asyncio.run(run_demo(workdir, ScanOptions(settle=0.3, late=0.3)))}


def test_under_logging_target_rejects_but_does_not_log(demo_reports):
    report = demo_reports["under-logging"]
    rejected = [a for a in report.attempts if a.outcome.kind.is_rejection]
    assert len(rejected) >= 20
    for a in rejected:
        assert a.evidence.status is EvidenceStatus.NOT_LOGGED, a.attempt_id
        # Refused raw hellos (key exchange) have their own rule for the same gap.
        rule = "MTLS-K002" if a.probe_id.startswith("kex.") else "MTLS-L001"
        assert any(f.rule_id == rule and f.attempt_id == a.attempt_id for f in report.findings), a.attempt_id
    valid = [a for a in report.attempts if a.probe_id == "control.valid"]
    assert all(a.outcome.kind is OutcomeKind.ACCEPTED for a in valid)
    # Success is logged (http.server-style line) but without identity.
    assert all(a.evidence.status is EvidenceStatus.LOGGED for a in valid)
    assert {f.attempt_id for f in report.findings if f.rule_id == "MTLS-L003"} >= {a.attempt_id for a in valid}
    assert not [f for f in report.findings if f.rule_id == "MTLS-E001"]
    assert report.grade == "F"


def test_hardened_target_scans_clean_with_exact_attribution(demo_reports):
    report = demo_reports["hardened"]
    assert [f.rule_id for f in report.findings] == []
    for a in report.attempts:
        assert a.evidence.status is EvidenceStatus.LOGGED, a.attempt_id
        # Attempts without a parseable certificate carry no marker: their line names the source port.
        unmarked = a.probe_id == "control.no-cert" or a.probe_id.startswith(("kex.", "malformed."))
        expected = {MatchKind.ENDPOINT} if unmarked else {MatchKind.EXACT}
        assert {r.match for r in a.evidence.records} <= expected | {MatchKind.EXACT}, a.attempt_id
    assert report.coverage == 1.0
    assert report.grade == "A"


def test_reports_validate_against_the_checked_in_schema(demo_reports):
    schema = json.loads(SCHEMA_PATH.read_text())
    for report in demo_reports.values():
        jsonschema.validate(json.loads(report.model_dump_json()), schema)


def test_demo_cli_prints_both_scans_as_json(tmp_path):
    result = CliRunner().invoke(app, ["demo", "--format", "json", "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert [s["target"]["name"] for s in doc["scans"]] == ["under-logging", "hardened"]
    assert (tmp_path / "report.json").exists()
    for key in tmp_path.glob("pki/*.key"):
        assert key.stat().st_mode & 0o077 == 0
    # No private key material ever reaches the report.
    assert "PRIVATE KEY" not in result.stdout
