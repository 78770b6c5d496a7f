"""mtlsaudit.guard units: the JSON formatter's escaping and the flood limiter's counts.
(A guarded server scanned end to end is the python-remediated variant of the matrix.)"""

from __future__ import annotations

import io
import json
import logging

from mtlsaudit.guard import AuditLog, EcsJsonFormatter, RateLimiter


def test_formatter_escapes_attacker_controlled_fields():
    subject = "CN=x\r\n2026-12-03T00:00:00Z INFO forged\x1b[2J\u202eevil"
    record = logging.LogRecord("mtlsaudit.guard", logging.WARNING, __file__, 1, "rejected", None, None)
    record.ecs = {"tls.client.x509.subject.distinguished_name": subject, "source.ip": "127.0.0.1"}
    line = EcsJsonFormatter().format(record)
    assert "\n" not in line and "\r" not in line and "\x1b" not in line and "\u202e" not in line
    doc = json.loads(line)
    assert doc["tls.client.x509.subject.distinguished_name"] == subject  # nothing lost, only escaped
    assert doc["log.level"] == "warning" and doc["@timestamp"].endswith("Z")
    assert len(doc["@timestamp"]) == len("2026-12-03T00:00:00.000Z")  # UTC, milliseconds


def test_flood_from_one_source_is_bounded_and_counted_exactly():
    limiter = RateLimiter(burst=100, window=10.0)
    allowed = suppressed_reported = 0
    for i in range(10_000):
        ok, due = limiter.allow("10.0.0.1", now=i * 0.0001)  # 10k handshakes in one second
        allowed += ok
        suppressed_reported += sum(count for _, count, _ in due)
    # The window closes: the next event (any source) carries the summary.
    _, due = limiter.allow("10.0.0.2", now=11.0)
    suppressed_reported += sum(count for _, count, _ in due)
    assert allowed == 100
    assert allowed + suppressed_reported == 10_000


def test_evicted_sources_are_summarised_not_forgotten():
    limiter = RateLimiter(burst=1, window=60.0, max_sources=10)
    total_due = 0
    for ip in range(100):
        for _ in range(3):  # 1 allowed + 2 suppressed per source
            _, due = limiter.allow(f"10.0.{ip}.1", now=1.0)
            total_due += sum(c for _, c, _ in due)
    total_due += sum(c for _, c, _ in limiter.drain())
    assert total_due == 200


def test_audit_log_emits_summary_events_through_logging():
    stream = io.StringIO()
    logger = logging.getLogger("mtlsaudit.guard.test")
    handler = logging.StreamHandler(stream)
    handler.setFormatter(EcsJsonFormatter())
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False
    audit = AuditLog(logger, RateLimiter(burst=2, window=60.0))
    for _ in range(5):
        audit.emit(logging.WARNING, "rejected", {"source.ip": "192.0.2.7", "event.outcome": "failure"})
    audit.close()
    events = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert [e["message"] for e in events].count("rejected") == 2
    summary = events[-1]
    assert summary["event.action"] == "mtls-audit-suppressed" and summary["event.count"] == 3
    assert summary["source.ip"] == "192.0.2.7" and summary["log.level"] == "warning"
