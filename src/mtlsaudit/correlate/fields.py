"""Reading a log line: its time, level, source address and structure, whatever the format.

General mechanisms, not per-server parsers: JSON objects are flattened to dotted keys
(ECS, zap, logrus, bunyan alike); logfmt/key=value pairs are recognised; free text is
searched for the common timestamp shapes, bracketed or syslog-PRI levels, and ``ip:port``.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import json
import re
from dataclasses import dataclass, field
from typing import Any

_MONTHS = {
    m: i for i, m in enumerate(["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"], 1)
}

#: syslog severities (RFC 5424): lower is more severe; a failure must be <= 4 (warning).
SYSLOG_LEVELS = {
    "emerg": 0,
    "emergency": 0,
    "panic": 0,
    "fatal": 1,
    "alert": 1,
    "crit": 2,
    "critical": 2,
    "err": 3,
    "error": 3,
    "eror": 3,
    "warn": 4,
    "warning": 4,
    "wrn": 4,
    "notice": 5,
    "info": 6,
    "information": 6,
    "informational": 6,
    "inf": 6,
    "debug": 7,
    "dbg": 7,
    "trace": 7,
}
WARN = 4


@dataclass(frozen=True)
class Stamp:
    """A parsed timestamp: the interval ``[at, at + resolution)`` it can mean."""

    at: dt.datetime
    resolution: float
    has_zone: bool
    text: str


@dataclass
class ParsedLine:
    text: str
    obj: dict[str, Any] | None = None
    flat: dict[str, str] = field(default_factory=dict)
    structure: str = "text"


_SYSLOG_PRI = re.compile(r"^<(\d{1,3})>")
_JSON_START = re.compile(r"\{")
_KV = re.compile(r"""(?:^|\s)([A-Za-z_][\w.@-]*)=("(?:[^"\\]|\\.)*"|[^\s"]*)""")


def _flatten(obj: Any, prefix: str = "", out: dict[str, str] | None = None) -> dict[str, str]:
    """``{"source": {"ip": "1.2.3.4"}}`` → ``{"source.ip": "1.2.3.4"}`` (keys lowercased)."""
    out = {} if out is None else out
    if isinstance(obj, dict):
        for k, v in obj.items():
            _flatten(v, f"{prefix}{k}.", out)
    elif isinstance(obj, list):
        for item in obj:
            _flatten(item, prefix, out)
    elif prefix:
        out.setdefault(prefix[:-1].lower(), "" if obj is None else str(obj))
    return out


def parse_line(text: str) -> ParsedLine:
    """Detect structure: a JSON object (possibly after a syslog/prefix), logfmt, or text."""
    m = _JSON_START.search(text)
    if m and text.rstrip().endswith("}"):
        try:
            obj = json.loads(text[m.start() :])
        except ValueError:
            obj = None
        if isinstance(obj, dict):
            return ParsedLine(text, obj, _flatten(obj), "json")
    pairs = _KV.findall(text)
    if len(pairs) >= 3:
        flat = {k.lower(): v.strip('"') for k, v in pairs}
        return ParsedLine(text, None, flat, "key=value")
    return ParsedLine(text)


# --- timestamps -----------------------------------------------------------------------------

_ISO = re.compile(r"(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2}):(\d{2})(?:[.,](\d{1,9}))?\s?(Z|[+-]\d{2}:?\d{2})?")
_CLF = re.compile(r"\[(\d{2})/(\w{3})/(\d{4})[: ](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(?: ([+-]\d{4}))?\]")
_SLASHED = re.compile(r"(\d{4})[/.](\d{2})[/.](\d{2}) (\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?")
_APACHE = re.compile(r"\[\w{3} (\w{3}) (\d{2}) (\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))? (\d{4})\]")
_SYSLOG = re.compile(r"\b(\w{3}) {1,2}(\d{1,2}) (\d{2}):(\d{2}):(\d{2})\b")
_TIME_KEYS = ("@timestamp", "timestamp", "time", "ts", "t", "datetime", "date", "asctime")


def _mk(
    y: int, mo: int, d: int, h: int, mi: int, s: int, frac: str | None, zone: str | None
) -> tuple[dt.datetime, float, bool]:
    micro = int((frac or "0")[:6].ljust(6, "0"))
    resolution = 10.0 ** -len(frac) if frac else 1.0
    if zone:
        if zone == "Z":
            tz = dt.UTC
        else:
            sign = 1 if zone[0] == "+" else -1
            digits = zone[1:].replace(":", "")
            tz = dt.timezone(sign * dt.timedelta(hours=int(digits[:2]), minutes=int(digits[2:])))
        return dt.datetime(y, mo, d, h, mi, s, micro, tz), resolution, True
    # No zone: the server wrote local time (the scanner usually runs on the same host).
    return dt.datetime(y, mo, d, h, mi, s, micro).astimezone(), resolution, False


def _from_epoch(value: str) -> Stamp | None:
    try:
        num = float(value)
    except ValueError:
        return None
    if num > 1e17:  # nanoseconds
        num /= 1e9
    elif num > 1e14:  # microseconds
        num /= 1e6
    elif num > 1e11:  # milliseconds
        num /= 1e3
    if not 1e9 < num < 5e9:
        return None
    frac = value.partition(".")[2]
    return Stamp(dt.datetime.fromtimestamp(num, dt.UTC), 10.0 ** -len(frac) if frac else 1.0, True, value)


def parse_timestamp(parsed: ParsedLine) -> Stamp | None:
    """The record's own time, from a structured field or the first recognised shape."""
    for key in _TIME_KEYS:
        if key in parsed.flat:
            value = parsed.flat[key]
            stamp = _from_epoch(value) or _parse_text_time(value)
            if stamp:
                return stamp
    return _parse_text_time(parsed.text)


