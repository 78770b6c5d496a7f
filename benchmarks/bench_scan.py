"""Benchmark: forge time, and a full scan of a real local nginx (probe phase and total).

Run: `make benchmark` (or `.venv/bin/python benchmarks/bench_scan.py`). Needs nginx.
Prints figures; asserts nothing. The floor to compare with: one mTLS handshake + request
to a local nginx costs about 2.5 ms.
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from mtlsaudit.collect.file import FileSource
from mtlsaudit.judge import judge
from mtlsaudit.models import Target, TlsVersion
from mtlsaudit.probes import ForgeContext
from mtlsaudit.remediate import remedy
from mtlsaudit.scan import ScanOptions, TrustMaterial, plan, run_scan, select_probes
from mtlsaudit.transport import ClientMaterial, connect, http_request
from servers import TestPki, start_nginx

REPEATS = 5
CERTIFICATE_PROBES = "control.*,chain.*,validity.*,usage.*,crypto.*,inject.*,identity.*,lifecycle.*"


def main() -> None:
    work = Path(tempfile.mkdtemp(prefix="mtlsaudit-bench-"))
    pki = TestPki.create(work / "pki")
    ctx = ForgeContext(scan_id="bench000", ca=pki.ca, client=pki.client)
    forge_times = []
    for _ in range(REPEATS):
        t = time.perf_counter()
        the_plan = plan(select_probes("*"), ctx, [TlsVersion.TLS1_3, TlsVersion.TLS1_2])
        forge_times.append(time.perf_counter() - t)
    print(f"forge: {len(the_plan.planned)} credentials in {statistics.median(forge_times) * 1000:.1f} ms "
          f"(median of {REPEATS})")

    server = start_nginx("default", pki, work / "nginx", remedy("nginx").snippet())
    try:
        material = ClientMaterial(pki.client_pem, pki.client_key)

        async def one() -> None:
            await connect("127.0.0.1", server.port, sni="localhost", version=TlsVersion.TLS1_3,
                          material=material, request=http_request("localhost", "/", "bench"), timeout=5)

        async def floor(n: int) -> float:
            t = time.perf_counter()
            for _ in range(n):
                await one()
            return (time.perf_counter() - t) / n

        per = asyncio.run(floor(200))
        print(f"one mTLS handshake + request to local nginx via the engine: {per * 1000:.2f} ms")
        target = Target(name="nginx", host="127.0.0.1", port=server.port, sni="localhost")
        trust = TrustMaterial(ca=pki.ca, client=pki.client)
        probe_s, total_s, attempts = [], [], 0
        for _ in range(REPEATS):
            sources = [FileSource(f"file:{p}") for p in server.logs.values()]
            t = time.perf_counter()
            facts = asyncio.run(run_scan(target, trust, sources, ScanOptions()))
            judge(facts)
            total_s.append(time.perf_counter() - t)
            probe_s.append(facts.probe_seconds)
            attempts = len(facts.attempts)
        print(f"scan of nginx: {attempts} attempts; probe phase {statistics.median(probe_s) * 1000:.0f} ms, "
              f"total {statistics.median(total_s):.2f} s with default settle=1.0 s + late=2.0 s "
              f"(median of {REPEATS})")
        # What the raw-hello, garbage-DER and revocation probes add: the same scan with and
        # without them (refinement off, so only the probes themselves are timed).
        for label, probes in (("certificate probes only", CERTIFICATE_PROBES), ("all probes", "*")):
            phase = []
            for _ in range(REPEATS):
                sources = [FileSource(f"file:{p}") for p in server.logs.values()]
                opts = ScanOptions(probes=probes, settle=0, late=0, refine=False)
                facts = asyncio.run(run_scan(target, trust, sources, opts))
                phase.append(facts.probe_seconds)
            print(f"  probe phase, {label}: {len(facts.attempts)} attempts, "
                  f"{statistics.median(phase) * 1000:.0f} ms (median of {REPEATS})")
    finally:
        server.stop()


if __name__ == "__main__":
    main()
