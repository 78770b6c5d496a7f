"""Rules (DESIGN §7): pure functions from stored scan facts to findings, plus the score.

Nothing here touches the network or the clock, so a stored scan can be re-judged when a
rule changes, and every rule is unit-testable from hand-written facts.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from functools import cache

from mtlsaudit.correlate.fields import WARN
from mtlsaudit.judge.remediation import PROBE_REMEDIATION, RULE_REMEDIATION
from mtlsaudit.models import (
    AttemptResult,
    EvidenceStatus,
    Finding,
    OutcomeKind,
    ReasonQuality,
    ScanFacts,
    ScanReport,
    Severity,
)
from mtlsaudit.probes import ProbeMeta, catalogue

SCHEMA_VERSION = "1.1"

Rule = Callable[[ScanFacts], Iterator[Finding]]
RULES: list[Rule] = []


def rule(fn: Rule) -> Rule:
    RULES.append(fn)
    return fn


@cache
def _metas() -> dict[str, ProbeMeta]:
    return {p.id: p.meta for p in catalogue()}


def _probe_meta(probe_id: str) -> ProbeMeta | None:
    return _metas().get(probe_id)


def _finding(
    facts: ScanFacts,
    rule_id: str,
    severity: Severity,
    cwe: list[int],
    title: str,
    detail: str,
    attempt: AttemptResult | None = None,
    remediation: str | None = None,
) -> Finding:
    t = facts.target
    key = "|".join(
        [
            rule_id,
            t.host,
            str(t.port),
            t.sni or "",
            attempt.probe_id if attempt else "",
            attempt.attempt_id if attempt else "",
        ]
    )
    return Finding(
        finding_id=hashlib.sha256(key.encode()).hexdigest()[:16],
        rule_id=rule_id,
        severity=severity,
        probe_id=attempt.probe_id if attempt else None,
        tls_version=attempt.tls_version if attempt else None,
        attempt_id=attempt.attempt_id if attempt else None,
        cwe=cwe,
        title=title,
        detail=detail,
        remediation=remediation or RULE_REMEDIATION.get(rule_id, ""),
    )


def _logged(a: AttemptResult) -> bool:
    return a.evidence.status in (EvidenceStatus.LOGGED, EvidenceStatus.LOGGED_LATE)


def _rejected(a: AttemptResult) -> bool:
    return a.outcome.kind.is_rejection


def _judgeable(a: AttemptResult) -> bool:
    return a.evidence.status is not EvidenceStatus.INCONCLUSIVE


#: Probe families whose acceptance has its own rule id (DESIGN §7 and the kex/revocation issue).
_ACCEPT_RULE = {"kex": "MTLS-K001", "revocation": "MTLS-R001"}


def _family(a: AttemptResult) -> str:
    meta = _probe_meta(a.probe_id)
    return meta.family if meta else a.probe_id.split(".", 1)[0]


def _presents_certificate(a: AttemptResult) -> bool:
    meta = _probe_meta(a.probe_id)
    return meta is None or meta.presents_certificate


@rule
def invalid_accepted(facts: ScanFacts) -> Iterator[Finding]:
    """MTLS-E001 (K001 for key exchange, R001 for revocation): an invalid attempt was accepted."""
    for a in facts.attempts:
        if a.outcome.kind is OutcomeKind.ACCEPTED and not a.expects_acceptance:
            rule_id = _ACCEPT_RULE.get(_family(a), "MTLS-E001")
            meta = _probe_meta(a.probe_id)
            # A stored scan may name a probe this version no longer has: judge it generically.
            severity = meta.severity if meta else Severity.HIGH
            cwe = list(meta.cwe) if meta else [295]
            rem = PROBE_REMEDIATION.get(meta.remediation, "") if meta else ""
            title = meta.title if meta else a.probe_id
            sent = a.subject or ("a raw ClientHello" if _family(a) == "kex" else "no certificate")
            yield _finding(
                facts,
                rule_id,
                severity,
                cwe,
                f"Accepted: {a.probe_id} ({a.tls_version.value})",
                f"Expected: {title}. The server answered {a.outcome} to {sent}.",
                a,
                rem,
            )


@rule
def rejection_not_logged(facts: ScanFacts) -> Iterator[Finding]:
    """MTLS-L001 (K002 for key exchange): a rejected attempt left no log record."""
    for a in facts.attempts:
        if _rejected(a) and a.evidence.status is EvidenceStatus.NOT_LOGGED:
            kex = _family(a) == "kex"
            yield _finding(
                facts,
                "MTLS-K002" if kex else "MTLS-L001",
                Severity.MEDIUM if kex else Severity.HIGH,
                [778],
                f"{'Handshake refusal' if kex else 'Rejection'} not logged: {a.probe_id} ({a.tls_version.value})",
                f"The server rejected the attempt ({a.outcome}) but no source recorded it.",
                a,
            )


@rule
def success_not_logged(facts: ScanFacts) -> Iterator[Finding]:
    """MTLS-L002: a successful mTLS authentication left no log record."""
    for a in facts.attempts:
        if (
            a.expects_acceptance
            and a.outcome.kind is OutcomeKind.ACCEPTED
            and (a.evidence.status is EvidenceStatus.NOT_LOGGED)
        ):
            yield _finding(
                facts,
                "MTLS-L002",
                Severity.MEDIUM,
                [778],
                f"Successful authentication not logged: {a.probe_id} ({a.tls_version.value})",
                "A valid client certificate was accepted and no source recorded the connection.",
                a,
            )


def _has_identity(a: AttemptResult) -> bool:
    return any(r.fields.identity for r in a.evidence.records)


@rule
def no_identity(facts: ScanFacts) -> Iterator[Finding]:
    """MTLS-L003: logged, but no record names the client certificate."""
    for a in facts.attempts:
        if not _presents_certificate(a) or not _logged(a):
            continue
        if not (_rejected(a) or a.outcome.kind is OutcomeKind.ACCEPTED):
            continue
        if not _has_identity(a):
            yield _finding(
                facts,
                "MTLS-L003",
                Severity.MEDIUM,
                [223],
                f"Logged without client identity: {a.probe_id} ({a.tls_version.value})",
                f"{len(a.evidence.records)} record(s) found, none with the certificate's subject, "
                "serial or fingerprint.",
                a,
            )


_QUALITY_RANK = {
    ReasonQuality.SPECIFIC: 3,
    ReasonQuality.CONTRADICTING: 2,
    ReasonQuality.GENERIC: 1,
    ReasonQuality.NONE: 0,
}


@rule
def no_reason(facts: ScanFacts) -> Iterator[Finding]:
    """MTLS-L004: a logged rejection without a reason, or with the wrong one."""
    for a in facts.attempts:
        if not (_rejected(a) and _logged(a)) or a.expects_acceptance:
            continue
        best = max(
            (r.fields.reason_quality for r in a.evidence.records),
            key=lambda q: _QUALITY_RANK[q],
            default=ReasonQuality.NONE,
        )
        if best is ReasonQuality.SPECIFIC:
            continue
        said = next((r.fields.reason for r in a.evidence.records if r.fields.reason), None)
        why = {
            ReasonQuality.NONE: "no record says why the attempt failed",
            ReasonQuality.GENERIC: f"the records only say it failed ({said!r}), not why",
            ReasonQuality.CONTRADICTING: f"the stated reason ({said!r}) names a different defect",
        }[best]
        expected = ", ".join(a.expected_reasons) or "the defect"
        yield _finding(
            facts,
            "MTLS-L004",
            Severity.MEDIUM,
            [223],
            f"Logged without the right reason: {a.probe_id} ({a.tls_version.value})",
            f"{why}; expected wording for: {expected}.",
            a,
        )


@rule
def low_severity(facts: ScanFacts) -> Iterator[Finding]:
    """MTLS-L005: a rejection logged only below WARN (when the records state a level)."""
    for a in facts.attempts:
        if not (_rejected(a) and _logged(a)) or a.expects_acceptance:
            continue
        levels = [r.fields.severity_number for r in a.evidence.records if r.fields.severity_number is not None]
        if levels and min(levels) > WARN:
            names = sorted({r.fields.level or "" for r in a.evidence.records if r.fields.level})
            yield _finding(
                facts,
                "MTLS-L005",
                Severity.MEDIUM,
                [778],
                f"Failure logged below WARN: {a.probe_id} ({a.tls_version.value})",
                f"Highest level among the records: {', '.join(names)}.",
                a,
            )


@rule
def no_source(facts: ScanFacts) -> Iterator[Finding]:
    """MTLS-L006: logged without the client's address."""
    for a in facts.attempts:
        if _logged(a) and not any(r.fields.source_ip for r in a.evidence.records):
            yield _finding(
                facts,
                "MTLS-L006",
                Severity.LOW,
                [223],
                f"Logged without source address: {a.probe_id} ({a.tls_version.value})",
                "No record names the client's IP address.",
                a,
            )


