"""Send bytes that are not a certificate in the client's Certificate message.

OpenSSL (and so stdlib ``ssl``) will only send certificates it can parse; tlslite-ng, a
pure-Python TLS implementation kept for TLS testing (it underlies tlsfuzzer), sends
whatever bytes its certificate object holds. It is synchronous, so it runs in a thread
with socket timeouts; the whole attempt is also bounded by ``asyncio.wait_for``.
"""

from __future__ import annotations

import asyncio
import socket
from typing import Any

# Not tlslite.api: it imports asyncore integration, gone in Python 3.12.
from tlslite.constants import AlertDescription
from tlslite.errors import TLSAbruptCloseError, TLSError, TLSLocalAlert, TLSRemoteAlert
from tlslite.handshakesettings import HandshakeSettings
from tlslite.tlsconnection import TLSConnection
from tlslite.utils.keyfactory import parsePEMKey
from tlslite.x509 import X509
from tlslite.x509certchain import X509CertChain

from mtlsaudit.models import Outcome, OutcomeKind, TlsVersion
from mtlsaudit.transport.tls import ConnectionResult, classify_status

_TLSLITE_VERSIONS = {TlsVersion.TLS1_3: (3, 4), TlsVersion.TLS1_2: (3, 3)}


def _exchange(
    host: str,
    port: int,
    sni: str | None,
    version: TlsVersion,
    der: bytes,
    key_pem: bytes,
    request: bytes,
    timeout: float,
) -> ConnectionResult:
    sock = socket.create_connection((host, port), timeout=timeout)
    ip, port_ = sock.getsockname()[:2]
    handshake_done = False

    def done(outcome: Outcome, negotiated: str | None = None) -> ConnectionResult:
        return ConnectionResult(outcome, ip, port_, negotiated)

    try:
        conn = TLSConnection(sock)
        settings = HandshakeSettings()
        settings.minVersion = settings.maxVersion = _TLSLITE_VERSIONS[version]
        key: Any = parsePEMKey(key_pem.decode(), private=True)
        cert = X509()
        cert.bytes = bytearray(der)
        # tlslite picks the CertificateVerify scheme from these; they are never parsed from bytes.
        cert.certAlg = "rsa"
        cert.publicKey = key
        try:
            conn.handshakeClientCert(X509CertChain([cert]), key, settings=settings, serverName=sni)
            handshake_done = True
            conn.write(request)
            head = bytes(conn.read(max=4096))
        except TLSRemoteAlert as exc:
            kind = OutcomeKind.REJECTED_AFTER_HANDSHAKE if handshake_done else OutcomeKind.REJECTED_HANDSHAKE
            return done(Outcome(kind=kind, alert=_alert(exc)))
        except (TLSAbruptCloseError, BrokenPipeError, ConnectionResetError) as exc:
            # The server closed while we were still sending CertificateVerify/Finished: in
            # TLS 1.3 its (encrypted) alert is lost with the connection.
            return done(Outcome(kind=OutcomeKind.CLOSED_SILENTLY, reason=type(exc).__name__))
        if not head:
            return done(Outcome(kind=OutcomeKind.CLOSED_SILENTLY))
        return done(classify_status(head), version.value)
    except TLSLocalAlert as exc:
        return done(Outcome(kind=OutcomeKind.ERROR, reason=f"client-side: {exc}"[:200]))
    except (TLSError, OSError) as exc:
        return done(Outcome(kind=OutcomeKind.ERROR, reason=f"{type(exc).__name__}: {exc}"[:200]))
    finally:
        sock.close()


def _alert(exc: TLSRemoteAlert) -> str:
    return str(AlertDescription.toStr(exc.description))


async def send_garbage_certificate(
    host: str,
    port: int,
    *,
    sni: str | None,
    version: TlsVersion,
    der: bytes,
    key_pem: bytes,
    request: bytes,
    timeout: float,
) -> ConnectionResult:
    """One handshake whose Certificate message carries ``der``; classified like any attempt."""
    try:
        return await asyncio.wait_for(
            asyncio.to_thread(_exchange, host, port, sni, version, der, key_pem, request, timeout), timeout * 3
        )
    except TimeoutError:
        return ConnectionResult(
            Outcome(kind=OutcomeKind.ERROR, reason=f"no answer within {timeout * 3:g}s"), None, None, None
        )
