"""One scan of one target: plan → forge → probe → collect → correlate (judging is separate).

The result is :class:`~mtlsaudit.models.ScanFacts`: facts only, so :mod:`mtlsaudit.judge`
can re-judge it offline. Attempts run one after another by default, which keeps every
attempt in its own time slot; ``slot`` spaces them onto whole-second boundaries for
targets whose logs carry nothing but a coarse timestamp.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import fnmatch
import secrets
import shutil
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes

from mtlsaudit._version import __version__
from mtlsaudit.collect import Collector, Source
from mtlsaudit.correlate import correlate
from mtlsaudit.correlate.correlator import overlaps
from mtlsaudit.correlate.fields import parse_line, parse_timestamp
from mtlsaudit.correlate.reasons import defect_classes_in
from mtlsaudit.errors import TargetUnreachable, UsageError
from mtlsaudit.forge import CA, Credential, name
from mtlsaudit.forge.revocation import revocation_extensions
from mtlsaudit.models import (
    Attempt,
    AttemptResult,
    EvidenceRecord,
    Markers,
    MatchKind,
    Need,
    Outcome,
    OutcomeKind,
    ScanFacts,
    SkippedProbe,
    Target,
    TlsVersion,
)
from mtlsaudit.probes import ForgeContext, Forged, Probe, catalogue
from mtlsaudit.responder import RevocationResponder
from mtlsaudit.transport import ClientMaterial, connect, http_request
from mtlsaudit.transport.canames import advertised_ca_names
from mtlsaudit.transport.hello import send_hello
from mtlsaudit.transport.tls import version_refused
from mtlsaudit.transport.tls13cert import send_tls13_certificate

_TAGS = {TlsVersion.TLS1_3: "t13", TlsVersion.TLS1_2: "t12"}
#: Common names shorter than this are too likely to occur by chance to be markers.
_MIN_CN_MARKER = 8

Progress = Callable[[str, int, int], None]


@dataclass(frozen=True)
class TrustMaterial:
    """What the operator gave us (DESIGN §2)."""

    ca: CA | None = None
    client: Credential | None = None

    @property
    def needs(self) -> list[Need]:
        return [n for n, v in ((Need.CA, self.ca), (Need.CLIENT, self.client)) if v is not None]


@dataclass(frozen=True)
class ScanOptions:
    """Knobs of one scan.

    Attributes:
        probes: glob over probe ids (``chain.*``); comma-separated globs allowed.
        timeout: seconds for each connect, handshake, write and read.
        settle: seconds a record may lag behind its attempt and still count as on time.
        late: further seconds we keep reading; records seen then are ``logged_late``.
        slot: if > 0, start each attempt on a fresh multiple of this many seconds.
        responder_host: address the CRL/OCSP responder listens on; it goes into the revoked
            certificate's URLs, so the target must be able to reach it.
        refine: re-run, each alone in a quiet time slot, the attempts that only
            time-stamped lines could explain (no marker, no ip:port), so that a line
            carrying only a time (and perhaps a reason) can be attributed without guessing.
        versions: TLS versions to try (default: 1.3 and 1.2, as the server speaks them).
    """

    probes: str = "*"
    timeout: float = 5.0
    settle: float = 1.0
    late: float = 2.0
    slot: float = 0.0
    refine: bool = True
    responder_host: str = "127.0.0.1"
    versions: tuple[TlsVersion, ...] = (TlsVersion.TLS1_3, TlsVersion.TLS1_2)


@dataclass
class _Planned:
    probe: Probe
    version: TlsVersion
    forged: Forged
    attempt_id: str
    tag: str


@dataclass
class _Plan:
    planned: list[_Planned] = field(default_factory=list)
    skipped: list[SkippedProbe] = field(default_factory=list)


def select_probes(pattern: str) -> list[Probe]:
    globs = [g.strip() for g in pattern.split(",") if g.strip()] or ["*"]
    chosen = [p for p in catalogue() if any(fnmatch.fnmatchcase(p.id, g) for g in globs)]
    if not chosen:
        raise UsageError(f"--probes {pattern!r} matches no probe (see `mtlsaudit probes`)")
    return chosen


def _hex(data: bytes) -> str:
    return data.hex().upper()


def markers_for(forged: Forged, path: str, user_agent: str) -> Markers:
    certs: list[x509.Certificate] = []
    if forged.credential is not None:
        certs = [*forged.credential.chain, *forged.credential.extra]
    cns = []
    for cert in certs:
        for attr in cert.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME):
            value = str(attr.value)
            if len(value) >= _MIN_CN_MARKER:
                cns.append(value)
    return Markers(
        serials_hex=[format(c.serial_number, "X") for c in certs],
        serials_dec=[str(c.serial_number) for c in certs],
        sha256=[_hex(c.fingerprint(hashes.SHA256())) for c in certs],
        sha1=[_hex(c.fingerprint(hashes.SHA1())) for c in certs],
        common_names=list(dict.fromkeys(cns)),
        http_path=path,
        user_agent=user_agent,
        forged_token=forged.forged_token,
    )


def plan(probes: list[Probe], ctx: ForgeContext, versions: list[TlsVersion]) -> _Plan:
    """Forge every credential up front so the probe phase is pure network time."""
    out = _Plan()
    for probe in probes:
        missing = probe.missing_needs(ctx)
        if missing:
            out.skipped.append(SkippedProbe(probe_id=probe.id, reason=missing))
            continue
        try:
            if not probe.meta.per_version:
                # The recipe picks its own versions (raw hellos); each label is the tag.
                for forged in probe.recipe(ctx, ""):
                    version = forged.version or TlsVersion.TLS1_2
                    out.planned.append(_Planned(probe, version, forged, f"{probe.id}@{forged.label}", forged.label))
                continue
            for version in versions:
                tag = _TAGS[version]
                for forged in probe.recipe(ctx, tag):
                    suffix = f"-{forged.label}" if forged.label else ""
                    out.planned.append(_Planned(probe, version, forged, f"{probe.id}@{tag}{suffix}", tag + suffix))
        except NotImplementedError as exc:
            out.skipped.append(SkippedProbe(probe_id=probe.id, reason=str(exc)))
    return out


def _control_material(trust: TrustMaterial, workdir: Path, scan_id: str) -> tuple[ClientMaterial, Markers]:
    if trust.ca is not None:
        cred = trust.ca.issue(name(f"mtlsaudit-{scan_id}-preflight"))
        markers = Markers(
            common_names=[f"mtlsaudit-{scan_id}-preflight"],
            serials_hex=[format(cred.leaf.serial_number, "X")],
        )
    elif trust.client is not None:
        cred = trust.client
        markers = Markers()
    else:
        return ClientMaterial(), Markers()
    cert, key = cred.write(workdir, "preflight")
    return ClientMaterial(cert, key), markers


async def _preflight(
    target: Target, trust: TrustMaterial, options: ScanOptions, workdir: Path, scan_id: str
) -> tuple[list[TlsVersion], list[Attempt], list[x509.Name]]:
    """Which versions does the server speak? Is it there at all? Which CAs does it name?"""
    material, own_markers = _control_material(trust, workdir, scan_id)
    supported: list[TlsVersion] = []
    own: list[Attempt] = []
    issuers: list[x509.Name] = []
    reasons: list[str] = []
    host = target.sni or target.host
    for version in options.versions:
        path = f"{target.path_prefix}/{scan_id}/preflight/{_TAGS[version]}"
        started = dt.datetime.now(dt.UTC)
        result = await connect(
            target.host,
            target.port,
            sni=target.sni,
            version=version,
            material=material,
            request=http_request(host, path, f"mtlsaudit/{__version__}"),
            timeout=options.timeout,
        )
        own.append(
            Attempt(
                attempt_id=f"preflight@{_TAGS[version]}",
                probe_id="preflight",
                tls_version=version,
                started_at=started,
                ended_at=dt.datetime.now(dt.UTC),
                local_ip=result.local_ip,
                local_port=result.local_port,
                outcome=result.outcome,
                markers=own_markers.model_copy(update={"http_path": path}),
            )
        )
        if result.outcome.kind is OutcomeKind.ERROR and (result.outcome.reason or "").startswith(
            ("connect", "resolve")
        ):
            raise TargetUnreachable(f"cannot reach {target.host}:{target.port}: {result.outcome.reason}")
        handshake_done = result.negotiated_version is not None
        if not handshake_done and (result.outcome.kind is OutcomeKind.ERROR or version_refused(result)):
            reasons.append(f"{version.value}: {result.outcome}")
            continue
        supported.append(version)
    if supported:
        started = dt.datetime.now(dt.UTC)
        issuers, local = await advertised_ca_names(target.host, target.port, target.sni, options.timeout)
        if local is not None:
            own.append(
                Attempt(
                    attempt_id="preflight@ca-names",
                    probe_id="preflight",
                    tls_version=TlsVersion.TLS1_2,
                    started_at=started,
                    ended_at=dt.datetime.now(dt.UTC),
                    local_ip=local[0],
                    local_port=local[1],
                    outcome=Outcome(kind=OutcomeKind.ACCEPTED, reason="CertificateRequest read"),
                    markers=Markers(),
                )
            )
    if not supported:
        raise TargetUnreachable(
            f"{target.host}:{target.port} completed no TLS 1.2/1.3 handshake ({'; '.join(reasons)})"
        )
    return supported, own, issuers


async def _run_attempt(
    target: Target, item: _Planned, options: ScanOptions, workdir: Path, scan_id: str, stem: str
) -> Attempt:
    """Connect once with ``item``'s credential, send the marked request, record the answer."""
    material = ClientMaterial(legacy_crypto=item.forged.legacy_crypto)
    if item.forged.credential is not None:
        cert, key = item.forged.credential.write(workdir, stem)
        material = ClientMaterial(cert, key, item.forged.legacy_crypto)
    path = f"{target.path_prefix}/{scan_id}/{item.probe.id}/{item.tag}"
    user_agent = f"mtlsaudit/{__version__} ({scan_id}/{item.probe.id}/{item.tag})"
    request = http_request(target.sni or target.host, path, user_agent)
    markers = markers_for(item.forged, path, user_agent)
    started = dt.datetime.now(dt.UTC)
    if item.forged.hello is not None:
        spec = item.forged.hello
        if spec.server_name is None and target.sni:
            spec = replace(spec, server_name=target.sni)
        result, _ = await send_hello(target.host, target.port, spec, options.timeout)
        markers = Markers()  # nothing the server could write down carries a marker
    elif item.forged.garbage is not None and item.version is TlsVersion.TLS1_3:
        result = await send_tls13_certificate(
            target.host, target.port, sni=target.sni, der=item.forged.garbage.der, timeout=options.timeout
        )
    elif item.forged.garbage is not None:
        from mtlsaudit.transport.garbage import send_garbage_certificate  # tlslite-ng: only when needed

        result = await send_garbage_certificate(
            target.host,
            target.port,
            sni=target.sni,
            version=item.version,
            der=item.forged.garbage.der,
            key_pem=item.forged.garbage.key_pem,
            request=request,
            timeout=options.timeout,
        )
    else:
        result = await connect(
            target.host,
            target.port,
            sni=target.sni,
            version=item.version,
            material=material,
            request=request,
            timeout=options.timeout,
        )
    ended = dt.datetime.now(dt.UTC)
    leaf = item.forged.credential.leaf if item.forged.credential else None
    return Attempt(
        attempt_id=item.attempt_id,
        probe_id=item.probe.id,
        tls_version=item.version,
        started_at=started,
        ended_at=ended,
        local_ip=result.local_ip,
        local_port=result.local_port,
        negotiated_version=result.negotiated_version,
        outcome=result.outcome,
        markers=markers,
        expects_acceptance=item.forged.expects_acceptance,
        expected_reasons=list(item.forged.reasons or item.probe.meta.reasons),
        subject=leaf.subject.rfc4514_string() if leaf is not None else None,
        note=item.forged.note,
    )


