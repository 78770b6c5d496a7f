"""mtlsaudit.guard: the mTLS audit logging that mtlsaudit tests for, for Python servers.

Every TLS handshake becomes one ECS event through stdlib ``logging``: failures at
WARNING with the reason (OpenSSL verify error and code), source ip:port, SNI, TLS version
and the presented certificate's subject, issuer, serial and SHA-256 (also when the
verifier rejected it); successes at INFO with the same identity. Attacker-controlled
fields are escaped by the JSON encoder; floods are rate-limited per source with a
summary event that carries the suppressed count.

    from mtlsaudit.guard import GuardedHTTPServer, TLSGuard
    guard = TLSGuard.from_files(cert="server.pem", key="server.key", ca="clients-ca.pem")
    GuardedHTTPServer(("0.0.0.0", 8443), Handler, guard).serve_forever()
"""

from mtlsaudit.guard.events import AuditLog, EcsJsonFormatter, RateLimiter
from mtlsaudit.guard.stdlib import GuardedHTTPServer, GuardedServerMixin
from mtlsaudit.guard.tls import TLSGuard

__all__ = ["AuditLog", "EcsJsonFormatter", "GuardedHTTPServer", "GuardedServerMixin", "RateLimiter", "TLSGuard"]
