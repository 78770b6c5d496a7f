"""A small CRL/OCSP responder the scanner runs during a scan, so that a target which
fetches revocation data for client certificates is *seen* doing it.

The revocation probe's certificate names ``<base>/crl`` (CRL distribution point) and
``<base>/ocsp`` (AIA OCSP). Every request is recorded as a :class:`RevocationFetch`.
Reads are bounded (8 KiB of headers, 64 KiB of body) and time-limited.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import datetime as dt
import urllib.parse

from cryptography.hazmat.primitives import serialization

from mtlsaudit.forge.pki import CA
from mtlsaudit.forge.revocation import ocsp_response, revocation_crl
from mtlsaudit.models import RevocationFetch

_MAX_HEAD = 8 * 1024
_MAX_BODY = 64 * 1024
_TIMEOUT = 5.0


class RevocationResponder:
    def __init__(self, ca: CA, host: str = "127.0.0.1", port: int = 0) -> None:
        self.ca = ca
        self.host, self.port = host, port
        self.fetches: list[RevocationFetch] = []
        self._server: asyncio.Server | None = None
        self._crl = revocation_crl(ca).public_bytes(serialization.Encoding.DER)

    @property
    def base_url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._handle, self.host, self.port)
        self.port = self._server.sockets[0].getsockname()[1]

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    def _record(self, peer: object, kind: str, detail: str) -> None:
        client = ":".join(str(p) for p in peer[:2]) if isinstance(peer, tuple) else str(peer)
        self.fetches.append(RevocationFetch(at=dt.datetime.now(dt.UTC), client=client, kind=kind, detail=detail))

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peer = writer.get_extra_info("peername")
        try:
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), _TIMEOUT)
            if len(head) > _MAX_HEAD:
                raise ValueError("header too large")
            lines = head.decode("latin-1").split("\r\n")
            method, target, _ = [*lines[0].split(" "), "", ""][:3]
            headers = {k.strip().lower(): v.strip() for k, _, v in (ln.partition(":") for ln in lines[1:] if ln)}
            length = min(int(headers.get("content-length", "0") or 0), _MAX_BODY)
            body = await asyncio.wait_for(reader.readexactly(length), _TIMEOUT) if length else b""
            path = urllib.parse.urlsplit(target).path
            status, ctype, payload = self._answer(peer, method, path, body)
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, TimeoutError, ValueError, OSError) as exc:
            self._record(peer, "invalid", f"{type(exc).__name__}: {exc}"[:200])
            status, ctype, payload = 400, "text/plain", b"bad request\n"
        try:
            writer.write(
                f"HTTP/1.0 {status} X\r\nContent-Type: {ctype}\r\nContent-Length: {len(payload)}\r\n"
                "Connection: close\r\n\r\n".encode()
                + payload
            )
            await asyncio.wait_for(writer.drain(), _TIMEOUT)
        except (OSError, TimeoutError):
            pass
        finally:
            writer.close()

    def _answer(self, peer: object, method: str, path: str, body: bytes) -> tuple[int, str, bytes]:
        if path.endswith("/crl"):
            self._record(peer, "crl", f"{method} {path}")
            return 200, "application/pkix-crl", self._crl
        if "/ocsp" in path:
            der = body
            if method == "GET":
                try:
                    der = base64.b64decode(urllib.parse.unquote(path.split("/ocsp/", 1)[-1]))
                except (binascii.Error, ValueError):
                    der = b""
            try:
                answer, detail = ocsp_response(self.ca, der)
            except ValueError as exc:
                self._record(peer, "ocsp", f"malformed request: {exc}"[:200])
                return 400, "text/plain", b"malformed OCSP request\n"
            self._record(peer, "ocsp", detail)
            return 200, "application/ocsp-response", answer
        self._record(peer, "other", f"{method} {path}"[:200])
        return 404, "text/plain", b"not found\n"