def _parse_text_time(text: str) -> Stamp | None:
    try:
        m = _ISO.search(text)
        if m:
            y, mo, d, h, mi, s = (int(x) for x in m.groups()[:6])
            at, res, zone = _mk(y, mo, d, h, mi, s, m.group(7), m.group(8))
            return Stamp(at, res, zone, m.group(0))
        m = _CLF.search(text)
        if m and m.group(2).lower() in _MONTHS:
            at, res, zone = _mk(
                int(m.group(3)),
                _MONTHS[m.group(2).lower()],
                int(m.group(1)),
                int(m.group(4)),
                int(m.group(5)),
                int(m.group(6)),
                m.group(7),
                m.group(8),
            )
            return Stamp(at, res, zone, m.group(0))
        m = _APACHE.search(text)
        if m and m.group(1).lower() in _MONTHS:
            at, res, zone = _mk(
                int(m.group(7)),
                _MONTHS[m.group(1).lower()],
                int(m.group(2)),
                int(m.group(3)),
                int(m.group(4)),
                int(m.group(5)),
                m.group(6),
                None,
            )
            return Stamp(at, res, zone, m.group(0))
        m = _SLASHED.search(text)
        if m:
            y, mo, d, h, mi, s = (int(x) for x in m.groups()[:6])
            at, res, zone = _mk(y, mo, d, h, mi, s, m.group(7), None)
            return Stamp(at, res, zone, m.group(0))
        m = _SYSLOG.search(text)
        if m and m.group(1).lower() in _MONTHS:
            # RFC 3164 stamps carry no year: assume the current one.
            year = dt.datetime.now().year
            at, res, zone = _mk(
                year,
                _MONTHS[m.group(1).lower()],
                int(m.group(2)),
                int(m.group(3)),
                int(m.group(4)),
                int(m.group(5)),
                None,
                None,
            )
            return Stamp(at, res, zone, m.group(0))
    except ValueError:
        return None
    return None


# --- levels ---------------------------------------------------------------------------------

_LEVEL_KEYS = (
    "log.level",
    "level",
    "severity",
    "levelname",
    "log_level",
    "loglevel",
    "lvl",
    "severity_text",
    "severitytext",
)
_BRACKET_LEVEL = re.compile(r"\[(?:[\w-]+:)?(emerg|alert|crit|error|warn|warning|notice|info|debug)\]", re.I)
_WORD_LEVEL = re.compile(r"(?<![\w-])(FATAL|CRITICAL|ERROR|WARNING|WARN|NOTICE|INFO|DEBUG|TRACE)(?![\w-])")
_STUNNEL = re.compile(r"\bLOG([0-7])\[")


