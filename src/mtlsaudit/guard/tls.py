"""The TLS side of the guard: a pyOpenSSL server context whose verify callback keeps the
certificates it was shown, so a rejected certificate can still be named in the log.

stdlib ``ssl`` has no verify callback and forgets a peer certificate that failed
verification; that is why the guard terminates TLS with pyOpenSSL.
"""

from __future__ import annotations

import contextlib
import functools
import io
import logging
import select
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography import x509
from OpenSSL import SSL, crypto

from mtlsaudit.guard.events import AuditLog, certificate_fields

_VERSIONS = {"TLSv1.2": SSL.TLS1_2_VERSION, "TLSv1.3": SSL.TLS1_3_VERSION}


def verify_error_text(errnum: int) -> str:
    """OpenSSL's wording for an X509 verify error code ("certificate has expired")."""
    from OpenSSL._util import ffi, lib  # not exposed publicly by pyOpenSSL

    return str(ffi.string(lib.X509_verify_cert_error_string(errnum)).decode())


def ssl_error_text(exc: BaseException) -> str:
    if isinstance(exc, SSL.Error) and exc.args and isinstance(exc.args[0], list) and exc.args[0]:
        return "; ".join(str(part[-1]) for part in exc.args[0])
    return str(exc) or type(exc).__name__


def pump(step: Callable[[], Any], sock: socket.socket, deadline: float) -> Any:
    """Run one pyOpenSSL step on a non-blocking socket until done or ``deadline``."""
    while True:
        try:
            return step()
        except SSL.WantReadError:
            wait: tuple[list[socket.socket], list[socket.socket]] = ([sock], [])
        except SSL.WantWriteError:
            wait = ([], [sock])
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError("TLS peer too slow")
        select.select(wait[0], wait[1], [], remaining)


class _Seen:
    """What the verify callback saw on one connection."""

    def __init__(self) -> None:
        self.certs: dict[int, x509.Certificate] = {}
        self.error: tuple[int, int] | None = None  # (errnum, depth), the first one

    def leaf(self) -> x509.Certificate | None:
        return self.certs.get(0) or (self.certs[min(self.certs)] if self.certs else None)


@dataclass
class Session:
    """One handshake in progress: the pyOpenSSL connection and what its verifier saw."""

    conn: SSL.Connection
    seen: _Seen


def _source(address: tuple[Any, ...]) -> dict[str, Any]:
    port = address[1] if len(address) > 1 and isinstance(address[1], int) else None
    return {"source.ip": str(address[0]), "source.port": port}


def _key(address: tuple[Any, ...]) -> tuple[str, int]:
    return str(address[0]), int(address[1]) if len(address) > 1 else 0


class TLSGuard:
    """Server-side mTLS handshakes that always end in one audit event."""

    def __init__(self, context: SSL.Context, audit: AuditLog | None = None, handshake_timeout: float = 10.0) -> None:
        self.context = context
        self.audit = audit or AuditLog()
        self.handshake_timeout = handshake_timeout
        context.set_verify(SSL.VERIFY_PEER | SSL.VERIFY_FAIL_IF_NO_PEER_CERT, self._verify)
        self._live: dict[tuple[str, int], x509.Certificate] = {}
        self._lock = threading.Lock()

    @classmethod
    def from_files(
        cls,
        cert: str | Path,
        key: str | Path,
        ca: str | Path,
        *,
        crl: str | Path | None = None,
        min_version: str = "TLSv1.2",
        audit: AuditLog | None = None,
        handshake_timeout: float = 10.0,
    ) -> TLSGuard:
        """A context that requires a client certificate issued by ``ca`` (and, with
        ``crl``, not revoked by that PEM CRL: the leaf is checked)."""
        ctx = SSL.Context(SSL.TLS_SERVER_METHOD)
        ctx.set_min_proto_version(_VERSIONS[min_version])
        ctx.use_certificate_chain_file(str(cert))
        ctx.use_privatekey_file(str(key))
        ctx.load_verify_locations(str(ca))
        ctx.set_verify_depth(4)
        if crl:
            store = ctx.get_cert_store()
            assert store is not None  # a server context always has one
            store.add_crl(x509.load_pem_x509_crl(Path(crl).read_bytes()))
            store.set_flags(crypto.X509StoreFlags.CRL_CHECK)
        return cls(ctx, audit, handshake_timeout)

    @staticmethod
    def _verify(conn: SSL.Connection, cert: Any, errnum: int, depth: int, ok: int) -> bool:
        seen = conn.get_app_data()
        if isinstance(seen, _Seen):
            seen.certs[depth] = cert.to_cryptography()
            if not ok and seen.error is None:
                seen.error = (errnum, depth)
        return bool(ok)

    # --- one handshake, in three steps (used by the blocking and the asyncio front ends) ---

    def start(self, sock: socket.socket | None = None) -> Session:
        """A server-side connection on ``sock``, or on memory BIOs when ``sock`` is None."""
        conn = SSL.Connection(self.context, sock)
        seen = _Seen()
        conn.set_app_data(seen)
        conn.set_accept_state()
        return Session(conn, seen)

    def failed(self, session: Session, address: tuple[Any, ...], exc: BaseException) -> None:
        """Log the failed handshake: reason, code, identity (even of a rejected certificate)."""
        conn, seen = session.conn, session.seen
        fields = {**_source(address), **self._tls_fields(conn), **certificate_fields(seen.leaf())}
        detail = ssl_error_text(exc)
        if seen.error is not None:
            errnum, depth = seen.error
            reason, code = verify_error_text(errnum), str(errnum)
            fields["error.stack_depth"] = depth
        else:
            reason, code = detail, None
        self.audit.emit(
            logging.WARNING,
            f"mTLS handshake rejected: {reason}",
            {
                **fields,
                "event.action": "mtls-handshake-rejected",
                "event.category": "authentication",
                "event.outcome": "failure",
                "event.reason": reason,
                "event.code": code,
                "error.message": detail,
            },
        )

    def succeeded(self, session: Session, address: tuple[Any, ...]) -> x509.Certificate | None:
        """Log the accepted client; remember its certificate while the connection lives."""
        peer = session.conn.get_peer_certificate()
        cert = peer.to_cryptography() if peer is not None else None
        self.audit.emit(
            logging.INFO,
            "mTLS client authenticated",
            {
                **_source(address),
                **self._tls_fields(session.conn),
                **certificate_fields(cert),
                "event.action": "mtls-handshake-accepted",
                "event.category": "authentication",
                "event.outcome": "success",
            },
            limited=False,
        )
        if cert is not None:
            with self._lock:
                self._live[_key(address)] = cert
        return cert

    def forget(self, address: tuple[Any, ...]) -> None:
        with self._lock:
            self._live.pop(_key(address), None)

    def client_certificate(self, address: tuple[Any, ...]) -> x509.Certificate | None:
        """The verified certificate of the live connection from ``address`` (ip, port)."""
        with self._lock:
            return self._live.get(_key(address))

    def accept(self, sock: socket.socket, address: tuple[Any, ...]) -> GuardedSocket | None:
        """Handshake on an accepted (blocking) socket. Logs one event either way; returns
        the TLS socket, or None (socket closed) when the handshake failed."""
        sock.setblocking(False)
        session = self.start(sock)
        try:
            pump(session.conn.do_handshake, sock, time.monotonic() + self.handshake_timeout)
        except (SSL.Error, OSError, TimeoutError) as exc:
            self.failed(session, address, exc)
            sock.close()
            return None
        cert = self.succeeded(session, address)
        return GuardedSocket(session.conn, sock, address, cert, on_close=lambda: self.forget(address))

    @staticmethod
    def _tls_fields(conn: SSL.Connection) -> dict[str, Any]:
        name = conn.get_servername()
        version = conn.get_protocol_version_name()
        return {
            "tls.client.server_name": name.decode("ascii", "backslashreplace") if name else None,
            "tls.version": None if version in ("", "unknown") else version,
        }


