"""The stdlib-ssl engine: one TLS connection + one marked HTTP request, classified into an outcome.

In TLS 1.3 the client's handshake completes before the server has looked at the client
certificate, so a rejection only shows on the first read or write: as an alert, an EOF or
a reset, and which one is racy (real_servers.md §2.10). Hence every attempt writes an
HTTP request and reads the answer, and "handshake OK, then EOF before any HTTP answer"
counts as a rejection (``closed_silently``). Every network step has a deadline.
"""

from __future__ import annotations

import asyncio
import re
import ssl
from dataclasses import dataclass
from pathlib import Path

from mtlsaudit.models import Outcome, OutcomeKind, TlsVersion
from mtlsaudit.transport.tcp import ConnectFailed, open_tcp

_ALERT = re.compile(r"ALERT_([A-Z0-9_]+)")
#: HTTP statuses that mean "your client certificate was refused" (495/496 are nginx's own).
REJECT_STATUSES = frozenset({400, 401, 403, 495, 496})
MISDIRECTED_STATUSES = frozenset({421})
_VERSION_REFUSED = (
    "UNSUPPORTED_PROTOCOL",
    "PROTOCOL_VERSION",
    "NO_PROTOCOLS_AVAILABLE",
    "WRONG_VERSION_NUMBER",
    "VERSION_TOO_LOW",
    "TLSV1_ALERT_PROTOCOL_VERSION",
)
_MAX_HEAD = 16 * 1024


@dataclass(frozen=True)
class ClientMaterial:
    """Files the client presents (written by the forge, key 0600) and its crypto floor."""

    cert_path: Path | None = None
    key_path: Path | None = None
    legacy_crypto: bool = False


@dataclass(frozen=True)
class ConnectionResult:
    outcome: Outcome
    local_ip: str | None
    local_port: int | None
    negotiated_version: str | None


def alert_name(exc: BaseException) -> str | None:
    """``TLSV1_ALERT_UNKNOWN_CA`` → ``unknown_ca`` (None if the error is not an alert)."""
    text = f"{getattr(exc, 'reason', '') or ''} {exc}"
    m = _ALERT.search(text)
    return m.group(1).lower() if m else None


def version_refused(result: ConnectionResult) -> bool:
    """Did the server refuse the protocol version itself (not the certificate)?"""
    text = f"{result.outcome.alert or ''} {result.outcome.reason or ''}".upper()
    return any(marker in text for marker in _VERSION_REFUSED)


def client_context(version: TlsVersion, material: ClientMaterial) -> ssl.SSLContext:
    """A client context pinned to one TLS version that does not judge the server.

    The scanner audits client authentication, so it does not verify the server's
    certificate. ``legacy_crypto`` drops OpenSSL's security level to 0 so that weak-key
    and SHA-1 credentials can be sent at all (Debian defaults to SECLEVEL=2, which would
    refuse them on our side before the server sees them).
    """
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    proto = ssl.TLSVersion.TLSv1_3 if version is TlsVersion.TLS1_3 else ssl.TLSVersion.TLSv1_2
    ctx.minimum_version = proto
    ctx.maximum_version = proto
    if material.legacy_crypto:
        ctx.set_ciphers("DEFAULT:@SECLEVEL=0")
    if material.cert_path is not None:
        ctx.load_cert_chain(material.cert_path, material.key_path)
    return ctx


def http_request(host: str, path: str, user_agent: str) -> bytes:
    return (
        f"GET {path} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: {user_agent}\r\nAccept: */*\r\nConnection: close\r\n\r\n"
    ).encode("ascii", "backslashreplace")


def classify_status(head: bytes) -> Outcome:
    """The outcome an HTTP answer's status line means (rejection, misdirected, accepted)."""
    m = re.match(rb"HTTP/\d(?:\.\d)? (\d{3})", head)
    if not m:
        return Outcome(kind=OutcomeKind.ACCEPTED, reason="non-HTTP answer after handshake")
    status = int(m.group(1))
    if status in REJECT_STATUSES:
        return Outcome(kind=OutcomeKind.REJECTED_HTTP, http_status=status)
    if status in MISDIRECTED_STATUSES:
        return Outcome(kind=OutcomeKind.MISDIRECTED, http_status=status)
    return Outcome(kind=OutcomeKind.ACCEPTED, http_status=status)


def _closed(exc: BaseException | None, after_handshake: bool) -> Outcome:
    alert = alert_name(exc) if exc is not None else None
    if alert:
        kind = OutcomeKind.REJECTED_AFTER_HANDSHAKE if after_handshake else OutcomeKind.REJECTED_HANDSHAKE
        return Outcome(kind=kind, alert=alert)
    reason = type(exc).__name__ if exc is not None else "EOF"
    if exc is not None and str(exc):
        reason = f"{reason}: {exc}"
    return Outcome(kind=OutcomeKind.CLOSED_SILENTLY, reason=reason[:200])


