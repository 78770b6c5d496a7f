"""Reports: the terminal view and the JSON data contract."""

from mtlsaudit.report.json import render_json, render_multi_json, schema
from mtlsaudit.report.text import render_comparison, render_text

__all__ = ["render_comparison", "render_json", "render_multi_json", "render_text", "schema"]
