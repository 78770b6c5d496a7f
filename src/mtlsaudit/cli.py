"""The command line: scan, demo, probes, forge, remediate. Thin over the library; bad input exits 2.

Exit codes: 0 clean, 1 findings at or above ``--fail-on``, 2 usage or configuration error,
3 target unreachable.
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from mtlsaudit._version import __version__
from mtlsaudit.collect import open_source
from mtlsaudit.errors import MtlsauditError, UsageError
from mtlsaudit.forge import CA, load_client
from mtlsaudit.judge import judge
from mtlsaudit.models import ScanReport, Severity, Target
from mtlsaudit.probes import ForgeContext, catalogue
from mtlsaudit.report import render_comparison, render_json, render_multi_json, render_text
from mtlsaudit.scan import ScanOptions, TrustMaterial, plan, run_scan, select_probes

app = typer.Typer(
    help="Audit mutual-TLS endpoints for insufficient logging: attack client authentication, "
    "then prove from the target's own logs what was recorded.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
err = Console(stderr=True)


class Format(StrEnum):
    TEXT = "text"
    JSON = "json"


def _parse_endpoint(value: str) -> tuple[str, int]:
    """``host:port``, ``[v6]:port`` or ``host`` (port 443)."""
    host, port = value, "443"
    if value.startswith("["):
        host, _, rest = value[1:].partition("]")
        port = rest.lstrip(":") or "443"
    elif value.count(":") == 1:
        host, port = value.split(":")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise UsageError(f"target {value!r} is not HOST:PORT")
    return host, int(port)


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def _trust(
    ca_cert: Path | None, ca_key: Path | None, client_cert: Path | None, client_key: Path | None
) -> TrustMaterial:
    if (ca_cert is None) != (ca_key is None):
        raise UsageError("--ca-cert and --ca-key go together")
    if (client_cert is None) != (client_key is None):
        raise UsageError("--client-cert and --client-key go together")
    ca = CA.from_files(ca_cert, ca_key) if ca_cert and ca_key else None
    client = load_client(client_cert, client_key) if client_cert and client_key else None
    return TrustMaterial(ca=ca, client=client)


def _progress_bar(console: Console) -> Progress:
    return Progress(
        TextColumn("[bold]probing[/bold]"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.description}"),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    )


def _fail_exit(reports: list[ScanReport], fail_on: Severity) -> None:
    worst = [f for r in reports for f in r.findings if f.severity.rank >= fail_on.rank]
    raise typer.Exit(1 if worst else 0)


CaCert = Annotated[Path | None, typer.Option(help="CA certificate the target trusts (PEM).")]
CaKey = Annotated[Path | None, typer.Option(help="That CA's private key: unlocks most probes.")]
ClientCert = Annotated[Path | None, typer.Option(help="A valid client certificate (PEM chain).")]
ClientKey = Annotated[Path | None, typer.Option(help="Its private key.")]


CrlOut = Annotated[
    Path | None,
    typer.Option(
        help="Write the CA's CRL (PEM) revoking the revocation probe's serial; install it on the target "
        "(nginx ssl_crl, HAProxy crl-file, Apache SSLCARevocationFile, Node crl) before scanning.",
    ),
]


def _write_crl(trust: TrustMaterial, path: Path | None) -> None:
    if path is None:
        return
    if trust.ca is None:
        raise UsageError("--crl-out needs the CA (--ca-cert and --ca-key) to sign the CRL")
    from mtlsaudit.forge.revocation import write_crl

    try:
        write_crl(trust.ca, path)
    except OSError as exc:
        raise UsageError(f"cannot write the CRL to {path}: {exc.strerror or exc}") from None
    err.print(f"CRL written to {path} (revokes the revocation probe's serial; valid 30 days)")


@app.command()
def scan(
    target: Annotated[str, typer.Argument(help="HOST:PORT of the mTLS endpoint.")],
    sni: Annotated[
        str | None,
        typer.Option(help="Server name to send (default: the host name; none for an IP)."),
    ] = None,
    ca_cert: CaCert = None,
    ca_key: CaKey = None,
    client_cert: ClientCert = None,
    client_key: ClientKey = None,
    log: Annotated[
        list[str] | None,
        typer.Option("--log", help="Log source spec, repeatable: file:/var/log/nginx/error.log"),
    ] = None,
    probes: Annotated[str, typer.Option(help="Glob(s) over probe ids, comma-separated.")] = "*",
    fmt: Annotated[Format, typer.Option("--format", help="Report format.")] = Format.TEXT,
    out: Annotated[Path | None, typer.Option(help="Write the report here instead of stdout.")] = None,
    fail_on: Annotated[Severity, typer.Option(help="Exit 1 if a finding is at least this severe.")] = Severity.HIGH,
    name: Annotated[str | None, typer.Option(help="Name of the target in the report.")] = None,
    timeout: Annotated[float, typer.Option(help="Seconds for each network step.", min=0.1)] = 5.0,
    settle: Annotated[float, typer.Option(help="Seconds a log line may lag and count as on time.", min=0)] = 1.0,
    late: Annotated[float, typer.Option(help="Further seconds to wait for late lines.", min=0)] = 2.0,
    slot: Annotated[
        float,
        typer.Option(
            help="Start each attempt on a fresh N-second slot (for logs with only coarse timestamps).",
            min=0,
        ),
    ] = 0.0,
    refine: Annotated[
        bool,
        typer.Option(
            help="Re-run, each alone in a quiet slot, attempts that only a time-stamped line could explain "
            "(costs about one log-timestamp resolution per such attempt, e.g. 1 s for nginx's error log).",
        ),
    ] = True,
    crl_out: CrlOut = None,
    responder: Annotated[
        str,
        typer.Option(
            help="Address the CRL/OCSP responder listens on during the scan; it is written into the "
            "certificates, so the target must reach it.",
        ),
    ] = "127.0.0.1",
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Show the attributed log lines.")] = False,
) -> None:
    """Scan one mTLS endpoint and judge its logs."""
    host, port = _parse_endpoint(target)
    trust = _trust(ca_cert, ca_key, client_cert, client_key)
    _write_crl(trust, crl_out)
    sources = [open_source(spec) for spec in (log or [])]
    select_probes(probes)
    if sni is None and not _is_ip(host):
        sni = host
    tgt = Target(name=name or f"{host}:{port}", host=host, port=port, sni=sni)
    options = ScanOptions(
        probes=probes, timeout=timeout, settle=settle, late=late, slot=slot, refine=refine, responder_host=responder
    )
    console = Console()
    show = fmt is Format.TEXT and out is None
    with _progress_bar(err) as bar:
        task = bar.add_task("", total=None)

        def progress(label: str, done: int, total: int) -> None:
            bar.update(task, completed=done, total=total, description=label)

        facts = asyncio.run(run_scan(tgt, trust, sources, options, progress))
    report = judge(facts)
    if _is_ip(host) and not report.target.sni:
        report = report.model_copy(
            update={
                "notes": [
                    *report.notes,
                    "target is an IP and no --sni was given: "
                    "a server with per-site client auth may answer from a default site",
                ]
            }
        )
    if fmt is Format.JSON:
        text = render_json(report)
        if out:
            out.write_text(text)
            err.print(f"report written to {out}")
        else:
            sys.stdout.write(text)
    elif show:
        render_text(report, console, verbose)
    else:
        assert out is not None
        with out.open("w") as fh:
            render_text(report, Console(file=fh, width=140), verbose)
        err.print(f"report written to {out}")
    _fail_exit([report], fail_on)


@app.command()
def demo(
    fmt: Annotated[Format, typer.Option("--format", help="Report format.")] = Format.TEXT,
    out: Annotated[Path, typer.Option(help="Directory for the demo's PKI, logs and JSON report.")] = Path(
        "mtlsaudit-demo"
    ),
) -> None:
    """Start two embedded mTLS targets (under-logging and hardened) and scan them side by side."""
    from mtlsaudit.demo import run_demo

    out.mkdir(parents=True, exist_ok=True)
    with _progress_bar(err) as bar:
        task = bar.add_task("", total=None)

        def progress(label: str, done: int, total: int) -> None:
            bar.update(task, completed=done, total=total, description=label)

        reports = asyncio.run(run_demo(out, progress=progress))
    report_path = out / "report.json"
    report_path.write_text(render_multi_json(reports))
    if fmt is Format.JSON:
        sys.stdout.write(render_multi_json(reports))
        return
    console = Console()
    render_comparison(reports, console)
    for r in reports:
        render_text(r, console)
    console.print(
        f"\nJSON report: [bold]{report_path}[/bold]   target logs: {out}/under-logging.log, {out}/hardened.log\n"
        "Scan your own server:\n"
        "  mtlsaudit scan HOST:PORT --ca-cert ca.pem --ca-key ca.key "
        "--log file:/var/log/nginx/error.log --log file:/var/log/nginx/access.log"
    )


@app.command("probes")
def list_probes(
    as_json: Annotated[bool, typer.Option("--json", help="Print the catalogue as JSON.")] = False,
) -> None:
    """List the probe catalogue: what each sends, what it needs, how bad acceptance is."""
    rows = [
        {
            "id": p.id,
            "family": p.meta.family,
            "title": p.meta.title,
            "needs": [sorted(n.value for n in alt) for alt in p.meta.needs],
            "severity_if_accepted": p.meta.severity.value,
            "cwe": list(p.meta.cwe),
        }
        for p in catalogue()
    ]
    if as_json:
        sys.stdout.write(json.dumps(rows, indent=2) + "\n")
        return
    table = Table(title=f"mtlsaudit {__version__} probe catalogue")
    for col in ("id", "needs", "if accepted", "secure state"):
        table.add_column(col, no_wrap=col != "secure state")
    for p in catalogue():
        needs = " or ".join("+".join(sorted(n.value for n in alt)) or "-" for alt in p.meta.needs)
        table.add_row(p.id, needs, p.meta.severity.value, p.meta.title)
    Console().print(table)


@app.command()
def forge(
    out: Annotated[Path, typer.Option(help="Directory to write the credential set into.")],
    ca_cert: CaCert = None,
    ca_key: CaKey = None,
    client_cert: ClientCert = None,
    client_key: ClientKey = None,
    probes: Annotated[str, typer.Option(help="Glob(s) over probe ids.")] = "*",
    crl_out: CrlOut = None,
) -> None:
    """Write every probe's credential (cert chain + key, keys 0600) for manual testing.

    Without --ca-cert/--ca-key a fresh test CA is minted and written too (ca.pem/ca.key),
    so the set can be tried against a server configured to trust it.
    """
    import secrets

    trust = _trust(ca_cert, ca_key, client_cert, client_key)
    ca = trust.ca
    out.mkdir(parents=True, exist_ok=True)
    if ca is None:
        ca = CA.new()
        from mtlsaudit.forge import Credential

        Credential([ca.cert], ca.key).write(out, "ca")
    _write_crl(TrustMaterial(ca=ca), crl_out)
    ctx = ForgeContext(scan_id=secrets.token_hex(4), ca=ca, client=trust.client)
    from mtlsaudit.models import TlsVersion

    the_plan = plan(select_probes(probes), ctx, [TlsVersion.TLS1_3])
    manifest = []
    for item in the_plan.planned:
        stem = item.attempt_id.replace("@t13", "").replace("@", "-")
        entry: dict[str, object] = {
            "probe_id": item.probe.id,
            "label": item.forged.label,
            "note": item.forged.note,
        }
        if item.forged.credential is not None:
            cert, key = item.forged.credential.write(out, stem)
            entry.update(
                cert=cert.name,
                key=key.name,
                subject=item.forged.credential.leaf.subject.rfc4514_string(),
            )
        if item.forged.garbage is not None:
            (out / f"{stem}.der").write_bytes(item.forged.garbage.der)
            entry["garbage_certificate"] = f"{stem}.der"
        if item.forged.hello is not None:
            entry["client_hello"] = f"version {item.forged.hello.version:#06x}, {len(item.forged.hello.ciphers)} suites"
        manifest.append(entry)
    (out / "manifest.json").write_text(
        json.dumps(
            {"skipped": [s.model_dump() for s in the_plan.skipped], "credentials": manifest},
            indent=2,
        )
        + "\n"
    )
    Console().print(
        f"wrote {sum(1 for m in manifest if 'cert' in m)} credentials to {out} "
        f"(keys mode 0600); see {out / 'manifest.json'}"
    )
    for s in the_plan.skipped:
        err.print(f"not forged: {s.probe_id}: {s.reason}")


@app.command()
def remediate(
    server: Annotated[
        str | None,
        typer.Argument(help="nginx, haproxy, apache, node, go, python or envoy; omit to list them."),
    ] = None,
) -> None:
    """Print hardened mTLS logging for a terminator: config or code on stdout, why on stderr.

    Each snippet except envoy's is applied to the real server in mtlsaudit's test matrix,
    which re-scans it and checks that the rejection-logging findings are gone.
    """
    from mtlsaudit.remediate import REMEDIES, remedy

    if server is None:
        table = Table(title="mtlsaudit remediate SERVER")
        for col in ("server", "what", "proven on"):
            table.add_column(col)
        for r in REMEDIES.values():
            table.add_row(r.server, r.title, r.verified or f"NOT VERIFIED: {r.unverified_reason}")
        Console().print(table)
        return
    r = remedy(server)
    err.print(f"[bold]{r.title}[/bold]")
    err.print(f"why: {r.why}")
    if r.verified:
        err.print(f"proven: {r.verified} (re-scanned: no MTLS-L001/L003/L004 left)")
    else:
        err.print(f"[yellow]NOT VERIFIED[/yellow]: {r.unverified_reason}")
    if r.limits:
        err.print(f"limit: {r.limits}")
    sys.stdout.write(r.snippet())


@app.callback(invoke_without_command=True)
def _root(
    version: Annotated[bool, typer.Option("--version", help="Print the version and exit.")] = False,
) -> None:
    if version:
        typer.echo(f"mtlsaudit {__version__}")
        raise typer.Exit(0)


def main() -> None:
    try:
        app()
    except MtlsauditError as exc:
        sys.stderr.write(f"mtlsaudit: error: {exc}\n")
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        err.print("mtlsaudit: interrupted")
        sys.exit(130)
