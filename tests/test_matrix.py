"""The real-server matrix (issue: real-server matrix with ground truth).

Every variant in tests/matrix.py is started once, scanned once, and each attempt's
verdict (outcome, evidence status, match kind, graded fields) is compared with the
ground truth in tests/groundtruth/. The confusion table is printed at the end of the run.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path

import pytest

from matrix import BY_KEY, VARIANTS, compare, load_truth, scan
from mtlsaudit.models import MatchKind, OutcomeKind, ScanReport
from mtlsaudit.probes import catalogue
from servers import TestPki

SUMMARY: list[str] = []


@pytest.fixture(scope="session")
def matrix(pki: TestPki, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, ScanReport]]:
    reports: dict[str, ScanReport] = {}
    started = time.perf_counter()
    for variant in VARIANTS:
        server = variant.launch(pki, tmp_path_factory.mktemp(variant.key))
        try:
            reports[variant.key] = scan(server, pki, variant.key)
        finally:
            server.stop()
    SUMMARY.append(f"matrix: {len(VARIANTS)} variants started and scanned in {time.perf_counter() - started:.1f} s")
    yield reports


def confusion_table(rows: dict[str, list[tuple[str, list[str]]]]) -> str:
    per_target: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for key, results in rows.items():
        t = per_target[BY_KEY[key].target]
        t["variants"] += 1
        for _, problems in results:
            t["attempts"] += 1
            t["correct"] += not problems
            for aspect in ("outcome", "status", "match", "fields"):
                t[aspect] += not any(p.startswith(aspect) for p in problems)
    head = (
        f"{'target':<9}{'variants':>9}{'attempts':>9}{'outcome':>9}{'status':>8}{'match':>7}{'fields':>8}"
        f"{'accuracy':>10}"
    )
    lines = [head, "-" * len(head)]
    for target, t in per_target.items():
        n = t["attempts"] or 1
        lines.append(
            f"{target:<9}{t['variants']:>9}{t['attempts']:>9}{t['outcome']:>9}{t['status']:>8}{t['match']:>7}"
            f"{t['fields']:>8}{100 * t['correct'] / n:>9.1f}%"
        )
    return "\n".join(lines)


def test_every_verdict_matches_the_ground_truth(matrix: dict[str, ScanReport]) -> None:
    rows = {key: compare(report, load_truth(key)) for key, report in matrix.items()}
    SUMMARY.append("verdict accuracy per target (attempts whose outcome, status, match and fields agree):")
    SUMMARY.append(confusion_table(rows))
    wrong = [f"{key} {attempt}: {'; '.join(p)}" for key, results in rows.items() for attempt, p in results if p]
    assert not wrong, "\n".join(wrong)


def test_every_variant_has_ground_truth_for_every_probe() -> None:
    files = {p.stem for p in (Path(__file__).parent / "groundtruth").glob("*.toml")}
    assert files == set(BY_KEY)


def _rules(report: ScanReport) -> dict[str, set[str]]:
    out: dict[str, set[str]] = defaultdict(set)
    for f in report.findings:
        out[f.rule_id].add(f.attempt_id or "")
    return out


CERTIFICATE_FAMILIES = {"control", "chain", "validity", "usage", "crypto", "inject", "identity", "lifecycle"}


@pytest.mark.parametrize("key", [v.key for v in VARIANTS if v.remediation and not v.crl])
def test_remediation_clears_the_logging_findings(matrix: dict[str, ScanReport], key: str) -> None:
    # Given the stock server with `mtlsaudit remediate <server>` applied, when scanned with
    # the certificate probes, then no rejection is unlogged, unidentified or unexplained,
    # and (except where the server cannot do it, below) every failure is logged at WARN or
    # above. (Raw-hello and revocation probes are judged by the ground truth.)
    report = matrix[key]
    certificate_attempts = {a.attempt_id for a in report.attempts if a.probe_id.split(".")[0] in CERTIFICATE_FAMILIES}
    rules = {r: ids & certificate_attempts for r, ids in _rules(report).items() if ids & certificate_attempts}
    assert not rules.keys() & {"MTLS-L001", "MTLS-L003", "MTLS-L004"}, {r: rules[r] for r in rules}
    if key == "apache-remediated":
        # mod_ssl writes the certificate details (AH02276) only at info: a documented limit.
        assert "MTLS-L005" in rules
    else:
        assert "MTLS-L005" not in rules
    every = [a for a in report.attempts if a.attempt_id in certificate_attempts]
    assert all(a.evidence.status.value == "logged" for a in every)


@pytest.mark.parametrize(
    ("key", "unlogged"),
    [("node-article", True), ("python-stdlib", True), ("python-uvicorn", True), ("nginx-default", False)],
)
def test_stock_servers_that_swallow_rejections_are_reported(
    matrix: dict[str, ScanReport], key: str, unlogged: bool
) -> None:
    report = matrix[key]
    bad = [
        a
        for a in report.attempts
        if a.outcome.kind.is_rejection and a.probe_id.split(".")[0] in CERTIFICATE_FAMILIES - {"control"}
    ]
    assert bad
    flagged = {a.attempt_id for a in bad} <= _rules(report)["MTLS-L001"]
    assert flagged is unlogged


def test_real_enforcement_defects_are_reported(matrix: dict[str, ScanReport]) -> None:
    # Go's crypto/x509 and Node's bundled OpenSSL (security level 1) accept a client
    # certificate with a 1024-bit RSA key; the OpenSSL-3 servers at Debian's level 2 refuse it.
    for key, accepts in (
        ("go-default", True),
        ("node-article", True),
        ("nginx-default", False),
        ("apache-default", False),
    ):
        weak = [a for a in matrix[key].attempts if a.probe_id == "crypto.weak-key"]
        assert weak and all((a.outcome.kind is OutcomeKind.ACCEPTED) is accepts for a in weak), key
        assert ({a.attempt_id for a in weak} <= _rules(matrix[key])["MTLS-E001"]) is accepts


def test_key_exchange_and_revocation_defects_are_reported(matrix: dict[str, ScanReport]) -> None:
    # Go 1.19 completes TLS 1.0 and 1.1 handshakes (K001) and, without a CRL check of its
    # own, accepts a revoked certificate (R001); the OpenSSL-based servers refuse both
    # once they are given the CRL. Every server answers a fallback hello with
    # inappropriate_fallback.
    go = _rules(matrix["go-default"])
    assert go["MTLS-K001"] == {"kex.legacy-protocol@tls10", "kex.legacy-protocol@tls11"}
    assert go["MTLS-R001"] == {"revocation.revoked@t13", "revocation.revoked@t12"}
    for key in ("nginx-crl", "haproxy-crl", "apache-crl", "node-crl", "go-crl", "python-crl"):
        rules = _rules(matrix[key])
        assert "MTLS-R001" not in rules and "MTLS-K001" not in rules, (key, rules.keys())
        revoked = [a for a in matrix[key].attempts if a.probe_id == "revocation.revoked"]
        assert revoked and all(a.outcome.kind.is_rejection for a in revoked), key
    for key, report in matrix.items():
        fallback = [a for a in report.attempts if a.probe_id == "kex.fallback-scsv"]
        if key in ("python-uvicorn", "python-hypercorn"):
            # asyncio's SSL transport closes without flushing the alert OpenSSL produced.
            assert [a.outcome.kind for a in fallback] == [OutcomeKind.CLOSED_SILENTLY]
        else:
            assert [a.outcome.alert for a in fallback] == ["inappropriate_fallback"], key
    # nginx with `ssl_ocsp leaf` asked the scanner's OCSP responder about client certificates.
    fetches = matrix["nginx-crl"].revocation_fetches
    assert fetches and {f.kind for f in fetches} == {"ocsp"}
    assert not matrix["haproxy-crl"].revocation_fetches


@pytest.mark.parametrize(
    ("stock", "guarded"),
    [
        ("python-uvicorn", "python-uvicorn-guard"),
        ("python-hypercorn", "python-hypercorn-guard"),
        ("python-stdlib", "python-remediated"),
    ],
)
def test_guard_turns_a_silent_python_server_into_a_clean_scan(
    matrix: dict[str, ScanReport], stock: str, guarded: str
) -> None:
    # Without the guard: rejections vanish (L001) and successes carry no identity (L003).
    before = _rules(matrix[stock])
    assert {"MTLS-L001", "MTLS-L003"} <= before.keys()
    # With it: no logging finding at all; every attempt that presented a certificate is
    # tied to its line by an exact marker; injected subjects forge nothing.
    report = matrix[guarded]
    assert not [f.rule_id for f in report.findings if f.rule_id.startswith("MTLS-L")]
    for a in report.attempts:
        meta = {p.id: p.meta for p in catalogue()}[a.probe_id]
        if meta.presents_certificate:
            assert MatchKind.EXACT in {r.match for r in a.evidence.records}, a.attempt_id
        assert not any(r.fields.injection for r in a.evidence.records), a.attempt_id
