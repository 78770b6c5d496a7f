"""Rules are pure functions of stored facts: judged offline, re-judged identically."""

from __future__ import annotations

import datetime as dt

from mtlsaudit.judge import judge, score
from mtlsaudit.models import (
    AttemptResult,
    Evidence,
    EvidenceRecord,
    EvidenceStatus,
    GradedFields,
    Markers,
    MatchKind,
    Outcome,
    OutcomeKind,
    ReasonQuality,
    ScanFacts,
    ScanReport,
    Target,
    TlsVersion,
)

NOW = dt.datetime(2026, 12, 3, tzinfo=dt.UTC)


def result(
    probe: str, outcome: OutcomeKind, status: EvidenceStatus, fields: GradedFields | None = None, ok: bool = False
) -> AttemptResult:
    records = (
        [] if fields is None else [EvidenceRecord(source="file:x", line="l", match=MatchKind.EXACT, fields=fields)]
    )
    return AttemptResult(
        attempt_id=f"{probe}@t13",
        probe_id=probe,
        tls_version=TlsVersion.TLS1_3,
        started_at=NOW,
        ended_at=NOW,
        outcome=Outcome(kind=outcome),
        markers=Markers(),
        expects_acceptance=ok,
        expected_reasons=["expired"],
        evidence=Evidence(status=status, records=records),
    )


def facts(*attempts: AttemptResult) -> ScanFacts:
    return ScanFacts(
        scan_id="s",
        tool_version="t",
        target=Target(name="t", host="h", port=1),
        started_at=NOW,
        ended_at=NOW,
        probe_seconds=0,
        sources=["file:x"],
        trust_material=[],
        tls_versions=[TlsVersion.TLS1_3],
        attempts=list(attempts),
        skipped=[],
        unattributed=[],
    )


GOOD = GradedFields(
    reason="certificate has expired",
    reason_quality=ReasonQuality.SPECIFIC,
    identity=["serial"],
    source_ip="127.0.0.1",
    severity_number=4,
    level="warn",
    timestamp="x",
)


def rules(report: ScanReport) -> set[str]:
    return {f.rule_id for f in report.findings}


def test_accepted_invalid_certificate_is_e001_with_probe_severity():
    report = judge(facts(result("validity.expired", OutcomeKind.ACCEPTED, EvidenceStatus.LOGGED, GOOD)))
    e001 = [f for f in report.findings if f.rule_id == "MTLS-E001"]
    assert len(e001) == 1 and e001[0].severity.value == "high" and 298 in e001[0].cwe


def test_well_logged_rejection_has_no_findings():
    report = judge(facts(result("validity.expired", OutcomeKind.REJECTED_HANDSHAKE, EvidenceStatus.LOGGED, GOOD)))
    assert report.findings == [] and report.score == 100 and report.grade == "A" and report.coverage == 1.0


def test_each_missing_field_has_its_rule():
    bare = GradedFields()
    report = judge(facts(result("validity.expired", OutcomeKind.REJECTED_HTTP, EvidenceStatus.LOGGED, bare)))
    assert rules(report) == {"MTLS-L003", "MTLS-L004", "MTLS-L006"}
    info = GOOD.model_copy(update={"severity_number": 6, "level": "info"})
    report = judge(facts(result("validity.expired", OutcomeKind.REJECTED_HTTP, EvidenceStatus.LOGGED, info)))
    assert rules(report) == {"MTLS-L005"}


def test_not_logged_and_inconclusive():
    report = judge(facts(result("validity.expired", OutcomeKind.CLOSED_SILENTLY, EvidenceStatus.NOT_LOGGED)))
    assert rules(report) == {"MTLS-L001"} and report.coverage == 0.0
    ok = result("control.valid", OutcomeKind.ACCEPTED, EvidenceStatus.NOT_LOGGED, ok=True)
    assert rules(judge(facts(ok))) == {"MTLS-L002"}
    unknown = result("validity.expired", OutcomeKind.CLOSED_SILENTLY, EvidenceStatus.INCONCLUSIVE)
    assert judge(facts(unknown)).findings == []


def test_errors_never_count_as_secure_or_insecure():
    report = judge(facts(result("validity.expired", OutcomeKind.ERROR, EvidenceStatus.NOT_LOGGED)))
    assert report.findings == [] and report.coverage is None


def test_rejudging_stored_facts_is_deterministic():
    f = facts(result("validity.expired", OutcomeKind.REJECTED_HTTP, EvidenceStatus.LOGGED, GradedFields()))
    stored = ScanFacts.model_validate_json(f.model_dump_json())
    assert judge(stored).findings == judge(f).findings


def test_score_caps_per_rule_and_critical_caps_grade():
    report = judge(
        facts(
            *[
                result(p, OutcomeKind.CLOSED_SILENTLY, EvidenceStatus.NOT_LOGGED)
                for p in ("validity.expired", "chain.self-signed", "crypto.sha1", "crypto.weak-key")
            ]
        )
    )
    assert report.score == 62  # 4 × 15 for L001, capped at 2.5 × 15
    crit = judge(facts(result("chain.self-signed", OutcomeKind.ACCEPTED, EvidenceStatus.LOGGED, GOOD)))
    assert crit.grade == "D" and score(crit.findings)[0] == 70


def test_family_rules_for_key_exchange_revocation_and_secrets():
    # A raw hello the server agreed to is K001; a refused one that left no line is K002
    # (not L001), and without a certificate there is no identity to demand (no L003).
    accepted = result("kex.legacy-protocol", OutcomeKind.ACCEPTED, EvidenceStatus.NOT_LOGGED)
    refused = result("kex.no-shared-cipher", OutcomeKind.REJECTED_HANDSHAKE, EvidenceStatus.NOT_LOGGED)
    logged = result(
        "kex.fallback-scsv",
        OutcomeKind.REJECTED_HANDSHAKE,
        EvidenceStatus.LOGGED,
        GOOD.model_copy(update={"identity": []}),
    )
    report = judge(facts(accepted, refused, logged))
    by_rule = {f.rule_id: f for f in report.findings}
    assert set(by_rule) == {"MTLS-K001", "MTLS-K002"}
    assert by_rule["MTLS-K001"].severity.value == "medium"
    # A revoked certificate accepted is R001, critical (DESIGN §7): the grade is capped.
    revoked = result("revocation.revoked", OutcomeKind.ACCEPTED, EvidenceStatus.LOGGED, GOOD)
    report = judge(facts(revoked))
    assert [(f.rule_id, f.severity.value) for f in report.findings] == [("MTLS-R001", "critical")]
    assert report.grade in "DF"
    # A PEM body in a record is L009.
    leaky = GOOD.model_copy(update={"secret": True})
    report = judge(facts(result("validity.expired", OutcomeKind.REJECTED_HTTP, EvidenceStatus.LOGGED, leaky)))
    assert rules(report) == {"MTLS-L009"}
