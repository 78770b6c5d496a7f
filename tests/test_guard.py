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


def _capture(name: str) -> tuple[logging.Logger, io.StringIO]:
    stream = io.StringIO()
    logger = logging.getLogger(name)
    handler = logging.StreamHandler(stream)
    handler.setFormatter(EcsJsonFormatter())
    logger.handlers = [handler]
    logger.setLevel(logging.INFO)
    logger.propagate = False
    return logger, stream


def test_wsgi_server_behind_the_guard_logs_identity_and_denials(pki):
    # A real TLS client against wsgiref behind the guard, with the WSGI middleware: the
    # request event names the client certificate; a 403 from the app is a WARNING
    # "authorization-denied" event with the same identity.
    import asyncio
    import threading

    from mtlsaudit.guard import GuardedWSGIRequestHandler, GuardedWSGIServer, TLSGuard, WSGIAuditMiddleware
    from mtlsaudit.models import TlsVersion
    from mtlsaudit.transport import ClientMaterial, connect, http_request

    logger, stream = _capture("mtlsaudit.guard.test.wsgi")

    def app(environ, start_response):
        denied = environ["PATH_INFO"].startswith("/admin")
        start_response("403 Forbidden" if denied else "200 OK", [("Content-Type", "text/plain")])
        return [b"no\n" if denied else b"ok\n"]

    guard = TLSGuard.from_files(pki.server_pem, pki.server_key, pki.ca_pem, audit=AuditLog(logger))
    server = GuardedWSGIServer(("127.0.0.1", 0), GuardedWSGIRequestHandler, guard=guard)
    server.set_app(WSGIAuditMiddleware(app, logger=logger))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        material = ClientMaterial(pki.client_pem, pki.client_key)
        for path, status in (("/ok", 200), ("/admin", 403)):
            result = asyncio.run(
                connect(
                    "127.0.0.1", server.server_address[1], sni="localhost", version=TlsVersion.TLS1_3,
                    material=material, request=http_request("localhost", path, "t"), timeout=5,
                )
            )  # fmt: skip
            assert result.outcome.http_status == status, result.outcome
    finally:
        server.shutdown()
        server.server_close()
    events = [json.loads(line) for line in stream.getvalue().splitlines()]
    serial = format(pki.client.leaf.serial_number, "X")
    accepted = [e for e in events if e.get("event.action") == "mtls-handshake-accepted"]
    requests = [e for e in events if e.get("event.action") == "request"]
    denied = [e for e in events if e.get("event.action") == "authorization-denied"]
    assert len(accepted) == 2 and len(requests) == 1 and len(denied) == 1
    assert requests[0]["url.path"] == "/ok" and requests[0]["tls.client.x509.serial_number"] == serial
    assert denied[0]["log.level"] == "warning" and denied[0]["http.response.status_code"] == 403
    assert denied[0]["tls.client.x509.serial_number"] == serial and denied[0]["source.port"] > 0


def test_asgi_middleware_reads_the_tls_extension_and_logs_denials(pki):
    import asyncio

    from cryptography.hazmat.primitives import serialization

    from mtlsaudit.guard import ASGIAuditMiddleware

    logger, stream = _capture("mtlsaudit.guard.test.asgi")

    async def app(scope, receive, send):
        await send({"type": "http.response.start", "status": 403, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    pem = pki.client.leaf.public_bytes(serialization.Encoding.PEM).decode()
    scope = {
        "type": "http",
        "method": "GET",
        "path": "/admin",
        "client": ("192.0.2.1", 40000),
        "extensions": {"tls": {"client_cert_chain": [pem]}},
    }
    sent = []

    async def receive():
        return {"type": "http.request"}

    async def send(message):
        sent.append(message)

    asyncio.run(ASGIAuditMiddleware(app, logger=logger)(scope, receive, send))
    event = json.loads(stream.getvalue().splitlines()[0])
    assert event["event.action"] == "authorization-denied" and event["log.level"] == "warning"
    assert event["tls.client.x509.subject.distinguished_name"] == pki.client.leaf.subject.rfc4514_string()
    assert event["source.ip"] == "192.0.2.1" and event["source.port"] == 40000
    assert [m["type"] for m in sent] == ["http.response.start", "http.response.body"]


def test_events_render_through_structlog(pki):
    # An application that formats its logs with structlog gets the guard's events, with
    # every ECS field, through structlog's ProcessorFormatter.
    import structlog

    from mtlsaudit.guard.events import merge_ecs_fields

    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            processor=structlog.processors.JSONRenderer(),
            foreign_pre_chain=[
                merge_ecs_fields,
                structlog.stdlib.add_log_level,
                structlog.processors.TimeStamper("iso"),
            ],
        )
    )
    logger = logging.getLogger("mtlsaudit.guard.test.structlog")
    logger.handlers = [handler]
    logger.setLevel(logging.INFO)
    logger.propagate = False
    AuditLog(logger).emit(
        logging.WARNING,
        "mTLS handshake rejected: certificate has expired",
        {"source.ip": "127.0.0.1", "source.port": 4242, "event.reason": "certificate has expired\r\nforged"},
    )
    event = json.loads(stream.getvalue())
    assert event["level"] == "warning" and event["source.port"] == 4242
    assert event["event.reason"] == "certificate has expired\r\nforged"  # escaped by the JSON renderer
    assert "\r" not in stream.getvalue().rstrip("\n") and "\n" not in stream.getvalue().rstrip("\n")
