"""A minimal TLS 1.3 client that sends arbitrary bytes as its certificate.

tlslite-ng cannot send a client certificate inside a TLS 1.3 handshake (its issue #207)
and OpenSSL only sends certificates it can parse, so the garbage-DER probe speaks TLS 1.3
itself, for exactly one flight: ClientHello (X25519, TLS_AES_128_GCM_SHA256), the
server's encrypted flight (until its Finished), then an encrypted Certificate message
whose certificate_data is the probe's bytes. The server's verdict is its (encrypted)
alert, decrypted with the handshake keys. RFC 8446 §4 and §7; every read is bounded.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import os
import struct
import time

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDFExpand
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from mtlsaudit.models import Outcome, OutcomeKind
from mtlsaudit.transport.hello import ALERTS, MAX_RECORD
from mtlsaudit.transport.tcp import ConnectFailed, open_tcp
from mtlsaudit.transport.tls import ConnectionResult

TLS_AES_128_GCM_SHA256 = 0x1301
_HRR_RANDOM = bytes.fromhex("CF21AD74E59A6111BE1D8C021E65B891C2A211167ABB8C5E079E09E2C8A8339C")
_MAX_FLIGHT = 64 * 1024


class ProtocolError(Exception):
    """The server's bytes do not follow the TLS 1.3 handshake we expect."""


def _alert(body: bytes) -> Outcome:
    """The server's refusal, from an alert record's body (level, description)."""
    return Outcome(kind=OutcomeKind.REJECTED_HANDSHAKE, alert=ALERTS.get(body[1], str(body[1])))


def _expand_label(secret: bytes, label: str, context: bytes, length: int) -> bytes:
    full = b"tls13 " + label.encode()
    info = struct.pack("!H", length) + bytes([len(full)]) + full + bytes([len(context)]) + context
    return HKDFExpand(hashes.SHA256(), length, info).derive(secret)


def _extract(salt: bytes, ikm: bytes) -> bytes:
    return hmac.new(salt, ikm, hashlib.sha256).digest()


def _ext(kind: int, body: bytes) -> bytes:
    return struct.pack("!HH", kind, len(body)) + body


def client_hello(public: bytes, server_name: str | None) -> bytes:
    """The ClientHello handshake message (without record header)."""
    ext = _ext(43, b"\x02\x03\x04")  # supported_versions: TLS 1.3
    ext += _ext(10, b"\x00\x02\x00\x1d")  # supported_groups: x25519
    ext += _ext(51, struct.pack("!HHH", 36, 0x001D, 32) + public)  # key_share
    sigalgs = (0x0403, 0x0804, 0x0805, 0x0401, 0x0503)
    ext += _ext(13, struct.pack("!H", 2 * len(sigalgs)) + b"".join(struct.pack("!H", s) for s in sigalgs))
    if server_name:
        name = server_name.encode("idna")
        ext += _ext(0, struct.pack("!HBH", len(name) + 3, 0, len(name)) + name)
    body = (
        b"\x03\x03"
        + os.urandom(32)
        + b"\x20"
        + os.urandom(32)
        + struct.pack("!HH", 2, TLS_AES_128_GCM_SHA256)
        + b"\x01\x00"
        + struct.pack("!H", len(ext))
        + ext
    )
    return b"\x01" + len(body).to_bytes(3, "big") + body


def certificate_message(context: bytes, der: bytes) -> bytes:
    entry = len(der).to_bytes(3, "big") + der + b"\x00\x00"
    body = bytes([len(context)]) + context + len(entry).to_bytes(3, "big") + entry
    return b"\x0b" + len(body).to_bytes(3, "big") + body


class _Keys:
    def __init__(self, secret: bytes) -> None:
        self.aead = AESGCM(_expand_label(secret, "key", b"", 16))
        self.iv = _expand_label(secret, "iv", b"", 12)
        self.seq = 0

    def _nonce(self) -> bytes:
        return bytes(a ^ b for a, b in zip(self.iv, self.seq.to_bytes(12, "big"), strict=True))

    def seal(self, content: bytes, content_type: int) -> bytes:
        inner = content + bytes([content_type])
        header = struct.pack("!BHH", 23, 0x0303, len(inner) + 16)
        sealed = header + self.aead.encrypt(self._nonce(), inner, header)
        self.seq += 1
        return sealed

    def open(self, header: bytes, payload: bytes) -> tuple[int, bytes]:
        """Decrypt one record (raises InvalidTag if these are not its keys; seq unchanged then)."""
        inner = self.aead.decrypt(self._nonce(), payload, header).rstrip(b"\x00")
        self.seq += 1
        if not inner:
            raise ProtocolError("empty inner plaintext")
        return inner[-1], inner[:-1]


