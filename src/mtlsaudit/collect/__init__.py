"""Collectors: where log records come from (DESIGN §2 `source`)."""

from mtlsaudit.collect.base import Collector, Source, open_source

__all__ = ["Collector", "Source", "open_source"]
