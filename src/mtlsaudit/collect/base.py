"""The source interface and the registry that turns a log spec (a URL) into a source."""

from __future__ import annotations

import datetime as dt
import importlib
import pkgutil
import re
from collections.abc import Callable
from typing import Protocol

from mtlsaudit.errors import UsageError
from mtlsaudit.models import LogRecord


class Source(Protocol):
    """Somewhere log records come from. ``start`` marks the scan window's beginning."""

    name: str

    def start(self) -> None:
        """Remember the current position; later reads return only what came after it."""

    def read_new(self) -> list[str]:
        """Lines that appeared since the last call (complete lines only)."""

    def flush(self) -> list[str]:
        """The unfinished last line, if any (called once when the scan window closes)."""

    def close(self) -> None:
        """Release resources."""


SourceFactory = Callable[[str], Source]
_REGISTRY: dict[str, SourceFactory] = {}


def register(scheme: str) -> Callable[[SourceFactory], SourceFactory]:
    def wrap(factory: SourceFactory) -> SourceFactory:
        _REGISTRY[scheme] = factory
        return factory

    return wrap


def _discover() -> None:
    import mtlsaudit.collect as pkg

    for info in pkgutil.iter_modules(pkg.__path__):
        if info.name != "base" and not info.name.startswith("_"):
            importlib.import_module(f"{pkg.__name__}.{info.name}")


def open_source(spec: str) -> Source:
    """Build a source from a spec such as ``file:/var/log/nginx/error.log``."""
    _discover()
    scheme, sep, _ = spec.partition(":")
    if not sep or scheme not in _REGISTRY:
        known = ", ".join(f"{s}:" for s in sorted(_REGISTRY))
        hint = f" (did you mean file:{spec}?)" if not sep and spec.startswith("/") else ""
        raise UsageError(f"unknown log spec {spec!r}{hint}; known kinds: {known}")
    return _REGISTRY[scheme](spec)


#: Lines that continue the record before them rather than start one. General shapes, not
#: one server's wording: indented lines (stack frames, wrapped messages), Python's
#: traceback headers, the exception line that ends a traceback, and a lone closing
#: bracket (Node's console.error of an Error object ends with "}").
_CONTINUATION = re.compile(
    r"^(?:[ \t]+\S"
    r"|Traceback \(most recent call last\):"
    r"|During handling of the above exception"
    r"|The above exception was the direct cause"
    r"|[}\])]+[;,]?\s*$)"
)
_EXCEPTION_LINE = re.compile(r"^[A-Za-z_][\w.]*(?:Error|Exception|Exit|Interrupt|Warning)\b:?")
_MAX_RECORD = 64 * 1024


def continues(line: str, previous: str) -> bool:
    """Does ``line`` belong to the record whose text so far is ``previous``?"""
    if _CONTINUATION.match(line):
        return True
    # "ssl.SSLError: [SSL: …] …" closes a traceback whose last line was an indented frame.
    last = previous.rsplit("\n", 1)[-1]
    return "Traceback (most recent call last):" in previous and last[:1] in " \t" and bool(_EXCEPTION_LINE.match(line))


class Collector:
    """Reads every source during a scan and stamps each record with when it was first seen.

    Continuation lines (see :func:`continues`) are joined to the record before them with
    a newline, so a traceback or a multi-line error dump is one record. A record is held
    back until the next line shows it is complete, or until the final poll.
    """

    def __init__(self, sources: list[Source]) -> None:
        self.sources = sources
        self.records: list[LogRecord] = []
        self._line_no: dict[str, int] = {}
        self._pending: dict[str, LogRecord] = {}

    def start(self) -> None:
        for source in self.sources:
            source.start()

    def poll(self, final: bool = False) -> int:
        """Read what is new everywhere; return how many records were completed."""
        now = dt.datetime.now(dt.UTC)
        before = len(self.records)
        for source in self.sources:
            lines = source.read_new() + (source.flush() if final else [])
            for line in lines:
                n = self._line_no.get(source.name, 0) + 1
                self._line_no[source.name] = n
                pending = self._pending.get(source.name)
                if pending is not None and continues(line, pending.line) and len(pending.line) < _MAX_RECORD:
                    self._pending[source.name] = pending.model_copy(update={"line": f"{pending.line}\n{line}"})
                    continue
                if pending is not None:
                    self.records.append(pending)
                self._pending[source.name] = LogRecord(source=source.name, line=line, seen_at=now, line_no=n)
            if final and source.name in self._pending:
                self.records.append(self._pending.pop(source.name))
        return len(self.records) - before

    def close(self) -> None:
        for source in self.sources:
            source.close()
