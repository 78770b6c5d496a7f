"""Two embedded mTLS targets on loopback: one that under-logs, one that logs well.

Both enforce client authentication the same way; only their logging differs:

* ``under-logging`` is written the way Python TLS servers usually are (stdlib ``ssl``,
  handshake failures swallowed, an ``http.server``-style access line with no identity);
* ``hardened`` runs the same service behind :mod:`mtlsaudit.guard`: one ECS JSON event
  per handshake failure and success, with the client's subject, serial, fingerprint, the
  verify reason and source ip:port, at WARN for failures.
"""

from __future__ import annotations

import logging
import socket
import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from cryptography.x509.oid import ExtendedKeyUsageOID

from mtlsaudit.forge import CA, Credential, name
from mtlsaudit.forge.revocation import write_crl
from mtlsaudit.guard import AuditLog, EcsJsonFormatter, TLSGuard
from mtlsaudit.guard.events import certificate_fields

_IO_TIMEOUT = 5.0
_MAX_HEAD = 16 * 1024


@dataclass(frozen=True)
class DemoPki:
    """The demo's CA, the targets' server certificate and one valid client ("alice")."""

    ca: CA
    server: Credential
    client: Credential
    ca_path: Path
    server_cert_path: Path
    server_key_path: Path
    crl_path: Path

    @classmethod
    def create(cls, directory: Path) -> DemoPki:
        directory.mkdir(parents=True, exist_ok=True)
        ca = CA.new("mtlsaudit Demo Root CA")
        server = ca.issue(
            name("localhost"),
            eku=(ExtendedKeyUsageOID.SERVER_AUTH,),
        )
        # SAN for localhost / 127.0.0.1 is not needed: the scanner does not verify servers.
        client = ca.issue(name("demo-client-alice"))
        ca_path = directory / "ca.pem"
        ca_path.write_bytes(Credential([ca.cert], ca.key).chain_pem())
        Credential([ca.cert], ca.key).write(directory, "ca")
        cert_path, key_path = server.write(directory, "server")
        client.write(directory, "client")
        crl_path = write_crl(ca, directory / "crl.pem")  # both targets check revocation
        return cls(ca, server, client, ca_path, cert_path, key_path, crl_path)


def _read_head(read: Callable[[int], bytes]) -> bytes:
    head = b""
    while b"\r\n\r\n" not in head and len(head) < _MAX_HEAD:
        chunk = read(4096)
        if not chunk:
            break
        head += chunk
    return head


def _request_line(head: bytes) -> tuple[str, str, str]:
    first = head.split(b"\r\n", 1)[0].decode("latin-1")
    parts = first.split(" ")
    method, path, proto = [*parts, "", "", ""][:3]
    ua = ""
    for line in head.split(b"\r\n")[1:]:
        if line.lower().startswith(b"user-agent:"):
            ua = line.split(b":", 1)[1].strip().decode("latin-1")
    return f"{method} {path} {proto}", path, ua


_RESPONSE = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 6\r\nConnection: close\r\n\r\nhello\n"


class _Target:
    """A threaded accept loop on 127.0.0.1; subclasses handle one connection."""

    name = "target"

    def __init__(self, pki: DemoPki, log_path: Path) -> None:
        self.pki = pki
        self.log_path = log_path
        self.log_path.touch()
        self._lock = threading.Lock()
        self._sock = socket.create_server(("127.0.0.1", 0))
        self._sock.settimeout(0.2)
        self.port: int = self._sock.getsockname()[1]
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, name=f"demo-{self.name}", daemon=True)

    def log(self, line: str) -> None:
        with self._lock, self.log_path.open("a", encoding="utf-8") as fh:
            fh.write(line + "\n")

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, addr = self._sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            conn.settimeout(_IO_TIMEOUT)
            threading.Thread(target=self._guarded, args=(conn, addr), daemon=True).start()

    def _guarded(self, conn: socket.socket, addr: tuple[str, int]) -> None:
        try:
            self.handle(conn, addr)
        except Exception:
            pass
        finally:
            conn.close()

    def handle(self, conn: socket.socket, addr: tuple[str, int]) -> None:
        raise NotImplementedError

    def __enter__(self) -> _Target:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._sock.close()
        self._thread.join(timeout=2)


class UnderLoggingTarget(_Target):
    """Rejects bad certificates correctly and logs nothing about it (stdlib ``ssl``)."""

    name = "under-logging"

    def __init__(self, pki: DemoPki, log_path: Path) -> None:
        super().__init__(pki, log_path)
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        ctx.load_cert_chain(pki.server_cert_path, pki.server_key_path)
        ctx.load_verify_locations(pki.ca_path)
        ctx.load_verify_locations(pki.crl_path)
        ctx.verify_flags |= ssl.VERIFY_CRL_CHECK_LEAF
        ctx.verify_mode = ssl.CERT_REQUIRED
        self.ctx = ctx

    def handle(self, conn: socket.socket, addr: tuple[str, int]) -> None:
        # The usual snippet: wrap, serve; a failed handshake raises and is dropped unlogged.
        with self.ctx.wrap_socket(conn, server_side=True) as tls:
            head = _read_head(tls.recv)
            request, _, _ = _request_line(head)
            tls.sendall(_RESPONSE)
            stamp = time.strftime("%d/%b/%Y %H:%M:%S")
            # http.server's default access line: address and time, no client identity.
            self.log(f'{addr[0]} - - [{stamp}] "{request}" 200 -')


class HardenedTarget(_Target):
    """The same enforcement with :mod:`mtlsaudit.guard`: one ECS JSON event per handshake
    failure and success (identity, reason, source ip:port, WARN for failures), plus an
    access event per request."""

    name = "hardened"

    def __init__(self, pki: DemoPki, log_path: Path) -> None:
        super().__init__(pki, log_path)
        logger = logging.getLogger(f"mtlsaudit.demo.hardened.{id(self)}")
        logger.propagate = False
        logger.setLevel(logging.INFO)
        handler = _LineHandler(self.log)
        handler.setFormatter(EcsJsonFormatter())
        logger.addHandler(handler)
        self.logger = logger
        self.guard = TLSGuard.from_files(
            pki.server_cert_path,
            pki.server_key_path,
            pki.ca_path,
            crl=pki.crl_path,
            audit=AuditLog(logger),
            handshake_timeout=_IO_TIMEOUT,
        )

    def handle(self, conn: socket.socket, addr: tuple[str, int]) -> None:
        tls = self.guard.accept(conn, addr)
        if tls is None:
            return  # the guard logged the rejection
        tls.settimeout(_IO_TIMEOUT)
        head = _read_head(tls.recv)
        _, path, ua = _request_line(head)
        tls.sendall(_RESPONSE)
        self.logger.info(
            "request",
            extra={
                "ecs": {
                    "source.ip": addr[0],
                    "source.port": addr[1],
                    "url.path": path,
                    "user_agent.original": ua,
                    "http.response.status_code": 200,
                    **certificate_fields(tls.client_certificate),
                }
            },
        )
        tls.shutdown(socket.SHUT_WR)


class _LineHandler(logging.Handler):
    """Hands each formatted record to the target's (locked, appending) log writer."""

    def __init__(self, write: Callable[[str], None]) -> None:
        super().__init__()
        self.write = write

    def emit(self, record: logging.LogRecord) -> None:
        self.write(self.format(record))
