"""The data that crosses stage boundaries: targets, attempts, evidence, findings and scans.

Three layers, three kinds of model (DESIGN §3): a probe says what to send; an
``Attempt`` plus its ``Evidence`` records what happened (facts only); a ``Finding`` is a
judgement made afterwards by :mod:`mtlsaudit.judge`. Everything here is a frozen pydantic
model so a stored scan can be re-read and re-judged offline.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Severity(StrEnum):
    """Finding severity, most severe first."""

    CRITICAL = "critical"
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"
    INFO = "info"

    @property
    def rank(self) -> int:
        """Higher is more severe (info=0 … critical=4)."""
        return {"info": 0, "low": 1, "medium": 2, "high": 3, "critical": 4}[self.value]


class Need(StrEnum):
    """Trust material a probe needs (DESIGN §4 `needs`)."""

    CA = "ca"
    CLIENT = "client"


class TlsVersion(StrEnum):
    TLS1_3 = "TLSv1.3"
    TLS1_2 = "TLSv1.2"
    # Only offered by the key-exchange probes' raw hellos.
    TLS1_1 = "TLSv1.1"
    TLS1_0 = "TLSv1"
    SSL3 = "SSLv3"

    @property
    def short(self) -> str:
        """``1.3``, ``1.2``, ``1.1``, ``1.0``, ``SSL3`` (for tables)."""
        return {"TLSv1": "1.0", "SSLv3": "SSL3"}.get(self.value, self.value.replace("TLSv", ""))


class OutcomeKind(StrEnum):
    """What the server did with one attempt (DESIGN §2 `outcome`)."""

    ACCEPTED = "accepted"
    REJECTED_HANDSHAKE = "rejected_handshake"
    REJECTED_AFTER_HANDSHAKE = "rejected_after_handshake"
    REJECTED_HTTP = "rejected_http"
    CLOSED_SILENTLY = "closed_silently"
    MISDIRECTED = "misdirected"
    ERROR = "error"

    @property
    def is_rejection(self) -> bool:
        return self in {
            OutcomeKind.REJECTED_HANDSHAKE,
            OutcomeKind.REJECTED_AFTER_HANDSHAKE,
            OutcomeKind.REJECTED_HTTP,
            OutcomeKind.CLOSED_SILENTLY,
        }


class Outcome(_Frozen):
    """The server's answer: a TLS alert name, an HTTP status, or an error reason."""

    kind: OutcomeKind
    alert: str | None = None
    http_status: int | None = None
    reason: str | None = None

    def __str__(self) -> str:
        detail = self.alert or (str(self.http_status) if self.http_status else None) or self.reason
        return f"{self.kind.value}({detail})" if detail else self.kind.value

    def short(self) -> str:
        """Compact form for tables: ``alert unknown_ca``, ``HTTP 400``, ``closed``."""
        k = self.kind
        if k is OutcomeKind.ACCEPTED:
            return f"accepted {self.http_status or ''}".strip()
        if k is OutcomeKind.REJECTED_HANDSHAKE:
            return f"alert {self.alert}"
        if k is OutcomeKind.REJECTED_AFTER_HANDSHAKE:
            return f"alert {self.alert} (after hs)"
        if k in (OutcomeKind.REJECTED_HTTP, OutcomeKind.MISDIRECTED):
            return f"HTTP {self.http_status}"
        if k is OutcomeKind.CLOSED_SILENTLY:
            return "closed"
        return f"error: {(self.reason or '')[:40]}"


class MatchKind(StrEnum):
    """How a log record was tied to an attempt, strongest first (DESIGN §5)."""

    EXACT = "exact"
    ENDPOINT = "endpoint"
    REASON_TIME = "reason+time"
    TIME = "time"


class EvidenceStatus(StrEnum):
    LOGGED = "logged"
    LOGGED_LATE = "logged_late"
    NOT_LOGGED = "not_logged"
    INCONCLUSIVE = "inconclusive"