#: Quiet time around a re-run attempt: at least twice the correlator's slot tolerance.
_MIN_GAP = 0.15
_MAX_GAP = 2.5


def undecided_attempts(results: list[AttemptResult], unattributed: list[EvidenceRecord]) -> tuple[list[int], float]:
    """Attempts an unattributed line might belong to, and the coarsest stamp resolution seen.

    A line left unattributed because it fell in several back-to-back slots could still
    make an attempt logged (if nothing else names it) or give it its reason (if the line
    states the attempt's defect). Those attempts are worth a re-run in a quiet slot.
    """
    lines = [
        (st, defect_classes_in(r.line)) for r in unattributed if (st := parse_timestamp(parse_line(r.line))) is not None
    ]
    undecided: list[int] = []
    resolution = 0.0
    for i, result in enumerate(results):
        strong = any(r.match in (MatchKind.EXACT, MatchKind.ENDPOINT) for r in result.evidence.records)
        expected = set(result.expected_reasons)
        near = [(st, classes) for st, classes in lines if overlaps(st, result)]
        useful = [st for st, classes in near if not strong or classes & expected]
        weak_only = bool(result.evidence.records) and not strong
        if useful or weak_only:
            undecided.append(i)
            resolution = max([resolution, *(st.resolution for st in useful)])
    return undecided, resolution


