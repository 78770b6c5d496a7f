"""ECS events for TLS client authentication, their JSON formatter, and flood control."""

from __future__ import annotations

import datetime as dt
import json
import logging
import threading
import time
from collections import OrderedDict
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes

LOGGER_NAME = "mtlsaudit.guard"


def _utc_millis(at: float) -> str:
    return dt.datetime.fromtimestamp(at, dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class EcsJsonFormatter(logging.Formatter):
    """One JSON object per line: ``@timestamp`` (UTC, ms), ``log.level``, ``message`` and
    the event's ECS fields (passed as ``extra={"ecs": {...}}``).

    ``ensure_ascii`` escapes CR, LF, ESC, every other control character and bidi
    overrides, so a certificate field can neither start a new line nor hide text.
    """

    def format(self, record: logging.LogRecord) -> str:
        doc: dict[str, Any] = {
            "@timestamp": _utc_millis(record.created),
            "log.level": record.levelname.lower(),
            "log.logger": record.name,
            "message": record.getMessage(),
        }
        doc.update(getattr(record, "ecs", {}))
        return json.dumps(doc, ensure_ascii=True, separators=(",", ":"), default=str)


def certificate_fields(cert: x509.Certificate | None) -> dict[str, Any]:
    """ECS ``tls.client.*`` identity of ``cert``: never the PEM body, never a key."""
    if cert is None:
        return {}
    return {
        "tls.client.x509.subject.distinguished_name": cert.subject.rfc4514_string(),
        "tls.client.x509.issuer.distinguished_name": cert.issuer.rfc4514_string(),
        "tls.client.x509.serial_number": format(cert.serial_number, "X"),
        "tls.client.x509.not_after": cert.not_valid_after_utc.isoformat(),
        "tls.client.hash.sha256": cert.fingerprint(hashes.SHA256()).hex().upper(),
    }


class RateLimiter:
    """At most ``burst`` failure events per source per ``window`` seconds; the rest are counted.

    When a source's window ends with suppressed events, the next call for any source
    (or :meth:`drain`) yields one summary per such source with the exact count, so
    nothing is silently lost. Memory is bounded by ``max_sources`` (the oldest windows
    are summarised and forgotten first). Windows are kept in the order they opened, so
    each call only looks at the ones that have ended: constant work per event in a flood.
    """

    def __init__(self, burst: int = 100, window: float = 10.0, max_sources: int = 10_000) -> None:
        self.burst, self.window, self.max_sources = burst, window, max_sources
        self._state: OrderedDict[str, list[float]] = OrderedDict()  # ip -> [start, count, suppressed]
        self._lock = threading.Lock()

    def allow(self, source: str, now: float | None = None) -> tuple[bool, list[tuple[str, int, float]]]:
        """May an event for ``source`` be logged now? Also returns due summaries
        (source, suppressed count, window start)."""
        now = time.monotonic() if now is None else now
        due: list[tuple[str, int, float]] = []
        with self._lock:
            while self._state:
                ip, (start, _, suppressed) = next(iter(self._state.items()))
                if now - start < self.window:
                    break  # every later window opened later still
                if suppressed:
                    due.append((ip, int(suppressed), start))
                del self._state[ip]
            state = self._state.get(source)
            if state is None:
                while len(self._state) >= self.max_sources:
                    ip, (start, _, suppressed) = self._state.popitem(last=False)
                    if suppressed:
                        due.append((ip, int(suppressed), start))
                state = self._state[source] = [now, 0, 0]
            state[1] += 1
            if state[1] <= self.burst:
                return True, due
            state[2] += 1
            return False, due

    def drain(self) -> list[tuple[str, int, float]]:
        """Summaries for every source with suppressed events (e.g. at shutdown)."""
        with self._lock:
            due = [(ip, int(s[2]), s[0]) for ip, s in self._state.items() if s[2]]
            self._state.clear()
        return due


class AuditLog:
    """Emits the guard's events through a stdlib logger (JSON with :class:`EcsJsonFormatter`)."""

    def __init__(self, logger: logging.Logger | None = None, limiter: RateLimiter | None = None) -> None:
        self.logger = logger or logging.getLogger(LOGGER_NAME)
        self.limiter = limiter or RateLimiter()

    def emit(self, level: int, message: str, fields: dict[str, Any], *, limited: bool = True) -> None:
        """Log one event. ``limited`` events (failures) count against the source's rate
        limit; successes are not limited: they need a valid certificate, and an audit
        trail that drops authenticated clients under load would be worse than noise."""
        allowed = True
        if limited:
            allowed, due = self.limiter.allow(str(fields.get("source.ip", "-")))
            for ip, count, _start in due:
                self._summary(ip, count)
        if allowed:
            self.logger.log(level, message, extra={"ecs": {k: v for k, v in fields.items() if v is not None}})

    def close(self) -> None:
        for ip, count, _start in self.limiter.drain():
            self._summary(ip, count)

    def _summary(self, ip: str, count: int) -> None:
        self.logger.warning(
            "mTLS audit events suppressed for one source",
            extra={
                "ecs": {
                    "event.action": "mtls-audit-suppressed",
                    "event.outcome": "unknown",
                    "event.count": count,
                    "source.ip": ip,
                    "event.reason": f"rate limit {self.limiter.burst}/{self.limiter.window:g}s",
                }
            },
        )


def configure_json_logging(stream: Any = None, level: int = logging.INFO) -> logging.Logger:
    """Attach a JSON handler to the guard's logger (for servers without logging set up)."""
    logger = logging.getLogger(LOGGER_NAME)
    handler = logging.StreamHandler(stream)
    handler.setFormatter(EcsJsonFormatter())
    logger.addHandler(handler)
    logger.setLevel(level)
    logger.propagate = False
    return logger


def merge_ecs_fields(_logger: Any, _method: str, event_dict: dict[str, Any]) -> dict[str, Any]:
    """structlog processor: put the guard's ECS fields (``extra={"ecs": ...}`` on the stdlib
    record) into the event dict, so an application that renders its logs with structlog's
    ``ProcessorFormatter`` writes the guard's events in its own format.

    ``foreign_pre_chain=[merge_ecs_fields, ...]`` on the ``ProcessorFormatter``.
    """
    record = event_dict.get("_record")
    fields = getattr(record, "ecs", None)
    if isinstance(fields, dict):
        event_dict.update(fields)
    return event_dict
