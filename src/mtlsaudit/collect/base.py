"""The source interface and the registry that turns a log spec (a URL) into a source."""

from __future__ import annotations

import datetime as dt
import importlib
import pkgutil
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


class Collector:
    """Reads every source during a scan and stamps each line with when it was first seen."""

    def __init__(self, sources: list[Source]) -> None:
        self.sources = sources
        self.records: list[LogRecord] = []
        self._line_no: dict[str, int] = {}

    def start(self) -> None:
        for source in self.sources:
            source.start()

    def poll(self, final: bool = False) -> int:
        """Read what is new everywhere; return how many lines arrived."""
        now = dt.datetime.now(dt.UTC)
        count = 0
        for source in self.sources:
            lines = source.read_new() + (source.flush() if final else [])
            for line in lines:
                n = self._line_no.get(source.name, 0) + 1
                self._line_no[source.name] = n
                self.records.append(LogRecord(source=source.name, line=line, seen_at=now, line_no=n))
                count += 1
        return count

    def close(self) -> None:
        for source in self.sources:
            source.close()
