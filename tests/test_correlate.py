"""Correlation and grading on real servers' line shapes (from shared/research/real_servers.md)."""

from __future__ import annotations

import datetime as dt

import pytest

from mtlsaudit.correlate import correlate
from mtlsaudit.correlate import fields as F
from mtlsaudit.correlate.reasons import grade_reason
from mtlsaudit.models import (
    Attempt,
    EvidenceStatus,
    LogRecord,
    Markers,
    MatchKind,
    Outcome,
    OutcomeKind,
    ReasonQuality,
    TlsVersion,
)

T0 = dt.datetime(2026, 12, 3, 15, 37, 49, 100000, tzinfo=dt.UTC)


def attempt(
    n: int,
    probe: str,
    port: int,
    reasons: list[str],
    *,
    start: dt.datetime = T0,
    cn: str | None = None,
    serial: str | None = None,
    ok: bool = False,
    token: str | None = None,
) -> Attempt:
    return Attempt(
        attempt_id=f"{probe}@t13",
        probe_id=probe,
        tls_version=TlsVersion.TLS1_3,
        started_at=start + dt.timedelta(milliseconds=10 * n),
        ended_at=start + dt.timedelta(milliseconds=10 * n + 5),
        local_ip="127.0.0.1",
        local_port=port,
        outcome=Outcome(kind=OutcomeKind.ACCEPTED if ok else OutcomeKind.REJECTED_HANDSHAKE, alert="x"),
        markers=Markers(
            common_names=[cn] if cn else [],
            serials_hex=[serial] if serial else [],
            http_path=f"/.well-known/mtlsaudit/s1/{probe}/t13",
            forged_token=token,
        ),
        expects_acceptance=ok,
        expected_reasons=reasons,
    )


def rec(line: str, at: dt.datetime = T0) -> LogRecord:
    return LogRecord(source="file:/x.log", line=line, seen_at=at)


@pytest.mark.parametrize(
    ("line", "expected", "quality"),
    [
        # Apache: numeric code and text.
        (
            "[ssl:error] [client 127.0.0.1:47390] AH02039: Certificate Verification: "
            "Error (10): certificate has expired",
            ("expired",),
            ReasonQuality.SPECIFIC,
        ),
        # HAProxy error-log-format: only the numeric X509 code.
        ('fe_mtls/<NOSRV> PR-- "<BADREQ>" verify=- c_err=10 ca_err=0 used=1', ("expired",), ReasonQuality.SPECIFIC),
        # HAProxy default: the same generic words for every defect.
        (
            "127.0.0.1:38256 [03/Dec/2026:15:38:04.236] fe_mtls/1: SSL client certificate not trusted",
            ("expired",),
            ReasonQuality.GENERIC,
        ),
        # nginx with CRL checks reports a self-signed leaf as a CRL problem: contradicting.
        (
            "client SSL certificate verify error: (3:unable to get certificate CRL)",
            ("untrusted",),
            ReasonQuality.CONTRADICTING,
        ),
        # Go's bad-signature and not-a-CA wording, inside "signed by unknown authority".
        (
            'x509: certificate signed by unknown authority (possibly because of "x509: ECDSA verification '
            'failure" while trying to verify candidate authority certificate "x")',
            ("bad-signature",),
            ReasonQuality.SPECIFIC,
        ),
        (
            'x509: certificate signed by unknown authority (possibly because of "x509: invalid signature: '
            'parent certificate cannot sign this kind of certificate")',
            ("not-a-ca",),
            ReasonQuality.SPECIFIC,
        ),
        # Node's authorizationError codes use underscores.
        ('{"event.reason":"DEPTH_ZERO_SELF_SIGNED_CERT"}', ("untrusted",), ReasonQuality.SPECIFIC),
        # HAProxy's words for any error below the leaf.
        ("fe_mtls/1: SSL client CA chain cannot be verified", ("not-a-ca",), ReasonQuality.GENERIC),
        (
            "client SSL certificate verify error: (10:certificate has expired)",
            ("untrusted",),
            ReasonQuality.CONTRADICTING,
        ),
        # Go words both date defects alike.
        (
            "http: TLS handshake error from 127.0.0.1:60720: tls: failed to verify client certificate: x509: "
            "certificate has expired or is not yet valid",
            ("not-yet-valid",),
            ReasonQuality.SPECIFIC,
        ),
        # Node codes.
        ("mtls-reject 127.0.0.1:54170 reason=CERT_HAS_EXPIRED CN=probe", ("expired",), ReasonQuality.SPECIFIC),
        (
            '127.0.0.1 - - [03/Dec/2026:15:37:34 +0000] "GET /mtlslab HTTP/1.1" 400 215 "-" "curl"',
            ("expired",),
            ReasonQuality.NONE,
        ),
        # The scanner's own path names the probe: it must not count as the server's reason.
        ('"GET /.well-known/mtlsaudit/s1/chain.self-signed/t13 HTTP/1.1" 400', ("untrusted",), ReasonQuality.NONE),
    ],
)
def test_reason_vocabulary(line, expected, quality):
    assert grade_reason(line, expected) is quality


