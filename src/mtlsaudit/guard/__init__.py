"""mtlsaudit.guard: the mTLS audit logging that mtlsaudit tests for, for Python servers.

Every TLS handshake becomes one ECS event through stdlib ``logging``: failures at
WARNING with the reason (OpenSSL verify error and code), source ip:port, SNI, TLS version
and the presented certificate's subject, issuer, serial and SHA-256 (also when the
verifier rejected it); successes at INFO with the same identity. Attacker-controlled
fields are escaped by the JSON encoder; floods are rate-limited per source with a
summary event that carries the suppressed count.

    from mtlsaudit.guard import GuardedHTTPServer, TLSGuard
    guard = TLSGuard.from_files(cert="server.pem", key="server.key", ca="clients-ca.pem")
    GuardedHTTPServer(("0.0.0.0", 8443), Handler, guard=guard).serve_forever()

asyncio servers (uvicorn: ``http=guarded_http(guard)``) are in :mod:`mtlsaudit.guard.aio`;
ASGI/WSGI middleware that adds identity to request events is in
:mod:`mtlsaudit.guard.middleware`.
"""

from mtlsaudit.guard.events import AuditLog, EcsJsonFormatter, RateLimiter
from mtlsaudit.guard.middleware import ASGIAuditMiddleware, WSGIAuditMiddleware
from mtlsaudit.guard.stdlib import GuardedHTTPServer, GuardedServerMixin, GuardedWSGIRequestHandler, GuardedWSGIServer
from mtlsaudit.guard.tls import TLSGuard

__all__ = [
    "ASGIAuditMiddleware",
    "AuditLog",
    "EcsJsonFormatter",
    "GuardedHTTPServer",
    "GuardedServerMixin",
    "GuardedWSGIRequestHandler",
    "GuardedWSGIServer",
    "RateLimiter",
    "TLSGuard",
    "WSGIAuditMiddleware",
]