class _Reader:
    def __init__(self, reader: asyncio.StreamReader, deadline: float) -> None:
        self.reader, self.deadline, self.total = reader, deadline, 0

    async def record(self) -> tuple[bytes, bytes]:
        header = await self._exactly(5)
        ctype, version, length = struct.unpack("!BHH", header)
        if ctype not in (20, 21, 22, 23) or version >> 8 != 3:
            raise ProtocolError(f"not a TLS record (type {ctype}, version {version:#06x})")
        if length > MAX_RECORD:
            raise ProtocolError(f"oversized record ({length} bytes)")
        return header, await self._exactly(length)

    async def _exactly(self, n: int) -> bytes:
        self.total += n
        if self.total > _MAX_FLIGHT:
            raise ProtocolError(f"server flight over {_MAX_FLIGHT} bytes")
        left = max(0.001, self.deadline - time.monotonic())
        return await asyncio.wait_for(self.reader.readexactly(n), left)


def _messages(buffer: bytearray) -> list[tuple[int, bytes]]:
    """Complete handshake messages at the front of ``buffer`` (consumed)."""
    out = []
    while len(buffer) >= 4:
        size = int.from_bytes(buffer[1:4], "big")
        if size > _MAX_FLIGHT:
            raise ProtocolError(f"oversized handshake message ({size} bytes)")
        if len(buffer) < 4 + size:
            break
        out.append((buffer[0], bytes(buffer[4 : 4 + size])))
        del buffer[: 4 + size]
    return out


def _server_share(server_hello: bytes) -> bytes:
    try:
        if server_hello[2:34] == _HRR_RANDOM:
            raise ProtocolError("the server asked for a HelloRetryRequest (X25519 not accepted)")
        sid = server_hello[34]
        pos = 35 + sid
        cipher = struct.unpack_from("!H", server_hello, pos)[0]
        if cipher != TLS_AES_128_GCM_SHA256:
            raise ProtocolError(f"unexpected cipher {cipher:#06x}")
        pos += 3
        end = pos + 2 + struct.unpack_from("!H", server_hello, pos)[0]
        pos += 2
        while pos + 4 <= end:
            kind, size = struct.unpack_from("!HH", server_hello, pos)
            if kind == 51:
                group, klen = struct.unpack_from("!HH", server_hello, pos + 4)
                if group != 0x001D or klen != 32:
                    raise ProtocolError("server key share is not X25519")
                return server_hello[pos + 8 : pos + 8 + 32]
            pos += 4 + size
    except (IndexError, struct.error) as exc:
        raise ProtocolError(f"truncated ServerHello: {exc}") from None
    raise ProtocolError("ServerHello without key_share (not TLS 1.3?)")