class GuardedSocket:
    """A blocking socket look-alike over a pyOpenSSL connection (for socketserver handlers).

    ``client_certificate`` is the verified client certificate, for authorisation.
    """

    def __init__(
        self,
        conn: SSL.Connection,
        sock: socket.socket,
        address: tuple[Any, ...],
        cert: x509.Certificate | None,
        on_close: Callable[[], None] | None = None,
    ) -> None:
        self.conn, self.sock, self.address = conn, sock, address
        self.client_certificate = cert
        self.timeout: float | None = 60.0
        self._on_close = on_close

    def _deadline(self) -> float:
        return time.monotonic() + (self.timeout if self.timeout is not None else 3600.0)

    def recv_into(self, buffer: Any, nbytes: int = 0) -> int:
        view = memoryview(buffer).cast("B")
        size = nbytes or len(view)
        try:
            data: bytes = pump(lambda: self.conn.recv(size), self.sock, self._deadline())
        except (SSL.ZeroReturnError, SSL.SysCallError):
            return 0
        view[: len(data)] = data
        return len(data)

    def recv(self, size: int) -> bytes:
        buf = bytearray(size)
        return bytes(buf[: self.recv_into(buf)])

    def sendall(self, data: bytes) -> None:
        view = memoryview(data)
        deadline = self._deadline()
        while view:
            sent: int = pump(functools.partial(self.conn.send, view[:16384].tobytes()), self.sock, deadline)
            view = view[sent:]

    def makefile(self, mode: str = "r", buffering: int = -1, **_: Any) -> Any:
        raw = _RawTLS(self)
        size = io.DEFAULT_BUFFER_SIZE if buffering in (-1, None) else max(buffering, 1)
        return io.BufferedReader(raw, size) if "r" in mode else io.BufferedWriter(raw, size)

    def settimeout(self, timeout: float | None) -> None:
        self.timeout = timeout

    def gettimeout(self) -> float | None:
        return self.timeout

    def setsockopt(self, *args: Any) -> None:
        self.sock.setsockopt(*args)

    def getpeername(self) -> Any:
        return self.address

    def fileno(self) -> int:
        return self.sock.fileno()

    def shutdown(self, how: int) -> None:
        with contextlib.suppress(SSL.Error, OSError, TimeoutError):
            pump(self.conn.shutdown, self.sock, time.monotonic() + 1.0)
        with contextlib.suppress(OSError):
            self.sock.shutdown(how)

    def close(self) -> None:
        if self._on_close is not None:
            self._on_close()
            self._on_close = None
        self.sock.close()


class _RawTLS(io.RawIOBase):
    def __init__(self, tls: GuardedSocket) -> None:
        self.tls = tls

    def readable(self) -> bool:
        return True

    def writable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        return self.tls.recv_into(buffer)

    def write(self, data: Any) -> int:
        self.tls.sendall(bytes(data))
        return len(data)
