"""mtlsaudit test target: a stdlib http.server wrapped in ssl, as people usually write it.

The listening socket is wrapped, so the handshake runs inside accept(); socketserver
treats the resulting OSError as "no request" and drops it silently. Paths and port come
from the environment.
"""

import http.server
import os
import ssl


class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b"ok\n")


ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(os.environ["CERT"], os.environ["KEY"])
ctx.load_verify_locations(os.environ["CA"])
ctx.verify_mode = ssl.CERT_REQUIRED
if os.environ.get("CRL"):  # the CRL variant: check the leaf against the CA's CRL
    ctx.load_verify_locations(os.environ["CRL"])
    ctx.verify_flags |= ssl.VERIFY_CRL_CHECK_LEAF
httpd = http.server.ThreadingHTTPServer(("127.0.0.1", int(os.environ["PORT"])), Handler)
httpd.socket = ctx.wrap_socket(httpd.socket, server_side=True)
httpd.serve_forever()
