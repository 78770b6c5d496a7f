"""The real-server matrix: every target variant, its verdicts, and its ground truth.

A *verdict* is what the scan concluded about one attempt: the enforcement outcome, the
evidence status, the strongest match kind, and which graded fields the attributed
records carry. The ground truth (tests/groundtruth/<variant>.toml) states, per probe
and TLS version, the acceptable outcomes and the expected status, match and fields,
each established from the real log lines (an example line is kept as a comment).

A race in the server's own output (e.g. concurrent threads interleaving tracebacks) is
written as ``fields_alt``, by hand, with a comment; a re-record keeps it.

Record a draft for a new variant (then read every line before committing it):

    .venv/bin/python tests/matrix.py record haproxy-default
"""

from __future__ import annotations

import asyncio
import sys
import tomllib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from mtlsaudit.collect.file import FileSource
from mtlsaudit.correlate.fields import WARN
from mtlsaudit.judge import judge
from mtlsaudit.models import AttemptResult, EvidenceRecord, MatchKind, ReasonQuality, ScanReport, Target
from mtlsaudit.remediate import remedy
from mtlsaudit.scan import ScanOptions, TrustMaterial, run_scan
from servers import (
    RunningServer,
    TestPki,
    start_apache,
    start_go,
    start_haproxy,
    start_nginx,
    start_node,
    start_python,
)

GROUND_TRUTH = Path(__file__).parent / "groundtruth"
MATRIX_OPTIONS = ScanOptions(settle=0.4, late=0.3, timeout=5)

Starter = Callable[[str, TestPki, Path, str, bool], RunningServer]


@dataclass(frozen=True)
class Variant:
    key: str  # file stem of the ground truth, e.g. "haproxy-default"
    target: str  # nginx, haproxy, apache, node, go, python
    variant: str  # passed to the starter
    start: Starter
    remediation: str | None = None  # `mtlsaudit remediate <this>` applied
    about: str = ""
    crl: bool = False  # the server checks the CA's CRL (the one `--crl-out` writes)

    def launch(self, pki: TestPki, prefix: Path) -> RunningServer:
        snippet = remedy(self.remediation).snippet() if self.remediation else ""
        return self.start(self.variant, pki, prefix, snippet, self.crl)


VARIANTS: list[Variant] = [
    Variant("nginx-default", "nginx", "default", start_nginx, about="Debian default logging"),
    Variant("nginx-remediated", "nginx", "default", start_nginx, "nginx", "remediate nginx applied"),
    Variant("haproxy-default", "haproxy", "default", start_haproxy, about="log stdout (syslog framing)"),
    Variant("haproxy-remediated", "haproxy", "default", start_haproxy, "haproxy", "error-log-format"),
    Variant("haproxy-deny", "haproxy", "deny", start_haproxy, about="verify optional + http-request deny"),
    Variant("apache-default", "apache", "default", start_apache, about="LogLevel warn"),
    Variant("apache-remediated", "apache", "default", start_apache, "apache", "ssl:info + SSL_CLIENT_* log"),
    Variant("node-article", "node", "article", start_node, about="the article's first example"),
    Variant("node-tlsclienterror", "node", "tlsclienterror", start_node, about="tlsClientError listener"),
    Variant("node-remediated", "node", "manual", start_node, "node", "manual socket.authorized check"),
    Variant("go-default", "go", "default", start_go, about="RequireAndVerifyClientCert, default ErrorLog"),
    Variant("go-remediated", "go", "verifypeer", start_go, "go", "VerifyPeerCertificate that logs"),
    Variant("python-stdlib", "python", "stdlib_default", start_python, about="ssl.wrap_socket + http.server"),
    Variant("python-threaded", "python", "stdlib_thread", start_python, about="handshake in the worker thread"),
    Variant("python-uvicorn", "python", "uvicorn_default", start_python, about="uvicorn --ssl-cert-reqs 2"),
    Variant("python-remediated", "python", "guard", start_python, "python", "mtlsaudit.guard"),
    # Revocation checking on (issue: kex, malformed and revocation probes). Go's own
    # crypto/tls has no CRL support: go-default shows what that means; the remediation checks it.
    Variant("nginx-crl", "nginx", "default", start_nginx, "nginx", "remediated + ssl_crl + ssl_ocsp leaf", True),
    Variant("haproxy-crl", "haproxy", "default", start_haproxy, "haproxy", "remediated + crl-file", True),
    Variant("apache-crl", "apache", "default", start_apache, "apache", "remediated + SSLCARevocationFile", True),
    Variant("node-crl", "node", "manual", start_node, "node", "remediated + crl option", True),
    Variant("go-crl", "go", "verifypeer", start_go, "go", "remediated, CRL checked in verify()", True),
    Variant("python-crl", "python", "stdlib_default", start_python, about="VERIFY_CRL_CHECK_LEAF", crl=True),
    # mtlsaudit.guard on uvicorn (issue: guard): asyncio protocol wrapper + ASGI middleware.
    Variant("python-uvicorn-guard", "python", "uvicorn_guard", start_python, about="uvicorn + guard", crl=True),
    Variant("python-hypercorn", "python", "hypercorn_default", start_python, about="hypercorn verify_mode"),
    Variant("python-hypercorn-guard", "python", "hypercorn_guard", start_python, about="hypercorn + guard", crl=True),
]
BY_KEY = {v.key: v for v in VARIANTS}


