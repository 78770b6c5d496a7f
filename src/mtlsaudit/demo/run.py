"""Run the demo: start both targets, scan them concurrently, judge, return the reports."""

from __future__ import annotations

import asyncio
from pathlib import Path

from mtlsaudit.collect.file import FileSource
from mtlsaudit.demo.targets import DemoPki, HardenedTarget, UnderLoggingTarget
from mtlsaudit.judge import judge
from mtlsaudit.models import ScanReport, Target
from mtlsaudit.scan import Progress, ScanOptions, TrustMaterial, run_scan


async def run_demo(
    workdir: Path, options: ScanOptions | None = None, progress: Progress | None = None
) -> list[ScanReport]:
    """Scan the under-logging and the hardened target; both logs land in ``workdir``."""
    options = options or ScanOptions(settle=0.5, late=0.5)
    pki = DemoPki.create(workdir / "pki")
    trust = TrustMaterial(ca=pki.ca, client=pki.client)
    under = UnderLoggingTarget(pki, workdir / "under-logging.log")
    hardened = HardenedTarget(pki, workdir / "hardened.log")
    with under, hardened:
        scans = [
            run_scan(
                Target(name=t.name, host="127.0.0.1", port=t.port, sni="localhost"),
                trust,
                [FileSource(f"file:{t.log_path}")],
                options,
                progress if t is under else None,
            )
            for t in (under, hardened)
        ]
        facts = await asyncio.gather(*scans)
    return [judge(f) for f in facts]