def _revocation_notes(responder: RevocationResponder | None) -> list[str]:
    if responder is None:
        return []
    if not responder.fetches:
        return [
            f"no CRL or OCSP request reached the scanner's responder ({responder.base_url}): the target "
            "checks revocation, if at all, only against data installed locally"
        ]
    counts = Counter(f.kind for f in responder.fetches)
    hosts = sorted({f.client.rsplit(":", 1)[0] for f in responder.fetches})
    what = ", ".join(f"{n} {kind.upper()} request(s)" for kind, n in sorted(counts.items()))
    return [f"the target fetched revocation data during the scan: {what} from {', '.join(hosts)}"]


async def _wait_polling(collector: Collector, seconds: float) -> None:
    """Sleep ``seconds`` while reading the sources, so lines are stamped when they arrive."""
    deadline = time.monotonic() + seconds
    while True:
        collector.poll()
        left = deadline - time.monotonic()
        if left <= 0:
            return
        await asyncio.sleep(min(0.05, left))


async def _drain(collector: Collector, attempts: list[Attempt], options: ScanOptions) -> None:
    """Keep reading until ``settle + late`` after the last attempt, then flush."""
    last = attempts[-1].ended_at if attempts else dt.datetime.now(dt.UTC)
    deadline = last + dt.timedelta(seconds=options.settle + options.late)
    while dt.datetime.now(dt.UTC) < deadline:
        collector.poll()
        await asyncio.sleep(0.1)
    collector.poll(final=True)