def scan(server: RunningServer, pki: TestPki, name: str, options: ScanOptions = MATRIX_OPTIONS) -> ScanReport:
    target = Target(name=name, host="127.0.0.1", port=server.port, sni="localhost")
    sources = [FileSource(f"file:{p}") for p in server.logs.values()]
    trust = TrustMaterial(ca=pki.ca, client=pki.client)
    return judge(asyncio.run(run_scan(target, trust, sources, options)))


# --- verdicts ------------------------------------------------------------------------------

_MATCH_RANK = [MatchKind.EXACT, MatchKind.ENDPOINT, MatchKind.REASON_TIME, MatchKind.TIME]


@dataclass(frozen=True)
class Verdict:
    outcome: str
    status: str
    match: str
    fields: frozenset[str]


def fields_of(a: AttemptResult) -> frozenset[str]:
    """reason | generic | contradicting, identity, ip, port, time, and warn | info (stated levels)."""
    recs = [r.fields for r in a.evidence.records]
    out: set[str] = set()
    qualities = {f.reason_quality for f in recs}
    for q, label in (
        (ReasonQuality.SPECIFIC, "reason"),
        (ReasonQuality.CONTRADICTING, "contradicting"),
        (ReasonQuality.GENERIC, "generic"),
    ):
        if q in qualities:
            out.add(label)
            break
    if any(f.identity for f in recs):
        out.add("identity")
    if any(f.source_ip for f in recs):
        out.add("ip")
    if any(f.source_port for f in recs):
        out.add("port")
    if any(f.timestamp for f in recs):
        out.add("time")
    levels = [f.severity_number for f in recs if f.severity_number is not None]
    if levels:
        out.add("warn" if min(levels) <= WARN else "info")  # syslog scale: lower is more severe
    return frozenset(out)


def verdict(a: AttemptResult) -> Verdict:
    kinds = {r.match for r in a.evidence.records}
    match = next((k.value for k in _MATCH_RANK if k in kinds), "none")
    return Verdict(a.outcome.kind.value, a.evidence.status.value, match, fields_of(a))


def tag_of(a: AttemptResult) -> str:
    return a.attempt_id.split("@", 1)[1]


# --- ground truth --------------------------------------------------------------------------


@dataclass(frozen=True)
class Expected:
    outcomes: frozenset[str]
    status: str
    match: str
    fields: frozenset[str]
    #: Other field sets the server's own output can race into (``fields_alt`` in the file,
    #: each use commented there with the reason).
    fields_alt: tuple[frozenset[str], ...] = ()

    def mismatches(self, v: Verdict) -> list[str]:
        out = []
        if v.outcome not in self.outcomes:
            out.append(f"outcome {v.outcome} not in {sorted(self.outcomes)}")
        if v.status != self.status:
            out.append(f"status {v.status} != {self.status}")
        if v.match != self.match:
            out.append(f"match {v.match} != {self.match}")
        if v.fields != self.fields and v.fields not in self.fields_alt:
            out.append(f"fields {sorted(v.fields)} != {sorted(self.fields)}")
        return out


def load_truth(key: str) -> dict[tuple[str, str], Expected]:
    doc = tomllib.loads((GROUND_TRUTH / f"{key}.toml").read_text())
    out: dict[tuple[str, str], Expected] = {}
    for probe, tags in doc["expect"].items():
        for tag, e in tags.items():
            out[(probe, tag)] = Expected(
                frozenset(e["outcome"]),
                e["status"],
                e["match"],
                frozenset(e.get("fields", [])),
                tuple(frozenset(alt) for alt in e.get("fields_alt", [])),
            )
    return out


def compare(report: ScanReport, truth: dict[tuple[str, str], Expected]) -> list[tuple[str, list[str]]]:
    """(attempt id, mismatches) for every attempt and every ground-truth entry not scanned."""
    rows: list[tuple[str, list[str]]] = []
    seen = set()
    for a in report.attempts:
        key = (a.probe_id, tag_of(a))
        seen.add(key)
        expected = truth.get(key)
        rows.append((a.attempt_id, ["no ground truth"] if expected is None else expected.mismatches(verdict(a))))
    for probe, tag in truth.keys() - seen:
        rows.append((f"{probe}@{tag}", ["in the ground truth but not scanned"]))
    return rows


# --- recording a draft ---------------------------------------------------------------------


