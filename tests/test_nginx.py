"""Scans of real nginx at Debian-default logging and with `mtlsaudit remediate nginx` applied."""

from __future__ import annotations

from matrix import scan
from mtlsaudit.models import EvidenceStatus, MatchKind, OutcomeKind, ScanReport
from mtlsaudit.scan import ScanOptions
from servers import RunningServer, TestPki

# The certificate probes; raw hellos, garbage DER and revocation are judged in the matrix.
CERTIFICATE_PROBES = "control.*,chain.*,validity.*,usage.*,crypto.*,inject.*,identity.*,lifecycle.*"
FAST = ScanOptions(probes=CERTIFICATE_PROBES, settle=0.3, late=0.3, timeout=5)


def scan_nginx(server: RunningServer, pki: TestPki, name: str) -> ScanReport:
    return scan(server, pki, name, FAST)


def rules_for(report: ScanReport, attempt_id: str) -> set[str]:
    return {f.rule_id for f in report.findings if f.attempt_id == attempt_id}


def test_default_nginx_logs_a_bare_400_without_reason_or_identity(nginx_default, pki):
    report = scan_nginx(nginx_default, pki, "nginx-default")
    invalid = [a for a in report.attempts if not a.expects_acceptance]
    assert len(invalid) >= 20
    for a in invalid:
        # Given nginx's ssl_verify_client on, when a bad certificate is sent,
        # then nginx completes the handshake and answers HTTP 400 (TLS 1.2 and 1.3 alike).
        assert a.outcome.kind is OutcomeKind.REJECTED_HTTP, (a.attempt_id, a.outcome)
        assert a.outcome.http_status == 400
        # The access log's "400" line is found by the marked request path: logged, not missing.
        assert a.evidence.status is EvidenceStatus.LOGGED, a.attempt_id
        assert {r.match for r in a.evidence.records} == {MatchKind.EXACT}
        rules = rules_for(report, a.attempt_id)
        assert "MTLS-L001" not in rules
        assert "MTLS-L004" in rules, a.attempt_id
        if a.probe_id != "control.no-cert":
            assert "MTLS-L003" in rules, a.attempt_id
    # The forged issuer copies the CA name nginx advertises in its CertificateRequest.
    forged = next(a for a in report.attempts if a.probe_id == "chain.forged-issuer")
    assert "CertificateRequest" in (forged.note or "")
    valid = [a for a in report.attempts if a.probe_id == "control.valid"]
    assert valid and all(a.outcome.kind is OutcomeKind.ACCEPTED for a in valid)
    assert not [f for f in report.findings if f.rule_id == "MTLS-E001"]
    assert report.grade in "CDF"


def test_hardened_nginx_is_attributed_exactly_with_reason_and_identity(nginx_hardened, pki):
    report = scan_nginx(nginx_hardened, pki, "nginx-hardened")
    for a in report.attempts:
        assert a.evidence.status is EvidenceStatus.LOGGED, a.attempt_id
        assert all(r.match is MatchKind.EXACT for r in a.evidence.records), a.attempt_id
        rules = rules_for(report, a.attempt_id)
        assert not rules & {"MTLS-L001", "MTLS-L002", "MTLS-L003", "MTLS-L004", "MTLS-L006"}, (
            a.attempt_id,
            rules,
            [r.line for r in a.evidence.records],
        )
    expired = next(a for a in report.attempts if a.attempt_id == "validity.expired@t13")
    assert any("certificate has expired" in r.line for r in expired.evidence.records)
    # nginx writes the verify reason at [info] only; the remediation's JSON access line
    # states "warn" for every failed or missing certificate, so no L005 is left.
    assert not any(f.rule_id == "MTLS-L005" for f in report.findings)
    assert any('"log.level":"warn"' in r.line for r in expired.evidence.records)
    assert report.coverage == 1.0
