"""The raw ClientHello engine: what it sends, how it parses, and hostile servers."""

from __future__ import annotations

import asyncio
import struct
import time

import pytest

from mtlsaudit.models import OutcomeKind
from mtlsaudit.transport.hello import (
    LEGACY_CIPHERS,
    MAX_RECORD,
    TLS1_0,
    TLS1_2,
    WEAK_CIPHERS,
    HelloSpec,
    MalformedAnswer,
    client_hello,
    parse_first_flight,
    send_hello,
)
from test_hostile import _Server


def test_hello_bytes_carry_version_ciphers_scsv_and_sni():
    raw = client_hello(HelloSpec(TLS1_2, WEAK_CIPHERS, server_name="api.example", fallback_scsv=True))
    ctype, record_version, length = struct.unpack_from("!BHH", raw)
    assert ctype == 22 and record_version == TLS1_0 and length == len(raw) - 5
    assert raw[5] == 1  # ClientHello
    assert struct.unpack_from("!H", raw, 9)[0] == TLS1_2
    n = struct.unpack_from("!H", raw, 9 + 2 + 32 + 1)[0]
    offered = struct.unpack_from(f"!{n // 2}H", raw, 9 + 2 + 32 + 1 + 2)
    assert offered[: len(WEAK_CIPHERS)] == WEAK_CIPHERS and 0x5600 in offered
    assert b"api.example" in raw


def test_parser_reads_server_hello_and_alerts():
    server_hello = b"\x03\x03" + b"\x00" * 32 + b"\x00" + b"\xc0\x13" + b"\x00"
    hs = b"\x02" + len(server_hello).to_bytes(3, "big") + server_hello
    answer, _ = parse_first_flight(struct.pack("!BHH", 22, 0x0301, len(hs)) + hs)
    assert answer is not None and answer.version == TLS1_0 + 2 and answer.cipher == 0xC013
    answer, _ = parse_first_flight(b"\x15\x03\x03\x00\x02\x02\x56")
    assert answer is not None and answer.alert == "inappropriate_fallback"
    assert parse_first_flight(b"\x15\x03\x03\x00")[0] is None  # incomplete: wait for more
    with pytest.raises(MalformedAnswer, match="oversized"):
        parse_first_flight(struct.pack("!BHH", 22, 0x0303, MAX_RECORD + 1))
    with pytest.raises(MalformedAnswer, match="not a TLS record"):
        parse_first_flight(b"HTTP/1.1 400 Bad Request\r\n")


def _oversized(conn):
    conn.recv(4096)
    conn.sendall(struct.pack("!BHH", 22, 0x0303, 0xFFFF) + b"\x00" * 100)
    time.sleep(2)


def _trickle(conn):
    conn.recv(4096)
    conn.sendall(b"\x16\x03\x03\x40\x00")  # a 16 KiB record announced...
    for _ in range(100):
        conn.sendall(b"\x00")  # ...that arrives one byte at a time, forever
        time.sleep(0.05)


def _garbage(conn):
    conn.recv(4096)
    conn.sendall(b"\x00\xffgarbage that is not TLS" * 10)


def _reset(conn):
    conn.recv(4096)
    conn.setsockopt(__import__("socket").SOL_SOCKET, __import__("socket").SO_LINGER, struct.pack("ii", 1, 0))
    conn.close()


@pytest.mark.parametrize(
    ("behaviour", "kind", "reason"),
    [
        (_oversized, OutcomeKind.ERROR, "oversized record"),
        (_trickle, OutcomeKind.ERROR, "no complete answer"),
        (_garbage, OutcomeKind.ERROR, "not a TLS record"),
        (_reset, OutcomeKind.CLOSED_SILENTLY, None),
    ],
)
def test_hostile_answers_end_within_the_deadline(behaviour, kind, reason):
    server = _Server(behaviour)
    try:
        started = time.monotonic()
        result, _ = asyncio.run(send_hello("127.0.0.1", server.port, HelloSpec(TLS1_0, LEGACY_CIPHERS), 0.5))
        assert time.monotonic() - started < 2.0
        assert result.outcome.kind is kind, result.outcome
        if reason:
            assert reason in (result.outcome.reason or "")
    finally:
        server.close()


@pytest.mark.parametrize(
    ("behaviour", "kind"),
    [
        (_oversized, OutcomeKind.ERROR),
        (_trickle, OutcomeKind.ERROR),
        (_garbage, OutcomeKind.ERROR),
        (_reset, OutcomeKind.CLOSED_SILENTLY),
    ],
)
def test_tls13_certificate_engine_survives_hostile_servers(behaviour, kind):
    from mtlsaudit.transport.tls13cert import send_tls13_certificate

    server = _Server(behaviour)
    try:
        started = time.monotonic()
        result = asyncio.run(send_tls13_certificate("127.0.0.1", server.port, sni=None, der=b"\x30\x00", timeout=0.5))
        assert time.monotonic() - started < 2.0
        assert result.outcome.kind is kind, result.outcome
    finally:
        server.close()