async def _sleep_to_slot(slot: float) -> None:
    if slot > 0:
        now = time.time()
        await asyncio.sleep(slot - (now % slot) + 0.005)


async def run_scan(
    target: Target,
    trust: TrustMaterial,
    sources: list[Source],
    options: ScanOptions | None = None,
    progress: Progress | None = None,
) -> ScanFacts:
    """Run every applicable probe against ``target`` and gather the evidence."""
    options = options or ScanOptions()
    probes = select_probes(options.probes)
    scan_id = secrets.token_hex(4)
    started_at = dt.datetime.now(dt.UTC)
    workdir = Path(tempfile.mkdtemp(prefix="mtlsaudit-"))
    collector = Collector(sources)
    notes: list[str] = []
    responder: RevocationResponder | None = None
    try:
        collector.start()
        if trust.ca is not None and any(p.meta.family == "revocation" for p in probes):
            # Every certificate of this scan names the responder (CRL distribution point,
            # OCSP), as a real CA's would: a target that checks revocation online asks it.
            responder = RevocationResponder(trust.ca, options.responder_host)
            await responder.start()
            trust = replace(trust, ca=replace(trust.ca, extensions=tuple(revocation_extensions(responder.base_url))))
        versions, preflight, issuers = await _preflight(target, trust, options, workdir, scan_id)
        if TlsVersion.TLS1_3 in options.versions and TlsVersion.TLS1_3 not in versions:
            notes.append("the server did not complete a TLS 1.3 handshake: probes ran at TLS 1.2 only")
        ctx = ForgeContext(
            scan_id=scan_id,
            ca=trust.ca,
            client=trust.client,
            advertised_ca_names=tuple(dict.fromkeys(issuers)),
            server_versions=tuple(versions),
        )
        the_plan = plan(probes, ctx, versions)
        attempts: list[Attempt] = []
        probe_started = time.perf_counter()
        total = len(the_plan.planned)
        for n, item in enumerate(the_plan.planned):
            if progress:
                progress(item.attempt_id, n, total)
            await _sleep_to_slot(options.slot)
            attempts.append(await _run_attempt(target, item, options, workdir, scan_id, f"a{n}"))
            collector.poll()
        probe_seconds = time.perf_counter() - probe_started
        if progress:
            progress("waiting for logs", total, total)
        if sources:
            await _drain(collector, attempts, options)
        settle = dt.timedelta(seconds=options.settle)
        results, unattributed = correlate(
            attempts,
            collector.records,
            have_sources=bool(sources),
            settle=settle,
            target_port=target.port,
            ignored=preflight,
        )
        undecided, resolution = undecided_attempts(results, unattributed)
        if sources and options.refine and undecided:
            if progress:
                progress("re-running undecided attempts in quiet slots", total, total)
            items = {item.attempt_id: item for item in the_plan.planned}
            gap = min(_MAX_GAP, max(_MIN_GAP, resolution + _MIN_GAP))
            mark = len(collector.records)
            refined: list[Attempt] = []
            await _wait_polling(collector, gap)
            for n, i in enumerate(undecided):
                refined.append(
                    await _run_attempt(target, items[results[i].attempt_id], options, workdir, scan_id, f"r{n}")
                )
                await _wait_polling(collector, gap)
            await _drain(collector, refined, options)
            again, more = correlate(
                refined,
                collector.records[mark:],
                have_sources=True,
                settle=settle,
                target_port=target.port,
                ignored=[*preflight, *attempts],
            )
            note = (
                f"re-run alone in a {gap:.2f} s quiet slot: a line with neither marker nor "
                "source address fell between this attempt and its neighbours"
            )
            for i, result in zip(undecided, again, strict=True):
                joined = f"{result.note}; {note}" if result.note else note
                results[i] = result.model_copy(update={"note": joined})
            unattributed += more
        if not sources:
            notes.append("no log source given (--log): logging could not be judged, only enforcement")
        elif not collector.records:
            notes.append(
                "the log sources received no lines at all during the scan: check that they are "
                "this target's logs and that it logs at all"
            )
        return ScanFacts(
            scan_id=scan_id,
            tool_version=__version__,
            target=target,
            started_at=started_at,
            ended_at=dt.datetime.now(dt.UTC),
            probe_seconds=round(probe_seconds, 4),
            sources=[s.name for s in sources],
            trust_material=trust.needs,
            tls_versions=versions,
            attempts=results,
            skipped=the_plan.skipped,
            unattributed=unattributed,
            notes=notes + _revocation_notes(responder),
            revocation_fetches=responder.fetches if responder else [],
        )
    finally:
        collector.close()
        if responder is not None:
            await responder.close()
        shutil.rmtree(workdir, ignore_errors=True)
