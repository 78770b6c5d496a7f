"""A raw ClientHello engine: no TLS library, exact control over version, ciphers and
extensions, and a strictly bounded parser for the server's first answer.

Used by the key-exchange probes, which need what an ordinary TLS client refuses to send:
SSLv3/TLS 1.0/1.1 hellos, NULL/EXPORT/RC4/3DES-only cipher lists, TLS_FALLBACK_SCSV.
The server's first record decides: a ServerHello means it agreed (with that version and
cipher), an Alert means it refused. A hostile server (garbage, an oversized record, a
never-ending trickle, a reset) ends as ``error(reason)`` within the deadline.
"""

from __future__ import annotations

import asyncio
import os
import struct
import time
from dataclasses import dataclass, field

from mtlsaudit.models import Outcome, OutcomeKind
from mtlsaudit.transport.tcp import ConnectFailed, open_tcp
from mtlsaudit.transport.tls import ConnectionResult

SSL3, TLS1_0, TLS1_1, TLS1_2, TLS1_3 = 0x0300, 0x0301, 0x0302, 0x0303, 0x0304
VERSION_NAMES = {SSL3: "SSLv3", TLS1_0: "TLSv1", TLS1_1: "TLSv1.1", TLS1_2: "TLSv1.2", TLS1_3: "TLSv1.3"}
FALLBACK_SCSV = 0x5600
EMPTY_RENEGOTIATION_SCSV = 0x00FF

#: What a modern client offers below TLS 1.3 (ECDHE with ECDSA or RSA, AES-CBC and GCM).
MODERN_CIPHERS = (0xC02B, 0xC02F, 0xC02C, 0xC030, 0xC009, 0xC013, 0xC00A, 0xC014, 0x009C, 0x002F, 0x0035)
#: TLS 1.0/1.1 and SSLv3 have no GCM; these are what an old client offers.
LEGACY_CIPHERS = (0xC009, 0xC013, 0xC00A, 0xC014, 0x0033, 0x0039, 0x002F, 0x0035, 0x000A)
#: Suites no server should accept: NULL, EXPORT, RC4 and 3DES.
WEAK_CIPHERS = (
    0x0001, 0x0002, 0x003B, 0xC006, 0xC010,  # NULL
    0x0003, 0x0006, 0x0008, 0x0014,  # EXPORT
    0x0004, 0x0005, 0xC007, 0xC011,  # RC4
    0x000A, 0x0016, 0xC008, 0xC012,  # 3DES
)  # fmt: skip

ALERTS = {
    0: "close_notify", 10: "unexpected_message", 20: "bad_record_mac", 22: "record_overflow",
    40: "handshake_failure", 42: "bad_certificate", 43: "unsupported_certificate",
    44: "certificate_revoked", 45: "certificate_expired", 46: "certificate_unknown",
    47: "illegal_parameter", 48: "unknown_ca", 49: "access_denied", 50: "decode_error",
    51: "decrypt_error", 70: "protocol_version", 71: "insufficient_security", 80: "internal_error",
    86: "inappropriate_fallback", 90: "user_canceled", 109: "missing_extension",
    110: "unsupported_extension", 112: "unrecognized_name", 116: "certificate_required",
}  # fmt: skip

#: Largest record a server may send (RFC 8446 §5.2: 2^14 + 256 for TLSCiphertext; we
#: allow 2^14 + 2048 as TLS 1.2 does); anything larger is a hostile or broken peer.
MAX_RECORD = 2**14 + 2048
#: Bytes of first flight we are willing to read before deciding.
MAX_FLIGHT = 64 * 1024


@dataclass(frozen=True)
class HelloSpec:
    """One ClientHello: record/legacy version, offered ciphers, SNI, extras."""

    version: int
    ciphers: tuple[int, ...]
    server_name: str | None = None
    fallback_scsv: bool = False
    record_version: int | None = None
    extensions: tuple[tuple[int, bytes], ...] = field(default=())


@dataclass(frozen=True)
class ServerAnswer:
    """The parsed first flight: a ServerHello's version and cipher, or an alert."""

    version: int | None = None
    cipher: int | None = None
    alert: str | None = None
    alert_level: int | None = None


def _ext(kind: int, body: bytes) -> bytes:
    return struct.pack("!HH", kind, len(body)) + body


def _vec(width: int, data: bytes) -> bytes:
    return len(data).to_bytes(width, "big") + data


def client_hello(spec: HelloSpec) -> bytes:
    """The bytes of one TLSPlaintext record holding ``spec``'s ClientHello."""
    ciphers = list(spec.ciphers)
    if spec.fallback_scsv:
        ciphers.append(FALLBACK_SCSV)
    ciphers.append(EMPTY_RENEGOTIATION_SCSV)
    extensions = b""
    if spec.version > SSL3:  # SSLv3 hellos carry no extensions
        if spec.server_name:
            name = spec.server_name.encode("idna")
            extensions += _ext(0, _vec(2, b"\x00" + _vec(2, name)))
        extensions += _ext(10, _vec(2, struct.pack("!HHH", 0x001D, 0x0017, 0x0018)))  # groups
        extensions += _ext(11, _vec(1, b"\x00"))  # ec_point_formats: uncompressed
        sigalgs = (0x0403, 0x0503, 0x0804, 0x0805, 0x0401, 0x0501, 0x0201, 0x0203)
        extensions += _ext(13, _vec(2, b"".join(struct.pack("!H", s) for s in sigalgs)))
        for kind, body in spec.extensions:
            extensions += _ext(kind, body)
    body = (
        struct.pack("!H", spec.version)
        + os.urandom(32)
        + _vec(1, b"")
        + _vec(2, b"".join(struct.pack("!H", c) for c in ciphers))
        + _vec(1, b"\x00")
        + (_vec(2, extensions) if extensions else b"")
    )
    handshake = b"\x01" + len(body).to_bytes(3, "big") + body
    record_version = spec.record_version or min(spec.version, TLS1_0)
    return struct.pack("!BHH", 22, record_version, len(handshake)) + handshake


