"""The checked-in JSON Schema is exactly what the models generate."""

from __future__ import annotations

import json

from mtlsaudit.report.json import SCHEMA_PATH, schema


def test_checked_in_schema_matches_models():
    assert json.loads(SCHEMA_PATH.read_text()) == json.loads(json.dumps(schema())), (
        "run `make schema` and commit src/mtlsaudit/report/report.schema.json"
    )


def test_schema_requires_the_contract_fields():
    doc = schema()
    assert {"schema_version", "score", "grade", "attempts", "findings", "target"} <= set(doc["required"])
    attempt = doc["$defs"]["AttemptResult"]
    assert {"probe_id", "tls_version", "outcome", "evidence"} <= set(attempt["required"])
    finding = doc["$defs"]["Finding"]
    assert {"rule_id", "severity", "cwe", "title", "detail", "remediation"} <= set(finding["required"])