@pytest.mark.parametrize(
    ("line", "level", "number"),
    [
        ("2026/12/03 15:37:49 [info] 10992#10992: *3 client SSL certificate verify error", "info", 6),
        ("[Thu Dec 03 15:39:02.675763 2026] [ssl:error] [pid 1] [client 127.0.0.1:47390] AH02039", "error", 3),
        (
            "<134>Dec  3 15:38:04 localhost haproxy[11036]: 127.0.0.1:38256 fe_mtls/1: SSL handshake failure",
            "syslog-6",
            6,
        ),
        ('{"level":"warn","ts":1796312455.97,"msg":"x"}', "warn", 4),
        ('{"log":{"level":"WARNING"},"@timestamp":"2026-12-03T15:37:49.123Z"}', "warning", 4),
        ("2026.12.03 15:39:42 LOG4[12]: CERT: Pre-verification error: certificate has expired", "LOG4", 4),
    ],
)
def test_levels(line, level, number):
    assert F.parse_level(F.parse_line(line)) == (level, number)


@pytest.mark.parametrize(
    ("line", "resolution", "zone"),
    [
        ("2026-12-03T15:37:49+00:00 127.0.0.1:58178", 1.0, True),
        ("2026/12/03 15:37:49 [info] x", 1.0, False),
        ("[Thu Dec 03 15:39:02.675763 2026] [ssl:error]", 1e-6, False),
        ("127.0.0.1:38256 [03/Dec/2026:15:38:04.236] fe_mtls/1", 1e-3, False),
        ('127.0.0.1 - - [03/Dec/2026:15:37:34 +0000] "GET / HTTP/1.1"', 1.0, True),
        ('{"ts":1796312455.9737015}', 1e-7, True),
    ],
)
def test_timestamps(line, resolution, zone):
    stamp = F.parse_timestamp(F.parse_line(line))
    assert stamp is not None
    assert stamp.resolution == pytest.approx(resolution)
    assert stamp.has_zone is zone


def test_exact_endpoint_reason_time_and_unattributed():
    a_exp = attempt(
        0,
        "validity.expired",
        40001,
        ["expired"],
        cn="mtlsaudit-s1-validity.expired-t13",
        serial="7F5ED4636AB5FFD50AEB98039B0A3CC0F65D9F83",
    )
    a_rev = attempt(1, "chain.self-signed", 40002, ["untrusted"])
    a_eku = attempt(2, "usage.server-auth-eku", 40003, ["purpose"])
    records = [
        # exact, by serial in colon form
        rec("serial=7F:5E:D4:63:6A:B5:FF:D5:0A:EB:98:03:9B:0A:3C:C0:F6:5D:9F:83 verify=FAILED"),
        # endpoint: HAProxy style ip:port with generic text
        rec(
            "<134>Dec  3 15:38:04 h haproxy[1]: 127.0.0.1:40002 [03/Dec/2026:15:38:04.236] fe/1: SSL handshake failure"
        ),
        # reason+time: only the eku attempt expects a purpose reason in this second
        rec("2026-12-03T15:37:49Z error: unsupported certificate purpose"),
        # unrelated line, overlapping all three attempts: stays unattributed
        rec("2026-12-03T15:37:49Z worker heartbeat"),
    ]
    results, unattributed = correlate(
        [a_exp, a_rev, a_eku], records, have_sources=True, settle=dt.timedelta(seconds=1), target_port=8443
    )
    by_id = {r.probe_id: r for r in results}
    assert [r.match for r in by_id["validity.expired"].evidence.records] == [MatchKind.EXACT]
    assert by_id["validity.expired"].evidence.records[0].fields.identity == ["serial"]
    ep = by_id["chain.self-signed"].evidence.records[0]
    assert ep.match is MatchKind.ENDPOINT and ep.fields.source_port == 40002 and ep.fields.severity_number == 6
    assert [r.match for r in by_id["usage.server-auth-eku"].evidence.records] == [MatchKind.REASON_TIME]
    assert [u.line for u in unattributed] == ["2026-12-03T15:37:49Z worker heartbeat"]