class MalformedAnswer(Exception):
    """The server's bytes are not a TLS first flight."""


def parse_first_flight(data: bytes) -> tuple[ServerAnswer | None, int]:
    """Parse what has arrived so far; returns (answer or None if more bytes are needed,
    bytes consumed). Raises :class:`MalformedAnswer` for anything that is not TLS."""
    offset = 0
    handshake = b""
    while len(data) - offset >= 5:
        ctype, rversion, length = struct.unpack_from("!BHH", data, offset)
        if ctype not in (21, 22) or rversion >> 8 != 3:
            raise MalformedAnswer(f"not a TLS record (type {ctype}, version {rversion:#06x})")
        if length > MAX_RECORD:
            raise MalformedAnswer(f"oversized record ({length} bytes)")
        if len(data) - offset - 5 < length:
            return None, offset
        payload = data[offset + 5 : offset + 5 + length]
        offset += 5 + length
        if ctype == 21:
            if len(payload) < 2:
                raise MalformedAnswer("short alert")
            return ServerAnswer(alert=ALERTS.get(payload[1], f"alert_{payload[1]}"), alert_level=payload[0]), offset
        handshake += payload
        if len(handshake) >= 4:
            if handshake[0] != 2:
                raise MalformedAnswer(f"first handshake message is type {handshake[0]}, not ServerHello")
            size = int.from_bytes(handshake[1:4], "big")
            if size > MAX_FLIGHT:
                raise MalformedAnswer(f"oversized ServerHello ({size} bytes)")
            if len(handshake) >= 4 + size:
                return _server_hello(handshake[4 : 4 + size]), offset
    return None, offset


def _server_hello(body: bytes) -> ServerAnswer:
    try:
        version = struct.unpack_from("!H", body, 0)[0]
        sid_len = body[34]
        cipher = struct.unpack_from("!H", body, 35 + sid_len)[0]
        pos = 35 + sid_len + 3
        if pos + 2 <= len(body):
            end = pos + 2 + struct.unpack_from("!H", body, pos)[0]
            pos += 2
            while pos + 4 <= min(end, len(body)):
                kind, size = struct.unpack_from("!HH", body, pos)
                if kind == 43 and size == 2:  # supported_versions: the real version (1.3)
                    version = struct.unpack_from("!H", body, pos + 4)[0]
                pos += 4 + size
    except (IndexError, struct.error) as exc:
        raise MalformedAnswer(f"truncated ServerHello: {exc}") from None
    return ServerAnswer(version=version, cipher=cipher)


async def send_hello(
    host: str, port: int, spec: HelloSpec, timeout: float
) -> tuple[ConnectionResult, ServerAnswer | None]:
    """Send ``spec``'s hello and classify the first answer, all within ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    local_ip: str | None = None
    local_port: int | None = None
    writer: asyncio.StreamWriter | None = None

    def result(outcome: Outcome, answer: ServerAnswer | None = None) -> tuple[ConnectionResult, ServerAnswer | None]:
        negotiated = VERSION_NAMES.get(answer.version) if answer and answer.version else None
        return ConnectionResult(outcome, local_ip, local_port, negotiated), answer

    try:
        reader, writer, local_ip, local_port = await open_tcp(host, port, timeout)
        writer.write(client_hello(spec))
        await asyncio.wait_for(writer.drain(), _left(deadline))
        data = b""
        while True:
            chunk = await asyncio.wait_for(reader.read(4096), _left(deadline))
            if not chunk:
                kind = OutcomeKind.CLOSED_SILENTLY if not data else OutcomeKind.ERROR
                return result(Outcome(kind=kind, reason="connection closed mid-record" if data else None))
            data += chunk
            if len(data) > MAX_FLIGHT:
                return result(Outcome(kind=OutcomeKind.ERROR, reason=f"first flight over {MAX_FLIGHT} bytes"))
            answer, _ = parse_first_flight(data)
            if answer is None:
                continue
            if answer.alert is not None:
                return result(Outcome(kind=OutcomeKind.REJECTED_HANDSHAKE, alert=answer.alert), answer)
            name = VERSION_NAMES.get(answer.version or 0, f"{answer.version:#06x}")
            return result(
                Outcome(kind=OutcomeKind.ACCEPTED, reason=f"ServerHello {name} cipher {answer.cipher:#06x}"), answer
            )
    except MalformedAnswer as exc:
        return result(Outcome(kind=OutcomeKind.ERROR, reason=str(exc)))
    except TimeoutError:
        return result(Outcome(kind=OutcomeKind.ERROR, reason=f"no complete answer within {timeout:g}s"))
    except ConnectionResetError:
        return result(Outcome(kind=OutcomeKind.CLOSED_SILENTLY, reason="reset"))
    except ConnectFailed as exc:
        return result(Outcome(kind=OutcomeKind.ERROR, reason=str(exc)))
    except OSError as exc:
        return result(Outcome(kind=OutcomeKind.ERROR, reason=f"{type(exc).__name__}: {exc}"))
    finally:
        if writer is not None:
            writer.close()


def _left(deadline: float) -> float:
    return max(0.001, deadline - time.monotonic())