def parse_level(parsed: ParsedLine) -> tuple[str, int] | None:
    """The record's level as (name, syslog severity number), if it states one."""
    for key in _LEVEL_KEYS:
        value = parsed.flat.get(key)
        if value:
            v = value.strip().lower()
            if v in SYSLOG_LEVELS:
                return v, SYSLOG_LEVELS[v]
            if v.isdigit():
                n = int(v)
                # OpenTelemetry SeverityNumber (1-24) vs syslog (0-7): 8+ must be OTel.
                if n > 7:
                    return v, _otel_to_syslog(n)
                return v, n
    m = _BRACKET_LEVEL.search(parsed.text)
    if m:
        name = m.group(1).lower()
        return name, SYSLOG_LEVELS[name]
    m = _STUNNEL.search(parsed.text)
    if m:
        return f"LOG{m.group(1)}", int(m.group(1))
    m = _SYSLOG_PRI.match(parsed.text)
    if m:
        sev = int(m.group(1)) & 7
        return f"syslog-{sev}", sev
    m = _WORD_LEVEL.search(parsed.text)
    if m:
        name = m.group(1).lower()
        return name, SYSLOG_LEVELS[name]
    return None


def _otel_to_syslog(n: int) -> int:
    if n >= 21:
        return 1
    if n >= 17:
        return 3
    if n >= 13:
        return 4
    if n >= 9:
        return 6
    return 7


# --- addresses ------------------------------------------------------------------------------

_IPV4_PORT = re.compile(r"(?<![\d.])(\d{1,3}(?:\.\d{1,3}){3}):(\d{1,5})(?![\d])")
_IPV6_PORT = re.compile(r"\[([0-9a-fA-F:.]+)\]:(\d{1,5})")
#: Python's repr of a socket address, in socketserver and asyncio messages: ('127.0.0.1', 53412)
_ADDR_TUPLE = re.compile(r"\(\s*'([0-9a-fA-F:.]+)',\s*(\d{1,5})\s*(?:,[^)]*)?\)")
_IPV4 = re.compile(r"(?<![\d.])(\d{1,3}(?:\.\d{1,3}){3})(?![\d.])")
_IP_KEYS = (
    "source.ip",
    "source.address",
    "client.ip",
    "client.address",
    "remote_ip",
    "remote_addr",
    "remoteaddr",
    "client_ip",
    "clientip",
    "peer",
    "remote",
    "src_ip",
    "ip",
)
_PORT_KEYS = ("source.port", "client.port", "remote_port", "remoteport", "client_port", "src_port")


def normalise_ip(ip: str) -> str:
    try:
        addr = ipaddress.ip_address(ip)
    except ValueError:
        return ip
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped:
        return str(addr.ipv4_mapped)
    return str(addr)


def find_endpoints(parsed: ParsedLine) -> list[tuple[str, int]]:
    """Every ``ip:port`` the record names (structured fields first)."""
    found: list[tuple[str, int]] = []
    ip = next((parsed.flat[k] for k in _IP_KEYS if parsed.flat.get(k)), None)
    port = next((parsed.flat[k] for k in _PORT_KEYS if parsed.flat.get(k, "").isdigit()), None)
    if ip and port:
        found.append((normalise_ip(ip), int(port)))
    for m in _IPV4_PORT.finditer(parsed.text):
        found.append((m.group(1), int(m.group(2))))
    for m in _IPV6_PORT.finditer(parsed.text):
        found.append((normalise_ip(m.group(1)), int(m.group(2))))
    for m in _ADDR_TUPLE.finditer(parsed.text):
        found.append((normalise_ip(m.group(1)), int(m.group(2))))
    return found


def find_ip(parsed: ParsedLine) -> str | None:
    """A client IP address, even without a port (nginx's ``client: 127.0.0.1``)."""
    for key in _IP_KEYS:
        value = parsed.flat.get(key)
        if value:
            host = value.rsplit(":", 1)[0] if value.count(":") == 1 else value
            return normalise_ip(host.strip("[]"))
    m = _IPV4.search(_ISO.sub("", parsed.text))
    return m.group(1) if m else None


# --- hygiene --------------------------------------------------------------------------------

_RAW_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f\u0085\u2028\u2029\u202a-\u202e\u2066-\u2069]")


def raw_control(text: str) -> bool:
    """Does the line carry unescaped control characters (ESC, CR, bidi overrides…)?"""
    return bool(_RAW_CONTROL.search(text))


def has_secret(text: str) -> bool:
    """PEM bodies or private keys written into a log line (CWE-532)."""
    return "PRIVATE KEY-----" in text or "-----BEGIN CERTIFICATE-----" in text
