"""The terminal report: score, attempts with their evidence, and findings, as rich tables."""

from __future__ import annotations

from collections import defaultdict

from rich.console import Console, Group
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from mtlsaudit.correlate.fields import WARN
from mtlsaudit.models import (
    AttemptResult,
    EvidenceStatus,
    Finding,
    OutcomeKind,
    ReasonQuality,
    ScanReport,
    Severity,
)

_SEV_STYLE = {
    Severity.CRITICAL: "bold white on red",
    Severity.HIGH: "bold red",
    Severity.MEDIUM: "yellow",
    Severity.LOW: "cyan",
    Severity.INFO: "dim",
}
_GRADE_STYLE = {"A": "bold green", "B": "green", "C": "yellow", "D": "red", "F": "bold red"}
_STATUS_STYLE = {
    EvidenceStatus.LOGGED: "green",
    EvidenceStatus.LOGGED_LATE: "yellow",
    EvidenceStatus.NOT_LOGGED: "bold red",
    EvidenceStatus.INCONCLUSIVE: "dim",
}


def _outcome_text(a: AttemptResult) -> Text:
    kind = a.outcome.kind
    ok_reject = kind.is_rejection and not a.expects_acceptance
    ok_accept = kind is OutcomeKind.ACCEPTED and a.expects_acceptance
    style = "green" if ok_reject or ok_accept else "dim" if kind is OutcomeKind.ERROR else "bold red"
    return Text(a.outcome.short(), style=style)


def field_letters(a: AttemptResult) -> Text:
    """R reason (r: generic, x: contradicting), I identity, A address, W level ≥ WARN, T time."""
    recs = a.evidence.records
    if not recs:
        return Text("-", style="dim")
    best = {q for r in recs for q in [r.fields.reason_quality]}
    reason = (
        "R"
        if ReasonQuality.SPECIFIC in best
        else "x"
        if ReasonQuality.CONTRADICTING in best
        else "r"
        if ReasonQuality.GENERIC in best
        else "·"
    )
    identity = "I" if any(r.fields.identity for r in recs) else "·"
    source = "A" if any(r.fields.source_ip for r in recs) else "·"
    levels = [r.fields.severity_number for r in recs if r.fields.severity_number is not None]
    level = "W" if levels and min(levels) <= WARN else ("w" if levels else "·")
    stamp = "T" if any(r.fields.timestamp for r in recs) else "·"
    return Text(f"{reason}{identity}{source}{level}{stamp}")


def _probe_label(a: AttemptResult) -> str:
    label = a.attempt_id.split("@")[0]
    return f"{label} {a.attempt_id.rsplit('-', 1)[-1]}" if "-gen" in a.attempt_id else label


def _match_text(a: AttemptResult) -> str:
    kinds = sorted({r.match.value for r in a.evidence.records if r.match is not None})
    return ",".join(kinds) or "-"


def _header(report: ScanReport) -> Text:
    t = report.target
    cov = "n/a" if report.coverage is None else f"{report.coverage:.0%}"
    head = Text()
    endpoint = f"{t.host}:{t.port}"
    if t.name != endpoint:
        head.append(f"{t.name}  ", style="bold")
    head.append(endpoint + (f" (SNI {t.sni})" if t.sni else ""), style="bold" if t.name == endpoint else "")
    head.append("   grade ")
    head.append(report.grade, style=_GRADE_STYLE.get(report.grade, ""))
    head.append(f"  score {report.score}/100  logging coverage {cov}")
    return head


def attempts_table(report: ScanReport) -> Table:
    table = Table(show_edge=False, pad_edge=False, expand=False)
    for col in ("probe", "TLS", "server did", "log", "match", "RIAWT"):
        table.add_column(col, no_wrap=True, overflow="ellipsis", min_width=3)
    for a in report.attempts:
        table.add_row(
            _probe_label(a),
            a.tls_version.short,
            _outcome_text(a),
            Text(a.evidence.status.value, style=_STATUS_STYLE[a.evidence.status]),
            _match_text(a),
            field_letters(a),
        )
    return table