async def send_tls13_certificate(
    host: str, port: int, *, sni: str | None, der: bytes, timeout: float
) -> ConnectionResult:
    """One TLS 1.3 handshake whose Certificate message carries ``der``; classified."""
    deadline = time.monotonic() + timeout
    local_ip: str | None = None
    local_port: int | None = None
    writer: asyncio.StreamWriter | None = None

    def done(outcome: Outcome, negotiated: str | None = None) -> ConnectionResult:
        return ConnectionResult(outcome, local_ip, local_port, negotiated)

    try:
        reader, writer, local_ip, local_port = await open_tcp(host, port, timeout)
        key = X25519PrivateKey.generate()
        hello = client_hello(key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw), sni)
        writer.write(struct.pack("!BHH", 22, 0x0301, len(hello)) + hello)
        records = _Reader(reader, deadline)

        header, payload = await records.record()
        if header[0] == 21:
            return done(_alert(payload))
        plain = bytearray(payload)
        messages = _messages(plain)
        while not messages:
            header, payload = await records.record()
            plain += payload
            messages = _messages(plain)
        kind, server_hello = messages[0]
        if kind != 2:
            raise ProtocolError(f"expected ServerHello, got handshake type {kind}")
        transcript = hashlib.sha256(hello + b"\x02" + len(server_hello).to_bytes(3, "big") + server_hello)
        shared = key.exchange(X25519PublicKey.from_public_bytes(_server_share(server_hello)))
        early = _extract(b"\x00" * 32, b"\x00" * 32)
        derived = _expand_label(early, "derived", hashlib.sha256(b"").digest(), 32)
        handshake_secret = _extract(derived, shared)
        digest = transcript.digest()
        client_keys = _Keys(_expand_label(handshake_secret, "c hs traffic", digest, 32))
        server_keys = _Keys(_expand_label(handshake_secret, "s hs traffic", digest, 32))

        # The server's encrypted flight: EncryptedExtensions … Finished.
        context: bytes | None = None
        flight = bytearray()
        finished = False
        while not finished:
            header, payload = await records.record()
            if header[0] == 20:
                continue  # middlebox-compatibility ChangeCipherSpec
            if header[0] == 21:  # a plaintext alert
                return done(_alert(payload))
            if header[0] != 23:
                raise ProtocolError(f"unexpected plaintext record type {header[0]}")
            inner_type, content = server_keys.open(header, payload)
            if inner_type == 21:
                return done(_alert(content))
            flight += content
            for kind, body in _messages(flight):
                transcript.update(bytes([kind]) + len(body).to_bytes(3, "big") + body)
                if kind == 13:
                    context = body[1 : 1 + body[0]]
                finished = finished or kind == 20
        if context is None:
            return done(Outcome(kind=OutcomeKind.ERROR, reason="the server did not request a client certificate"))

        # After its Finished the server writes with its application traffic keys; an alert
        # it sends in answer to our Certificate is under those (or, from some stacks, still
        # under the handshake keys): try both.
        master = _extract(_expand_label(handshake_secret, "derived", hashlib.sha256(b"").digest(), 32), b"\x00" * 32)
        server_app = _Keys(_expand_label(master, "s ap traffic", transcript.digest(), 32))
        writer.write(b"\x14\x03\x03\x00\x01\x01" + client_keys.seal(certificate_message(context, der), 22))
        await asyncio.wait_for(writer.drain(), max(0.001, deadline - time.monotonic()))
        while True:
            header, payload = await records.record()
            if header[0] == 21:
                return done(_alert(payload))
            if header[0] != 23:
                continue
            try:
                inner_type, content = server_app.open(header, payload)
            except InvalidTag:
                inner_type, content = server_keys.open(header, payload)
            if inner_type == 21 and len(content) >= 2:
                return done(
                    _alert(content),
                    "TLSv1.3",
                )
            # Anything else (a ticket, data) means the garbage did not stop the handshake.
            return done(
                Outcome(kind=OutcomeKind.ACCEPTED, reason="server went on after the garbage certificate"), "TLSv1.3"
            )
    except asyncio.IncompleteReadError:
        return done(Outcome(kind=OutcomeKind.CLOSED_SILENTLY))
    except ConnectionResetError:
        return done(Outcome(kind=OutcomeKind.CLOSED_SILENTLY, reason="reset"))
    except TimeoutError:
        return done(Outcome(kind=OutcomeKind.ERROR, reason=f"no complete answer within {timeout:g}s"))
    except ProtocolError as exc:
        return done(Outcome(kind=OutcomeKind.ERROR, reason=str(exc)))
    except ConnectFailed as exc:
        return done(Outcome(kind=OutcomeKind.ERROR, reason=str(exc)))
    except OSError as exc:
        return done(Outcome(kind=OutcomeKind.ERROR, reason=f"{type(exc).__name__}: {exc}"))
    except Exception as exc:  # a decryption failure (InvalidTag) or a malformed field
        return done(Outcome(kind=OutcomeKind.ERROR, reason=f"{type(exc).__name__}: {exc}"[:200]))
    finally:
        if writer is not None:
            writer.close()