@rule
def rotation_untraceable(facts: ScanFacts) -> Iterator[Finding]:
    """MTLS-L007: two generations of one identity cannot be told apart in the log."""
    for a in facts.attempts:
        if a.probe_id not in ("lifecycle.rotation", "identity.impersonation") or not _logged(a):
            continue
        strong = {k for r in a.evidence.records for k in r.fields.identity} & {
            "serial",
            "sha256",
            "sha1",
        }
        if not strong:
            yield _finding(
                facts,
                "MTLS-L007",
                Severity.MEDIUM,
                [223],
                f"Certificate generations not traceable: {a.attempt_id}",
                "Records identify the client only by name; a rotated or copied certificate with "
                "the same subject is indistinguishable.",
                a,
            )


@rule
def log_injection(facts: ScanFacts) -> Iterator[Finding]:
    """MTLS-L008: a certificate field forged a record or wrote raw control characters."""
    for a in facts.attempts:
        for r in a.evidence.records:
            if r.fields.injection:
                yield _finding(
                    facts,
                    "MTLS-L008",
                    Severity.HIGH,
                    [117],
                    f"Log injection through a certificate field: {a.probe_id} ({a.tls_version.value})",
                    f"{r.fields.injection} ({r.source}).",
                    a,
                )
                break


@rule
def secrets_in_logs(facts: ScanFacts) -> Iterator[Finding]:
    """MTLS-L009: a record carries a PEM body or a private key (CWE-532)."""
    records = [(a, r) for a in facts.attempts for r in a.evidence.records] + [(None, r) for r in facts.unattributed]
    for attempt, r in records:
        if r.fields.secret:
            where = f"{attempt.probe_id} ({attempt.tls_version.value})" if attempt else "an unattributed line"
            yield _finding(
                facts,
                "MTLS-L009",
                Severity.MEDIUM,
                [532],
                f"Certificate or key material in the log: {where}",
                f"A record in {r.source} contains a PEM body or a private key; log fingerprints, not PEM.",
                attempt,
            )
            if attempt is None:
                break  # one finding for the unattributed lines is enough


