"""The JSON report (the product's data contract) and its JSON Schema.

The schema is generated from the pydantic models and checked in as ``report.schema.json``;
a test keeps the two identical, so a model change that is not reflected in the published
schema fails CI.
"""

from __future__ import annotations

import json as _json
from pathlib import Path
from typing import Any

from mtlsaudit._version import __version__
from mtlsaudit.judge import SCHEMA_VERSION
from mtlsaudit.models import MultiReport, ScanReport

SCHEMA_PATH = Path(__file__).with_name("report.schema.json")


def schema() -> dict[str, Any]:
    """The JSON Schema of one scan report, as generated from the models."""
    doc = ScanReport.model_json_schema()
    doc["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    doc["$id"] = f"https://mtlsaudit.invalid/schema/report-{SCHEMA_VERSION}.json"
    return doc


def render_json(report: ScanReport) -> str:
    return report.model_dump_json(indent=2) + "\n"


def render_multi_json(reports: list[ScanReport]) -> str:
    doc = MultiReport(schema_version=SCHEMA_VERSION, tool_version=__version__, scans=reports)
    return doc.model_dump_json(indent=2) + "\n"


def write_schema(path: Path = SCHEMA_PATH) -> None:
    path.write_text(_json.dumps(schema(), indent=2, sort_keys=True) + "\n")
