"""Tie log records to attempts (DESIGN §5) and grade each attributed record (DESIGN §6).

Layers, strongest first: an exact marker of the attempt in the line; the attempt's
source ``ip:port``; a reason naming the attempt's defect inside its time slot; the only
line in an isolated time slot. A line that matches no attempt is kept as unattributed.
"""

from __future__ import annotations

import datetime as dt
import re
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

from mtlsaudit.correlate import fields as F
from mtlsaudit.correlate.reasons import defect_classes_in, grade_reason, reason_text
from mtlsaudit.models import (
    Attempt,
    AttemptResult,
    Evidence,
    EvidenceRecord,
    EvidenceStatus,
    GradedFields,
    LogRecord,
    Markers,
    MatchKind,
    ReasonQuality,
)

#: How far past an attempt's end a server may still stamp its log line.
SLOT_TOLERANCE = dt.timedelta(milliseconds=50)

_IDENTITY_KINDS = ("subject", "serial", "sha256", "sha1")


def marker_tokens(markers: Markers) -> list[tuple[str, str]]:
    """(token, kind) pairs to search for; kinds are subject/serial/sha256/sha1/http/forged."""
    out: list[tuple[str, str]] = []
    for hexs in markers.serials_hex:
        out.append((hexs, "serial"))
        padded = hexs if len(hexs) % 2 == 0 else "0" + hexs
        out.append((":".join(padded[i : i + 2] for i in range(0, len(padded), 2)), "serial"))
    out += [(d, "serial") for d in markers.serials_dec]
    for kind, values in (("sha256", markers.sha256), ("sha1", markers.sha1)):
        for h in values:
            out.append((h, kind))
            out.append((":".join(h[i : i + 2] for i in range(0, len(h), 2)), kind))
    out += [(cn, "subject") for cn in markers.common_names]
    if markers.http_path:
        # The path's last three segments also appear inside the User-Agent marker.
        out.append(("/".join(markers.http_path.rsplit("/", 3)[1:]), "http"))
    if markers.forged_token:
        out.append((markers.forged_token, "forged"))
    return out


@dataclass
class _Hit:
    attempt: int
    kind: str
    token: str


class _TokenIndex:
    """One compiled alternation over every marker of every attempt (cost ∝ log bytes)."""

    def __init__(self, attempts: list[Attempt]) -> None:
        self.owners: dict[str, list[tuple[int, str]]] = defaultdict(list)
        for i, attempt in enumerate(attempts):
            for token, kind in marker_tokens(attempt.markers):
                if len(token) >= 6:
                    self.owners[token.lower()].append((i, kind))
        tokens = sorted(self.owners, key=len, reverse=True)
        self.regex = re.compile("|".join(re.escape(t) for t in tokens) + r"", re.IGNORECASE) if tokens else None

    def hits(self, text: str) -> list[_Hit]:
        if self.regex is None:
            return []
        out: list[_Hit] = []
        for m in self.regex.finditer(text):
            end = m.end()
            # A token must end where the word ends: "…-t1" must not match "…-t13".
            if end < len(text) and (text[end].isalnum() or text[end] in "-_"):
                continue
            token = m.group(0).lower()
            for index, kind in self.owners[token]:
                out.append(_Hit(index, kind, token))
        return out


def overlaps(stamp: F.Stamp, attempt: Attempt) -> bool:
    start = stamp.at
    end = stamp.at + dt.timedelta(seconds=stamp.resolution)
    return start <= attempt.ended_at + SLOT_TOLERANCE and end >= attempt.started_at - SLOT_TOLERANCE


def grade(
    record: LogRecord,
    parsed: F.ParsedLine,
    attempt: Attempt | None,
    hits: list[_Hit],
    target_port: int | None,
) -> GradedFields:
    """Grade one record; ``attempt`` supplies the markers and the defect to compare with."""
    stamp = F.parse_timestamp(parsed)
    level = F.parse_level(parsed)
    text = parsed.text
    expected = tuple(attempt.expected_reasons) if attempt else ()
    expects_ok = attempt.expects_acceptance if attempt else False
    quality = grade_reason(text, () if expects_ok else expected)
    identity = sorted({h.kind for h in hits if h.kind in _IDENTITY_KINDS})
    src_ip: str | None = None
    src_port: int | None = None
    for ip, port in F.find_endpoints(parsed):
        if attempt is not None and port == attempt.local_port:
            src_ip, src_port = ip, port
            break
        if src_ip is None and port != target_port:
            src_ip, src_port = ip, port
    if src_ip is None:
        src_ip = F.find_ip(parsed)
    injection: str | None = None
    if attempt is not None and attempt.markers.forged_token:
        token = attempt.markers.forged_token.lower()
        cns = [cn.lower() for cn in attempt.markers.common_names]
        low = text.lower()
        if token in low and not any(cn in low for cn in cns):
            injection = "forged record: the injected line stands alone in the log"
        elif F.raw_control(text):
            injection = "raw control characters from the certificate reached the log"
    return GradedFields(
        timestamp=stamp.at.isoformat() if stamp else None,
        timestamp_has_zone=bool(stamp and stamp.has_zone),
        level=level[0] if level else None,
        severity_number=level[1] if level else None,
        reason=reason_text(text) if quality is not ReasonQuality.NONE else None,
        reason_quality=quality,
        identity=identity,
        source_ip=src_ip,
        source_port=src_port,
        structured=parsed.structure,
        injection=injection,
        secret=F.has_secret(text),
    )