class ReasonQuality(StrEnum):
    """How well a record's stated reason fits the injected defect."""

    SPECIFIC = "specific"
    GENERIC = "generic"
    CONTRADICTING = "contradicting"
    NONE = "none"


class Target(_Frozen):
    """One mTLS endpoint."""

    name: str
    host: str
    port: int = Field(ge=1, le=65535)
    sni: str | None = None
    path_prefix: str = "/.well-known/mtlsaudit"


class Markers(_Frozen):
    """Greppable tokens that tie log lines to one attempt (DESIGN §5, layer 1)."""

    serials_hex: list[str] = []
    serials_dec: list[str] = []
    sha256: list[str] = []
    sha1: list[str] = []
    common_names: list[str] = []
    http_path: str | None = None
    user_agent: str | None = None
    forged_token: str | None = None


class Attempt(_Frozen):
    """One execution of a probe: what was sent and what the server did."""

    attempt_id: str
    probe_id: str
    tls_version: TlsVersion
    started_at: datetime
    ended_at: datetime
    local_ip: str | None = None
    local_port: int | None = None
    negotiated_version: str | None = None
    outcome: Outcome
    markers: Markers
    expects_acceptance: bool = False
    expected_reasons: list[str] = []
    subject: str | None = None
    note: str | None = None


class GradedFields(_Frozen):
    """What one log record says, graded against DESIGN §6."""

    timestamp: str | None = None
    timestamp_has_zone: bool = False
    level: str | None = None
    severity_number: int | None = None
    reason: str | None = None
    reason_quality: ReasonQuality = ReasonQuality.NONE
    identity: list[str] = []
    source_ip: str | None = None
    source_port: int | None = None
    structured: str = "text"
    injection: str | None = None
    secret: bool = False


class LogRecord(_Frozen):
    """One line (or multi-line record) read from a source during the scan window."""

    source: str
    line: str
    seen_at: datetime
    line_no: int = 0


class EvidenceRecord(_Frozen):
    source: str
    line: str
    match: MatchKind | None
    marker: str | None = None
    late: bool = False
    fields: GradedFields


class Evidence(_Frozen):
    status: EvidenceStatus
    records: list[EvidenceRecord] = []


class AttemptResult(Attempt):
    """An attempt with the evidence the correlator attributed to it."""

    evidence: Evidence


class SkippedProbe(_Frozen):
    probe_id: str
    reason: str


class Finding(_Frozen):
    """A judgement about the target (DESIGN §7)."""

    finding_id: str
    rule_id: str
    severity: Severity
    probe_id: str | None = None
    tls_version: TlsVersion | None = None
    attempt_id: str | None = None
    cwe: list[int]
    title: str
    detail: str
    remediation: str


class RevocationFetch(_Frozen):
    """A request the target made to the scanner's CRL/OCSP responder during the scan."""

    at: datetime
    client: str
    kind: str  # "crl" or "ocsp"
    detail: str


class ScanFacts(_Frozen):
    """Everything a scan observed, before judgement; re-judgeable offline."""

    scan_id: str
    tool_version: str
    target: Target
    started_at: datetime
    ended_at: datetime
    probe_seconds: float
    sources: list[str]
    trust_material: list[Need]
    tls_versions: list[TlsVersion]
    attempts: list[AttemptResult]
    skipped: list[SkippedProbe]
    unattributed: list[EvidenceRecord]
    notes: list[str] = []
    revocation_fetches: list[RevocationFetch] = []


class ScanReport(ScanFacts):
    """Facts plus judgement: the JSON report's unit (one per target)."""

    schema_version: str
    score: int = Field(ge=0, le=100)
    grade: str
    coverage: float | None = Field(default=None, ge=0.0, le=1.0)
    findings: list[Finding]


class MultiReport(_Frozen):
    """Several scans in one document (`mtlsaudit demo --format json`)."""

    schema_version: str
    tool_version: str
    scans: list[ScanReport]
