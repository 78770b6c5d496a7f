"""mtlsaudit test target: a stdlib http.server that moves the handshake into the worker
thread (so one slow client cannot stall accept()). A failed handshake then raises in
the thread, and socketserver's handle_error prints a multi-line traceback to stderr:
"Exception occurred during processing of request from ('127.0.0.1', 53412)", the
frames, and the ssl.SSLError with OpenSSL's reason. Paths and port come from the
environment.
"""

import http.server
import os
import ssl

ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(os.environ["CERT"], os.environ["KEY"])
ctx.load_verify_locations(os.environ["CA"])
ctx.verify_mode = ssl.CERT_REQUIRED


class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b"ok\n")


class Server(http.server.ThreadingHTTPServer):
    def finish_request(self, request, client_address):  # type: ignore[no-untyped-def]
        tls = ctx.wrap_socket(request, server_side=True)  # the handshake runs here
        super().finish_request(tls, client_address)


Server(("127.0.0.1", int(os.environ["PORT"])), Handler).serve_forever()