def correlate(
    attempts: list[Attempt],
    records: Iterable[LogRecord],
    *,
    have_sources: bool,
    settle: dt.timedelta,
    target_port: int | None = None,
    ignored: list[Attempt] | None = None,
) -> tuple[list[AttemptResult], list[EvidenceRecord]]:
    """Attribute records to attempts; return results per attempt and the unattributed rest.

    ``ignored`` are the scanner's own connections outside the probe set (the preflight):
    records attributable to them are dropped rather than reported as unattributed.
    """
    everything = [*attempts, *(ignored or [])]
    index = _TokenIndex(everything)
    endpoints = {(a.local_ip, a.local_port): i for i, a in enumerate(everything) if a.local_port is not None}
    matched: dict[int, list[EvidenceRecord]] = defaultdict(list)
    leftovers: list[tuple[LogRecord, F.ParsedLine]] = []

    def attach(
        i: int,
        rec: LogRecord,
        parsed: F.ParsedLine,
        kind: MatchKind,
        marker: str | None,
        hits: list[_Hit],
    ) -> None:
        if i >= len(attempts):
            return  # the scanner's own preflight connection
        attempt = attempts[i]
        late = rec.seen_at > attempt.ended_at + settle
        matched[i].append(
            EvidenceRecord(
                source=rec.source,
                line=rec.line,
                match=kind,
                marker=marker,
                late=late,
                fields=grade(rec, parsed, attempt, [h for h in hits if h.attempt == i], target_port),
            )
        )

    for rec in records:
        parsed = F.parse_line(rec.line)
        hits = index.hits(rec.line)
        if hits:
            by_attempt: dict[int, set[str]] = defaultdict(set)
            for h in hits:
                by_attempt[h.attempt].add(h.token)
            # A token owned by one attempt decides; tokens shared by several (a rotated
            # identity's CN) attach the line to all of them.
            unique = {h.attempt for h in hits if len(index.owners[h.token]) == 1}
            chosen = unique or set(by_attempt)
            for i in sorted(chosen):
                marker = sorted(by_attempt[i], key=len)[0]
                attach(i, rec, parsed, MatchKind.EXACT, marker, hits)
            continue
        eps = [endpoints[(ip, port)] for ip, port in F.find_endpoints(parsed) if (ip, port) in endpoints]
        if eps:
            for i in sorted(set(eps)):
                attach(
                    i,
                    rec,
                    parsed,
                    MatchKind.ENDPOINT,
                    f"{everything[i].local_ip}:{everything[i].local_port}",
                    [],
                )
            continue
        leftovers.append((rec, parsed))

    unattributed: list[EvidenceRecord] = []

    def unattributed_record(rec: LogRecord, parsed: F.ParsedLine) -> EvidenceRecord:
        fields = grade(rec, parsed, None, [], target_port)
        return EvidenceRecord(source=rec.source, line=rec.line, match=None, marker=None, fields=fields)

    slotted: dict[int, list[tuple[LogRecord, F.ParsedLine]]] = defaultdict(list)
    for rec, parsed in leftovers:
        stamp = F.parse_timestamp(parsed)
        candidates = [i for i, a in enumerate(attempts) if stamp and overlaps(stamp, a)]
        if stamp and not candidates and any(overlaps(stamp, a) for a in ignored or []):
            continue  # in the slot of the scanner's own preflight connection, and only there
        classes = defect_classes_in(rec.line)
        by_reason = [i for i in candidates if classes & set(attempts[i].expected_reasons)]
        if len(by_reason) == 1:
            attach(by_reason[0], rec, parsed, MatchKind.REASON_TIME, None, [])
        elif len(candidates) == 1:
            slotted[candidates[0]].append((rec, parsed))
        else:
            unattributed.append(unattributed_record(rec, parsed))
    for i, lines in slotted.items():
        if len(lines) == 1 and not matched.get(i):
            rec, parsed = lines[0]
            attach(i, rec, parsed, MatchKind.TIME, None, [])
        else:
            for rec, parsed in lines:
                unattributed.append(unattributed_record(rec, parsed))

    results = []
    for i, attempt in enumerate(attempts):
        recs = matched.get(i, [])
        if not have_sources:
            status = EvidenceStatus.INCONCLUSIVE
        elif not recs:
            status = EvidenceStatus.NOT_LOGGED
        elif all(r.late for r in recs):
            status = EvidenceStatus.LOGGED_LATE
        else:
            status = EvidenceStatus.LOGGED
        results.append(AttemptResult(**attempt.model_dump(), evidence=Evidence(status=status, records=recs)))
    return results, unattributed
