"""mtlsaudit remediation: a stdlib http.server with mTLS audit logging (mtlsaudit.guard).

`httpd.socket = ctx.wrap_socket(httpd.socket)` runs the handshake inside accept(), where
socketserver drops every failure without a word, and stdlib ssl cannot show you the
certificate it rejected. mtlsaudit.guard runs the handshake itself (pyOpenSSL, with a
verify callback that keeps the presented certificate) and writes one ECS JSON event per
handshake: failures at WARNING with reason, code, identity and ip:port; successes at
INFO. Events from one source are rate-limited with a count of what was suppressed.
uvicorn and other asyncio servers: drop uvicorn's ssl_* options and pass
http=mtlsaudit.guard.aio.guarded_http(guard) (wrap the app in ASGIAuditMiddleware to add
the identity to request events). Run as is (pip install mtlsaudit): CERT, KEY, CA,
optionally CRL (PEM paths) and PORT from the environment.
"""

import http.server
import os
import sys

from mtlsaudit.guard import GuardedHTTPServer, TLSGuard
from mtlsaudit.guard.events import configure_json_logging

configure_json_logging(sys.stderr)  # or add EcsJsonFormatter to your own handler


class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        cert = self.request.client_certificate  # the verified client certificate
        body = f"hello {cert.subject.rfc4514_string()}\n".encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


guard = TLSGuard.from_files(
    cert=os.environ["CERT"], key=os.environ["KEY"], ca=os.environ["CA"], crl=os.environ.get("CRL")
)
server = GuardedHTTPServer(("127.0.0.1", int(os.environ["PORT"])), Handler, guard=guard)
server.serve_forever()
