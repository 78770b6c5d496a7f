"""A server for bench_guard.py: stdlib ``http.server`` over TLS, with or without the guard.

    python guard_server.py MODE PORT CERT KEY CA LOG
    MODE: plain (stdlib ssl, handshake in the worker thread, failures printed by
          socketserver), guard (mtlsaudit.guard, JSON events to LOG), guard-quiet
          (the guard with its logger disabled: the TLS stack's cost without logging)
SIGTERM closes the server cleanly (the guard then writes its pending flood summaries).
"""

from __future__ import annotations

import http.server
import logging
import signal
import ssl
import sys
import threading

from mtlsaudit.guard import AuditLog, EcsJsonFormatter, GuardedHTTPServer, TLSGuard


class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Length", "3")
        self.end_headers()
        self.wfile.write(b"ok\n")

    def log_message(self, format: str, *args: object) -> None:  # access log off in every mode
        pass


def main() -> None:
    mode, port, cert, key, ca, log_path = sys.argv[1:7]
    address = ("127.0.0.1", int(port))
    server: http.server.ThreadingHTTPServer
    if mode == "plain":
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(cert, key)
        ctx.load_verify_locations(ca)
        ctx.verify_mode = ssl.CERT_REQUIRED

        class Plain(http.server.ThreadingHTTPServer):
            def finish_request(self, request, client_address):  # type: ignore[no-untyped-def]
                super().finish_request(ctx.wrap_socket(request, server_side=True), client_address)

            def handle_error(self, request, client_address):  # type: ignore[no-untyped-def]
                pass  # what most servers do with a failed handshake

        server = Plain(address, Handler)
    else:
        logger = logging.getLogger("bench.guard")
        logger.propagate = False
        handler = logging.FileHandler(log_path)
        handler.setFormatter(EcsJsonFormatter())
        logger.addHandler(handler)
        logger.setLevel(logging.INFO if mode == "guard" else logging.CRITICAL + 1)
        guard = TLSGuard.from_files(cert, key, ca, audit=AuditLog(logger))
        server = GuardedHTTPServer(address, Handler, guard=guard)
    server.daemon_threads = True
    signal.signal(signal.SIGTERM, lambda *_: threading.Thread(target=server.shutdown).start())
    print("ready", flush=True)
    server.serve_forever()
    server.server_close()


if __name__ == "__main__":
    main()