_WEIGHT = {
    Severity.CRITICAL: 30.0,
    Severity.HIGH: 15.0,
    Severity.MEDIUM: 6.0,
    Severity.LOW: 2.0,
    Severity.INFO: 0.0,
}
#: One rule can cost at most this many times its weight, however many attempts it hits.
_RULE_CAP = 2.5


def score(findings: list[Finding]) -> tuple[int, str]:
    """0–100 and A–F: each finding costs its severity's weight, capped per rule and severity."""
    spent: dict[tuple[str, Severity], float] = {}
    for f in findings:
        key = (f.rule_id, f.severity)
        spent[key] = min(spent.get(key, 0.0) + _WEIGHT[f.severity], _WEIGHT[f.severity] * _RULE_CAP)
    value = max(0, round(100 - sum(spent.values())))
    grade = "A" if value >= 90 else "B" if value >= 80 else "C" if value >= 70 else "D" if value >= 60 else "F"
    if any(f.severity is Severity.CRITICAL for f in findings) and grade in "ABC":
        grade = "D"
    return value, grade


def coverage(facts: ScanFacts) -> float | None:
    """Logged attempts / attempts that should be logged (rejections and valid successes)."""
    due = [
        a
        for a in facts.attempts
        if _judgeable(a) and (_rejected(a) or (a.expects_acceptance and a.outcome.kind is OutcomeKind.ACCEPTED))
    ]
    if not due:
        return None
    return round(sum(1 for a in due if _logged(a)) / len(due), 4)


def _scan_notes(facts: ScanFacts) -> list[str]:
    notes = list(facts.notes)
    controls = [a for a in facts.attempts if a.probe_id == "control.valid"]
    for a in controls:
        if a.outcome.kind is OutcomeKind.MISDIRECTED or a.outcome.http_status == 400:
            notes.append(
                f"the valid control got HTTP {a.outcome.http_status} at {a.tls_version.value}: the "
                "server may apply client auth per virtual host; check --sni (now "
                f"{facts.target.sni or 'none'}) before trusting enforcement verdicts"
            )
        elif a.outcome.kind is not OutcomeKind.ACCEPTED:
            notes.append(
                f"the valid control was not accepted at {a.tls_version.value} ({a.outcome}): "
                "check the trust material; rejections of other probes prove little"
            )
    return notes


def judge(facts: ScanFacts) -> ScanReport:
    """Apply every rule; return the report (facts + findings + score)."""
    findings = [f for r in RULES for f in r(facts)]
    value, grade = score(findings)
    data = facts.model_dump()
    data["notes"] = _scan_notes(facts)
    return ScanReport(
        **data,
        schema_version=SCHEMA_VERSION,
        score=value,
        grade=grade,
        coverage=coverage(facts),
        findings=findings,
    )