async def connect(
    host: str,
    port: int,
    *,
    sni: str | None,
    version: TlsVersion,
    material: ClientMaterial,
    request: bytes | None,
    timeout: float,
) -> ConnectionResult:
    """Open one TLS connection, send ``request``, classify what the server does.

    Never raises for anything the server does: refused, reset, garbage or silence all
    become an :class:`Outcome`. Only a local bug would propagate.
    """
    try:
        ctx = client_context(version, material)
    except (ssl.SSLError, OSError) as exc:
        return ConnectionResult(
            Outcome(kind=OutcomeKind.ERROR, reason=f"client refused to load credential: {exc}"),
            None,
            None,
            None,
        )
    local_ip: str | None = None
    local_port: int | None = None
    writer: asyncio.StreamWriter | None = None
    plain: asyncio.StreamWriter | None = None
    try:
        try:
            reader, stream, local_ip, local_port = await open_tcp(host, port, timeout)
        except ConnectFailed as exc:
            return ConnectionResult(Outcome(kind=OutcomeKind.ERROR, reason=str(exc)), None, None, None)
        # Plain stream first, then start_tls: open_connection(sock=…, ssl=…) insists on a
        # server_hostname, but a scan by IP must be able to send no SNI at all.
        plain = stream
        try:
            await asyncio.wait_for(
                stream.start_tls(ctx, server_hostname=sni or None, ssl_handshake_timeout=timeout), timeout
            )
        except ssl.SSLError as exc:
            return ConnectionResult(_handshake_error(exc), local_ip, local_port, None)
        except (ConnectionError, EOFError) as exc:
            return ConnectionResult(_closed(exc, after_handshake=False), local_ip, local_port, None)
        except TimeoutError:
            return ConnectionResult(
                Outcome(kind=OutcomeKind.ERROR, reason="handshake timeout"),
                local_ip,
                local_port,
                None,
            )
        writer = stream
        negotiated = _negotiated_version(stream)
        if request is None:
            return ConnectionResult(
                Outcome(kind=OutcomeKind.ACCEPTED, reason="handshake only"),
                local_ip,
                local_port,
                negotiated,
            )
        outcome = await _exchange(reader, stream, request, timeout)
        return ConnectionResult(outcome, local_ip, local_port, negotiated)
    finally:
        if writer is not None:
            writer.transport.abort()
        elif plain is not None:
            plain.transport.abort()


def _negotiated_version(writer: asyncio.StreamWriter) -> str | None:
    """The server may already have torn the session down (TLS 1.3 rejection); ssl then
    raises "handshake not done yet" instead of answering."""
    ssl_obj = writer.get_extra_info("ssl_object")
    if ssl_obj is None:
        return None
    try:
        version = ssl_obj.version()
    except (ValueError, ssl.SSLError):
        return None
    return str(version) if version else None


def _handshake_error(exc: ssl.SSLError) -> Outcome:
    alert = alert_name(exc)
    if alert:
        return Outcome(kind=OutcomeKind.REJECTED_HANDSHAKE, alert=alert)
    if isinstance(exc, ssl.SSLEOFError | ssl.SSLZeroReturnError):
        return Outcome(kind=OutcomeKind.CLOSED_SILENTLY, reason=f"EOF during handshake: {exc.reason}")
    return Outcome(kind=OutcomeKind.ERROR, reason=f"TLS: {exc.reason or exc}")


async def _exchange(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, request: bytes, timeout: float
) -> Outcome:
    try:
        writer.write(request)
        await asyncio.wait_for(writer.drain(), timeout)
    except (ssl.SSLError, ConnectionError, EOFError) as exc:
        return _closed(exc, after_handshake=True)
    except TimeoutError:
        return Outcome(kind=OutcomeKind.ERROR, reason="write timeout")
    head = b""
    try:
        async with asyncio.timeout(timeout):
            while b"\r\n" not in head and len(head) < _MAX_HEAD:
                chunk = await reader.read(4096)
                if not chunk:
                    break
                head += chunk
    except (ssl.SSLError, ConnectionError, EOFError) as exc:
        if head:
            return classify_status(head)
        return _closed(exc, after_handshake=True)
    except TimeoutError:
        if head:
            return classify_status(head)
        return Outcome(kind=OutcomeKind.ERROR, reason="no answer before timeout")
    if not head:
        return _closed(None, after_handshake=True)
    return classify_status(head)