def findings_table(report: ScanReport) -> Table:
    grouped: dict[tuple[str, str | None], list[str]] = defaultdict(list)
    first: dict[tuple[str, str | None], Finding] = {}
    for f in report.findings:
        key = (f.rule_id, f.probe_id)
        grouped[key].append(f.tls_version.short if f.tls_version else "")
        first.setdefault(key, f)
    table = Table(show_edge=False, pad_edge=False)
    for col in ("severity", "rule", "probe", "TLS", "what"):
        table.add_column(col, no_wrap=True, overflow="ellipsis")
    order = sorted(grouped, key=lambda k: (-first[k].severity.rank, k[0], k[1] or ""))
    for key in order:
        f = first[key]
        table.add_row(
            Text(f.severity.value, style=_SEV_STYLE[f.severity]),
            f.rule_id,
            f.probe_id or "-",
            ",".join(sorted(set(grouped[key]))),
            f.title.split(":")[0],
        )
    return table


def render_text(report: ScanReport, console: Console, verbose: bool = False) -> None:
    """Print one scan: header, attempts, findings, notes, skipped probes."""
    parts: list[object] = [attempts_table(report)]
    if report.findings:
        parts += [
            Text(""),
            Text(f"{len(report.findings)} findings", style="bold"),
            findings_table(report),
        ]
    else:
        parts += [Text(""), Text("no findings", style="bold green")]
    for s in report.skipped:
        parts.append(Text(f"not run: {s.probe_id}: {s.reason}", style="dim"))
    for note in report.notes:
        parts.append(Text(f"note: {note}", style="yellow"))
    if report.unattributed:
        parts.append(
            Text(
                f"{len(report.unattributed)} log line(s) in the scan window matched no attempt",
                style="dim",
            )
        )
    if verbose:
        for a in report.attempts:
            for r in a.evidence.records:
                parts.append(Text(f"  {a.attempt_id} [{r.match}] {r.source}: {r.line[:200]}", style="dim"))
    parts.append(
        Text(
            "RIAWT: Reason (r generic, x wrong) · Identity · Address · Warn level (w lower) · Timestamp",
            style="dim",
        )
    )
    console.print(Panel(Group(*parts), title=_header(report), title_align="left"))  # type: ignore[arg-type]


def render_comparison(reports: list[ScanReport], console: Console) -> None:
    """Several scans of the same probe set, one column per target (the demo's view)."""
    table = Table(title="same probes, different logging", show_lines=False)
    table.add_column("probe @ TLS", no_wrap=True, min_width=20)
    for r in reports:
        table.add_column(f"{r.target.name}\nserver did / log / RIAWT", no_wrap=True)
    rows: dict[str, list[AttemptResult | None]] = {}
    for col, r in enumerate(reports):
        for a in r.attempts:
            rows.setdefault(a.attempt_id, [None] * len(reports))[col] = a
    for cells in rows.values():
        sample = next(c for c in cells if c is not None)
        version = sample.tls_version.short
        rendered: list[Text | str] = [f"{_probe_label(sample)} @{version}"]
        for c in cells:
            if c is None:
                rendered.append("")
                continue
            cell = Text()
            cell.append_text(_outcome_text(c))
            cell.append(" / ")
            cell.append(c.evidence.status.value, style=_STATUS_STYLE[c.evidence.status])
            cell.append(" / ")
            cell.append_text(field_letters(c))
            rendered.append(cell)
        table.add_row(*rendered)
    console.print(table)
    summary = Table(show_header=True, title="verdict")
    summary.add_column("target")
    summary.add_column("grade")
    summary.add_column("score")
    summary.add_column("coverage")
    summary.add_column("findings by rule")
    for r in reports:
        by_rule: dict[str, int] = defaultdict(int)
        for f in r.findings:
            by_rule[f.rule_id] += 1
        summary.add_row(
            r.target.name,
            Text(r.grade, style=_GRADE_STYLE.get(r.grade, "")),
            str(r.score),
            "n/a" if r.coverage is None else f"{r.coverage:.0%}",
            " ".join(f"{k}×{v}" for k, v in sorted(by_rule.items())) or "none",
        )
    console.print(summary)