def _toml_list(items: frozenset[str] | set[str]) -> str:
    return "[" + ", ".join(f'"{x}"' for x in sorted(items)) + "]"


def _example(a: AttemptResult) -> str | None:
    """The most telling attributed line: strongest match, then reason, then identity."""

    def key(r: EvidenceRecord) -> tuple[int, bool, bool]:
        rank = _MATCH_RANK.index(r.match) if r.match else len(_MATCH_RANK)
        return rank, r.fields.reason_quality is not ReasonQuality.SPECIFIC, not r.fields.identity

    recs = sorted((r for r in a.evidence.records if r.match is not None), key=key)
    return recs[0].line if recs else None


def draft(variant: Variant, reports: list[ScanReport]) -> str:
    """A ground-truth draft from several scans (outcomes are unioned across runs)."""
    first = reports[0]
    lines = [
        f"# Ground truth: {variant.key} ({variant.about or variant.variant}).",
        "# Each entry was checked against the real log lines; the comment shows one of them.",
        "# outcome: acceptable enforcement outcomes; status/match: evidence; fields: what the",
        "# attributed records carry (reason|generic|contradicting, identity, ip, port, time, warn|info).",
        "",
    ]
    # Hand-reviewed alternatives (races in the server's own output) survive a re-record.
    previous = load_truth(variant.key) if (GROUND_TRUTH / f"{variant.key}.toml").exists() else {}
    current = None
    for a in first.attempts:
        if a.probe_id != current:
            current = a.probe_id
            lines += ["", f'[expect."{a.probe_id}"]']
            if any(previous.get((a.probe_id, tag_of(b))) and previous[(a.probe_id, tag_of(b))].fields_alt
                   for b in first.attempts if b.probe_id == a.probe_id):  # fmt: skip
                lines.append("# fields_alt kept from the reviewed file: the server's own output races here.")
        outcomes = {
            r.attempts[i].outcome.kind.value
            for r in reports
            for i in range(len(r.attempts))
            if r.attempts[i].attempt_id == a.attempt_id
        }
        if tag_of(a).startswith("t13") and "rejected_after_handshake" in outcomes:
            # TLS 1.3: the server's alert races the client's first write; losing it shows
            # as a silent close (research notes §2.10). Both are the same rejection.
            outcomes.add("closed_silently")
        v = verdict(a)
        others = {
            (w.status, w.match, w.fields)
            for r in reports
            for b in r.attempts
            if b.attempt_id == a.attempt_id and (w := verdict(b))
        }
        if len(others) > 1:
            print(f"UNSTABLE {variant.key} {a.attempt_id}: {sorted(others, key=str)}", file=sys.stderr)
            lines.append(f"# UNSTABLE across {len(reports)} runs: {sorted(others, key=str)}")
        example = _example(a)
        if example:
            example = example.replace(first.scan_id, "<scan>")
            parts = example.split("\n")
            if len(parts) > 1:  # a multi-line record: its first and last line
                example = f"{parts[0][:150]} [… {len(parts) - 2} more lines …] {parts[-1]}"
            # Raw control characters (an injected ESC or CR) cannot stand in a TOML comment.
            example = "".join(c if c.isprintable() else f"\\x{ord(c):02x}" for c in example)
            lines.append(f"# {example[:260]}")
        else:
            lines.append("# (no line)")
        alt = previous.get((a.probe_id, tag_of(a)))
        extra = ""
        if alt is not None and alt.fields_alt:
            extra = ", fields_alt = [" + ", ".join(_toml_list(f) for f in alt.fields_alt) + "]"
        lines.append(
            f'"{tag_of(a)}" = {{ outcome = {_toml_list(outcomes)}, status = "{v.status}", '
            f'match = "{v.match}", fields = {_toml_list(v.fields)}{extra} }}'
        )
    return "\n".join(lines) + "\n"


def _record(keys: list[str], runs: int = 3) -> None:
    import tempfile

    base = Path(tempfile.mkdtemp(prefix="mtlsaudit-matrix-"))
    pki = TestPki.create(base / "pki")
    for key in keys:
        variant = BY_KEY[key]
        reports = []
        for run in range(runs):
            # A fresh server per run: no state (rate limits, caches) carries over.
            server = variant.launch(pki, base / f"{key}-{run}")
            try:
                reports.append(scan(server, pki, key))
            finally:
                server.stop()
        (GROUND_TRUTH / f"{key}.toml").write_text(draft(variant, reports))
        print(f"wrote {GROUND_TRUTH / f'{key}.toml'}")


if __name__ == "__main__":
    if len(sys.argv) < 3 or sys.argv[1] != "record":
        sys.exit(f"usage: {sys.argv[0]} record VARIANT... | all  (variants: {', '.join(BY_KEY)})")
    _record(list(BY_KEY) if sys.argv[2] == "all" else sys.argv[2:])
