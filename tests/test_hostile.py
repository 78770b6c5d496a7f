"""A broken or hostile server never hangs or crashes a scan: it becomes error(reason)."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import ssl
import threading
import time

import pytest

from mtlsaudit.errors import TargetUnreachable
from mtlsaudit.models import OutcomeKind, Target
from mtlsaudit.scan import ScanOptions, TrustMaterial, run_scan


class _Server:
    """Loopback server whose per-connection behaviour is ``handler``."""

    def __init__(self, handler):
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.handler = handler
        self.conns: list[socket.socket] = []
        threading.Thread(target=self._loop, daemon=True).start()

    def _loop(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.conns.append(conn)
            threading.Thread(target=self._run, args=(conn,), daemon=True).start()

    def _run(self, conn):
        with contextlib.suppress(Exception):
            self.handler(conn)

    def close(self):
        self.sock.close()
        for c in self.conns:
            c.close()


OPTS = ScanOptions(probes="control.*", timeout=0.5, settle=0, late=0)


def _scan(port: int, pki=None):
    trust = TrustMaterial(ca=pki.ca) if pki else TrustMaterial()
    return asyncio.run(run_scan(Target(name="h", host="127.0.0.1", port=port), trust, [], OPTS))


@pytest.mark.parametrize(
    "behaviour",
    [
        lambda c: time.sleep(5),  # accepts TCP, never speaks
        lambda c: c.sendall(b"HTTP/1.1 200 OK\r\n\r\nnot TLS at all\r\n"),  # plaintext
        lambda c: c.sendall(b"\x16\x03\x03\xff\xff" + b"\x00" * 64),  # a TLS record header that lies
    ],
    ids=["silent", "plaintext", "garbage-record"],
)
def test_non_tls_servers_give_one_clear_unreachable_error(behaviour):
    server = _Server(behaviour)
    try:
        started = time.monotonic()
        with pytest.raises(TargetUnreachable, match=r"no TLS 1\.2/1\.3 handshake"):
            _scan(server.port)
        assert time.monotonic() - started < 5
    finally:
        server.close()


def test_server_that_stalls_after_the_handshake_yields_errors_and_the_scan_finishes(pki):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(pki.server_pem, pki.server_key)
    ctx.load_verify_locations(pki.ca_pem)
    ctx.verify_mode = ssl.CERT_OPTIONAL

    def stall(conn):
        tls = ctx.wrap_socket(conn, server_side=True)
        time.sleep(3)  # never answers the request
        tls.close()

    server = _Server(stall)
    try:
        started = time.monotonic()
        facts = _scan(server.port, pki)
        assert time.monotonic() - started < 10
        outcomes = {a.attempt_id: a.outcome for a in facts.attempts}
        assert outcomes and all(o.kind is OutcomeKind.ERROR for o in outcomes.values()), outcomes
        assert all("timeout" in (o.reason or "") for o in outcomes.values())
    finally:
        server.close()
