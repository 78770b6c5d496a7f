"""ASGI and WSGI middleware: the client identity in every request event, and an
authorization-failure event when the application answers 401 or 403.

The certificate comes from, in order: the guard's table of live connections (keyed by
the client's ip:port, when :mod:`mtlsaudit.guard` terminates TLS), the ASGI TLS
extension (``scope["extensions"]["tls"]["client_cert_chain"]``), or the WSGI environ
(``mtls.client_certificate``, or mod_ssl's ``SSL_CLIENT_CERT`` with
``SSLOptions +ExportCertData``).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, Iterable, MutableMapping
from typing import Any

from cryptography import x509

from mtlsaudit.guard.events import LOGGER_NAME, certificate_fields
from mtlsaudit.guard.tls import TLSGuard

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
ASGIApp = Callable[[Scope, Callable[[], Awaitable[Message]], Callable[[Message], Awaitable[None]]], Awaitable[None]]
DENIED = frozenset({401, 403})


def _load(pem: str | bytes | None) -> x509.Certificate | None:
    if not pem:
        return None
    try:
        return x509.load_pem_x509_certificate(pem if isinstance(pem, bytes) else pem.encode())
    except ValueError:
        return None


def _event(
    logger: logging.Logger,
    status: int,
    method: str,
    path: str,
    client: tuple[str, int] | None,
    cert: x509.Certificate | None,
    started: float,
) -> None:
    fields: dict[str, Any] = {
        "http.request.method": method,
        "url.path": path,
        "http.response.status_code": status,
        "event.duration": int((time.monotonic() - started) * 1e9),
        **certificate_fields(cert),
    }
    if client:
        fields["source.ip"], fields["source.port"] = client[0], client[1]
    if status in DENIED:
        fields.update({"event.action": "authorization-denied", "event.outcome": "failure"})
        subject = cert.subject.rfc4514_string() if cert else "no client certificate"
        logger.warning(f"request denied ({status}) for {subject}", extra={"ecs": fields})
    else:
        fields.update({"event.action": "request", "event.outcome": "success" if status < 400 else "failure"})
        logger.info("request", extra={"ecs": fields})


class ASGIAuditMiddleware:
    """Wrap an ASGI app: one event per HTTP request, with the client certificate's identity."""

    def __init__(self, app: ASGIApp, guard: TLSGuard | None = None, logger: logging.Logger | None = None) -> None:
        self.app, self.guard = app, guard
        self.logger = logger or logging.getLogger(LOGGER_NAME)

    def certificate(self, scope: Scope) -> x509.Certificate | None:
        client = scope.get("client")
        if self.guard is not None and client:
            cert = self.guard.client_certificate(tuple(client))
            if cert is not None:
                return cert
        chain = scope.get("extensions", {}).get("tls", {}).get("client_cert_chain") or []
        return _load(chain[0]) if chain else None

    async def __call__(
        self, scope: Scope, receive: Callable[[], Awaitable[Message]], send: Callable[[Message], Awaitable[None]]
    ) -> None:
        if scope.get("type") != "http":
            await self.app(scope, receive, send)
            return
        started = time.monotonic()
        cert = self.certificate(scope)
        scope.setdefault("state", {})["mtls_client_certificate"] = cert
        status = 500

        async def record(message: Message) -> None:
            nonlocal status
            if message.get("type") == "http.response.start":
                status = int(message.get("status", 500))
            await send(message)

        try:
            await self.app(scope, receive, record)
        finally:
            client = tuple(scope["client"]) if scope.get("client") else None
            _event(self.logger, status, scope.get("method", ""), scope.get("path", ""), client, cert, started)


class WSGIAuditMiddleware:
    """Wrap a WSGI app: one event per request, with the client certificate's identity."""

    def __init__(
        self, app: Callable[..., Iterable[bytes]], guard: TLSGuard | None = None, logger: logging.Logger | None = None
    ) -> None:
        self.app, self.guard = app, guard
        self.logger = logger or logging.getLogger(LOGGER_NAME)

    def certificate(self, environ: dict[str, Any]) -> x509.Certificate | None:
        cert = environ.get("mtls.client_certificate")
        if isinstance(cert, x509.Certificate):
            return cert
        if self.guard is not None and environ.get("REMOTE_PORT"):
            found = self.guard.client_certificate((environ.get("REMOTE_ADDR", ""), int(environ["REMOTE_PORT"])))
            if found is not None:
                return found
        return _load(environ.get("SSL_CLIENT_CERT"))

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        started = time.monotonic()
        cert = self.certificate(environ)
        environ["mtls.client_certificate"] = cert
        status = [500]

        def record(status_line: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            status[0] = int(status_line.split(" ", 1)[0])
            return start_response(status_line, headers, exc_info) if exc_info else start_response(status_line, headers)

        try:
            yield from self.app(environ, record)
        finally:
            port = environ.get("REMOTE_PORT")
            client = (environ.get("REMOTE_ADDR", ""), int(port)) if port else None
            _event(
                self.logger,
                status[0],
                environ.get("REQUEST_METHOD", ""),
                environ.get("PATH_INFO", ""),
                client,
                cert,
                started,
            )
