"""Two embedded mTLS targets on loopback: one that under-logs, one that logs well.

Both enforce client authentication the same way; only their logging differs:

* ``under-logging`` is written the way Python TLS servers usually are (stdlib ``ssl``,
  handshake failures swallowed, an ``http.server``-style access line with no identity);
* ``hardened`` writes one ECS JSON event per handshake failure and success, with the
  client's subject, serial, fingerprint, the verify reason, source ip:port, at WARN for
  failures. Stdlib ``ssl`` cannot show a server the certificate it just rejected, so this
  one uses pyOpenSSL's verify callback to see it.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import select
import socket
import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.x509.oid import ExtendedKeyUsageOID
from OpenSSL import SSL

from mtlsaudit.forge import CA, Credential, name

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
        return cls(ca, server, client, ca_path, cert_path, key_path)


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


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
    """One ECS JSON event per handshake failure and success, identity and reason included."""

    name = "hardened"

    def __init__(self, pki: DemoPki, log_path: Path) -> None:
        super().__init__(pki, log_path)
        ctx = SSL.Context(SSL.TLS_SERVER_METHOD)
        ctx.set_min_proto_version(SSL.TLS1_2_VERSION)
        ctx.use_certificate_file(str(pki.server_cert_path))
        ctx.use_privatekey_file(str(pki.server_key_path))
        ctx.load_verify_locations(str(pki.ca_path))
        ctx.set_verify(SSL.VERIFY_PEER | SSL.VERIFY_FAIL_IF_NO_PEER_CERT, self._verify)
        self.ctx = ctx

    @staticmethod
    def _verify(conn: Any, cert: Any, errnum: int, depth: int, ok: int) -> bool:
        seen = conn.get_app_data()
        if seen is not None:
            seen.setdefault("certs", {})[depth] = cert.to_cryptography()
            if not ok and "error" not in seen:
                seen["error"] = (errnum, depth)
        return bool(ok)

    def _event(self, level: str, outcome: str, addr: tuple[str, int], **extra: Any) -> None:
        event: dict[str, Any] = {
            "@timestamp": _now(),
            "log": {"level": level},
            "service": {"name": "mtlsaudit-demo-hardened"},
            "event": {
                "kind": "event",
                "category": ["authentication", "network"],
                "outcome": outcome,
            },
            "source": {"ip": addr[0], "port": addr[1]},
        }
        for key, value in extra.items():
            if isinstance(value, dict) and isinstance(event.get(key), dict):
                event[key].update(value)
            else:
                event[key] = value
        # ensure_ascii escapes CR, LF, ESC and bidi overrides: certificate fields are attacker input.
        self.log(json.dumps(event, ensure_ascii=True, separators=(",", ":")))

    @staticmethod
    def _identity(cert: x509.Certificate | None) -> dict[str, Any]:
        if cert is None:
            return {}
        return {
            "x509": {
                "subject": {"distinguished_name": cert.subject.rfc4514_string()},
                "issuer": {"distinguished_name": cert.issuer.rfc4514_string()},
                "serial_number": format(cert.serial_number, "X"),
                "not_after": cert.not_valid_after_utc.isoformat(),
            },
            "hash": {"sha256": cert.fingerprint(hashes.SHA256()).hex().upper()},
        }

    def handle(self, conn: socket.socket, addr: tuple[str, int]) -> None:
        conn.setblocking(False)
        tls = SSL.Connection(self.ctx, conn)
        seen: dict[str, Any] = {}
        tls.set_app_data(seen)
        tls.set_accept_state()
        deadline = time.monotonic() + _IO_TIMEOUT
        try:
            _pump(tls.do_handshake, conn, deadline)
        except (SSL.Error, OSError, TimeoutError) as exc:
            certs = seen.get("certs", {})
            leaf = certs.get(0) or (certs[min(certs)] if certs else None)
            errnum, depth = seen.get("error", (None, None))
            reason = _verify_text(errnum) if errnum is not None else _ssl_reason(exc)
            self._event(
                "warn",
                "failure",
                addr,
                event={
                    "action": "tls-client-certificate-rejected",
                    "type": ["connection", "denied"],
                    "reason": reason,
                    "code": str(errnum) if errnum is not None else None,
                },
                tls={
                    "established": False,
                    "client": self._identity(leaf),
                    "version": tls.get_protocol_version_name(),
                },
                error={"message": _ssl_reason(exc), "depth": depth},
            )
            return
        peer = tls.get_peer_certificate()
        cert = peer.to_cryptography() if peer is not None else None
        read = _recv_or_empty(tls)
        head = _read_head(lambda n: bytes(_pump(lambda: read(n), conn, deadline)))
        _, path, ua = _request_line(head)
        _pump(lambda: tls.sendall(_RESPONSE), conn, deadline)
        self._event(
            "info",
            "success",
            addr,
            event={"action": "tls-client-certificate-accepted", "type": ["connection", "allowed"]},
            tls={
                "established": True,
                "version": tls.get_protocol_version_name(),
                "client": self._identity(cert),
            },
            url={"path": path},
            user_agent={"original": ua},
        )
        with contextlib.suppress(SSL.Error):
            tls.shutdown()


def _recv_or_empty(tls: SSL.Connection) -> Callable[[int], bytes]:
    def read(n: int) -> bytes:
        try:
            return bytes(tls.recv(n))
        except SSL.ZeroReturnError:
            return b""

    return read


def _pump(step: Callable[[], Any], sock: socket.socket, deadline: float) -> Any:
    """Run a pyOpenSSL step on a non-blocking socket until it completes or time runs out."""
    while True:
        wait: tuple[list[socket.socket], list[socket.socket]]
        try:
            return step()
        except SSL.WantReadError:
            wait = ([sock], [])
        except SSL.WantWriteError:
            wait = ([], [sock])
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError("client too slow")
        select.select(wait[0], wait[1], [], remaining)


def _verify_text(errnum: int) -> str:
    from OpenSSL._util import ffi, lib  # the verify-error strings are not exposed otherwise

    text = ffi.string(lib.X509_verify_cert_error_string(errnum)).decode()
    return f"{text} ({errnum})"


def _ssl_reason(exc: BaseException) -> str:
    if isinstance(exc, SSL.Error) and exc.args and isinstance(exc.args[0], list) and exc.args[0]:
        return "; ".join(str(part[-1]) for part in exc.args[0])
    return str(exc) or type(exc).__name__
