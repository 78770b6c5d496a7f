"""Hardened logging for common mTLS terminators (`mtlsaudit remediate SERVER`).

Each snippet is a file next to this module, printed as is. Every snippet marked
``verified`` is applied to the real server in the test suite's matrix
(tests/test_matrix.py), which re-scans it and checks that the logging findings it is
meant to clear are gone.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources

from mtlsaudit.errors import UsageError


@dataclass(frozen=True)
class Remedy:
    server: str
    file: str
    title: str
    why: str
    verified: str | None  # how the matrix proves it, or None
    unverified_reason: str | None = None
    limits: str | None = None

    def snippet(self) -> str:
        return resources.files(__package__).joinpath("snippets", self.file).read_text(encoding="utf-8")


REMEDIES: dict[str, Remedy] = {
    r.server: r
    for r in (
        Remedy(
            "nginx",
            "nginx.conf",
            "nginx: JSON access log with verify result, identity and level",
            "At the default error_log level nginx leaves only a bare HTTP 400 line for a rejected "
            "client certificate; the reason is written at [info] and the identity nowhere.",
            "nginx 1.22 (Debian), tests/targets/nginx with this block in http {}",
        ),
        Remedy(
            "haproxy",
            "haproxy.cfg",
            "HAProxy: error-log-format with the certificate's fields",
            "Handshake failures bypass log-format: by default HAProxy writes 'SSL client "
            "certificate not trusted' for every defect, at info, with no identity.",
            "HAProxy 2.6 (Debian), tests/targets/haproxy/default.cfg with this block in defaults",
        ),
        Remedy(
            "apache",
            "apache.conf",
            "Apache httpd: mod_ssl at info, plus an access log with SSL_CLIENT_*",
            "At LogLevel warn mod_ssl writes the verify error (AH02039) without the certificate, "
            "and nothing at all for a missing certificate.",
            "Apache 2.4 (Debian), tests/targets/apache/httpd.conf.in with this block in the VirtualHost",
            limits="mod_ssl logs the certificate details (AH02276) only at level info, never at "
            "warn or error: the scan keeps MTLS-L005 until your log shipper raises AH02276.",
        ),
        Remedy(
            "node",
            "node.js",
            "Node.js https: decide after the handshake, log one JSON event",
            "With rejectUnauthorized:true Node drops a rejected client before your code runs; "
            "tlsClientError only sees 'socket hang up', without address or reason.",
            "Node 20, run as is by the matrix",
        ),
        Remedy(
            "go",
            "go.go",
            "Go net/http: VerifyPeerCertificate that logs identity and reason",
            "With RequireAndVerifyClientCert the only trace of a rejection is 'http: TLS "
            "handshake error from ip:port' with the x509 error, never the certificate.",
            "Go 1.19 (Debian golang-go), run as is by the matrix",
        ),
        Remedy(
            "python",
            "python.py",
            "Python: mtlsaudit.guard around a stdlib TLS server",
            "ssl.wrap_socket on a listening socket makes socketserver swallow every failed "
            "handshake; stdlib ssl cannot show you the certificate it rejected.",
            "CPython 3.11, run as is by the matrix",
        ),
        Remedy(
            "envoy",
            "envoy.yaml",
            "Envoy: access log with the downstream peer certificate fields",
            "Envoy's default access log has no client certificate fields and no record of failed TLS handshakes.",
            None,
            unverified_reason="Envoy is not packaged for Debian and cannot run on this test "
            "machine; the snippet follows Envoy's documented access-log command operators but "
            "has not been scanned.",
        ),
    )
}


def remedy(server: str) -> Remedy:
    try:
        return REMEDIES[server.lower()]
    except KeyError:
        raise UsageError(f"no remediation for {server!r}; known: {', '.join(REMEDIES)}") from None