def test_time_match_only_for_an_isolated_slot():
    a1 = attempt(0, "chain.self-signed", 40010, ["untrusted"], start=T0)
    a2 = attempt(0, "chain.untrusted-root", 40011, ["untrusted"], start=T0 + dt.timedelta(seconds=5))
    line = rec("2026-12-03T15:37:54.105Z handshake rejected")
    results, unattributed = correlate([a1, a2], [line], have_sources=True, settle=dt.timedelta(seconds=1))
    assert [r.match for r in results[1].evidence.records] == [MatchKind.TIME]
    assert results[0].evidence.status is EvidenceStatus.NOT_LOGGED and not unattributed


def test_injection_is_detected_when_the_forged_line_stands_alone():
    token = "mtlsaudit-forged-s1-t13"
    cn = "mtlsaudit-s1-inject.crlf-subject-t13"
    a = attempt(0, "inject.crlf-subject", 40020, [], cn=cn, ok=True, token=token)
    raw = [rec(f"accepted CN={cn},OU=x\r"), rec(f"2026-12-03T15:37:49Z INFO {token} client certificate verified")]
    escaped = [rec(f'{{"subject":"CN={cn},OU=x\\r\\n2026 INFO {token} verified"}}')]
    bad, _ = correlate([a], raw, have_sources=True, settle=dt.timedelta(seconds=1))
    good, _ = correlate([a], escaped, have_sources=True, settle=dt.timedelta(seconds=1))
    assert any(r.fields.injection for r in bad[0].evidence.records)
    assert not any(r.fields.injection for r in good[0].evidence.records)


def test_late_records_and_no_sources():
    a = attempt(0, "validity.expired", 40030, ["expired"], cn="mtlsaudit-s1-validity.expired-t13")
    late = rec("mtlsaudit-s1-validity.expired-t13 expired", at=a.ended_at + dt.timedelta(seconds=3))
    results, _ = correlate([a], [late], have_sources=True, settle=dt.timedelta(seconds=1))
    assert results[0].evidence.status is EvidenceStatus.LOGGED_LATE
    results, _ = correlate([a], [], have_sources=False, settle=dt.timedelta(seconds=1))
    assert results[0].evidence.status is EvidenceStatus.INCONCLUSIVE


def test_marker_must_end_at_a_word_boundary():
    a13 = attempt(0, "chain.self-signed", 40040, ["untrusted"], cn="mtlsaudit-s1-x-t1")
    results, _ = correlate(
        [a13], [rec("CN=mtlsaudit-s1-x-t13 rejected")], have_sources=True, settle=dt.timedelta(seconds=1)
    )
    assert results[0].evidence.records == [] or results[0].evidence.records[0].match is not MatchKind.EXACT


@pytest.mark.parametrize(
    ("line", "endpoint"),
    [
        # ECS keys, as written by the remediated Node server (port as a JSON number).
        ('{"source.address":"127.0.0.1","source.port":36592,"log.level":"warn"}', ("127.0.0.1", 36592)),
        # Python's repr of a socket address (socketserver.handle_error).
        ("Exception occurred during processing of request from ('127.0.0.1', 53412)", ("127.0.0.1", 53412)),
        ("[client 127.0.0.1:47390] AH02039", ("127.0.0.1", 47390)),
    ],
)
def test_endpoints(line, endpoint):
    assert F.find_endpoints(F.parse_line(line))[0] == endpoint


def test_undecided_attempts_are_those_a_slot_line_might_explain():
    from mtlsaudit.scan import undecided_attempts

    # Two back-to-back no-cert attempts; Apache's "peer did not return a certificate" line
    # has no client address and falls in both slots (±50 ms), so neither can claim it.
    a1 = attempt(0, "control.no-cert", 40050, ["no-cert"])
    a2 = attempt(1, "control.no-cert", 40051, ["no-cert"])
    a3 = attempt(0, "validity.expired", 40052, ["expired"], start=T0 + dt.timedelta(seconds=30))
    line = rec(
        "[Thu Dec 03 15:37:49.112000 2026] [ssl:info] [pid 1:tid 2] SSL Library Error: "
        "error:0A0000C7:SSL routines::peer did not return a certificate"
    )
    results, unattributed = correlate([a1, a2, a3], [line], have_sources=True, settle=dt.timedelta(seconds=1))
    assert [u.line for u in unattributed] == [line.line]
    undecided, resolution = undecided_attempts(results, unattributed)
    assert undecided == [0, 1] and resolution == pytest.approx(1e-6)
