"""mtlsaudit: audit mutual-TLS endpoints for insufficient logging (CWE-778, OWASP A09)."""

from mtlsaudit._version import __version__
from mtlsaudit.errors import MtlsauditError, TargetUnreachable, UsageError
from mtlsaudit.judge import judge
from mtlsaudit.models import ScanFacts, ScanReport, Target
from mtlsaudit.scan import ScanOptions, TrustMaterial, run_scan

__all__ = [
    "MtlsauditError",
    "ScanFacts",
    "ScanOptions",
    "ScanReport",
    "Target",
    "TargetUnreachable",
    "TrustMaterial",
    "UsageError",
    "__version__",
    "judge",
    "run_scan",
]
