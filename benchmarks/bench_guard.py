"""Benchmark mtlsaudit.guard (issue: guard).

Run: `make benchmark-guard` (or `.venv/bin/python benchmarks/bench_guard.py`).
Prints figures; asserts nothing except the flood summary's arithmetic.

1. Handshakes per second (mTLS handshake + one request, 4 concurrent clients) on one
   stdlib http.server: plain stdlib ssl, the guard with its logger off, and the guard
   logging every event; the three run side by side and rounds alternate between them
   (median of REPEATS rounds each), so the machine's own load drift cancels out.
2. Flood: FLOOD failing handshakes (raw hellos the server must refuse) from one source
   against the guarded server; its RSS before and after, and the check that the logged
   failure events plus the suppressed counts in the summary events add up to FLOOD.
"""

from __future__ import annotations

import asyncio
import json
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from mtlsaudit.models import TlsVersion
from mtlsaudit.transport import ClientMaterial, connect, http_request
from mtlsaudit.transport.hello import TLS1_2, WEAK_CIPHERS, HelloSpec, send_hello
from servers import TestPki, free_port, wait_for_port

HERE = Path(__file__).resolve().parent
ROUND_SECONDS = 3.0
REPEATS = 7
CONCURRENCY = 4
FLOOD = 10_000


def start(mode: str, pki: TestPki, log: Path) -> tuple[subprocess.Popen[bytes], int]:
    port = free_port()
    args = [sys.executable, str(HERE / "guard_server.py"), mode, str(port), str(pki.server_pem), str(pki.server_key)]
    proc = subprocess.Popen([*args, str(pki.ca_pem), str(log)], stdout=subprocess.DEVNULL)
    wait_for_port(port, proc)
    return proc, port


def stop(proc: subprocess.Popen[bytes]) -> None:
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


async def handshakes_per_second(port: int, material: ClientMaterial) -> float:
    done = 0
    deadline = time.monotonic() + ROUND_SECONDS

    async def client() -> None:
        nonlocal done
        while time.monotonic() < deadline:
            result = await connect("127.0.0.1", port, sni="localhost", version=TlsVersion.TLS1_3,
                                   material=material, request=http_request("localhost", "/", "bench"), timeout=5)
            assert result.outcome.http_status == 200, result.outcome
            done += 1

    started = time.monotonic()
    await asyncio.gather(*(client() for _ in range(CONCURRENCY)))
    return done / (time.monotonic() - started)


async def flood(port: int) -> int:
    sem = asyncio.Semaphore(32)
    refused = 0

    async def one() -> None:
        nonlocal refused
        async with sem:
            result, _ = await send_hello("127.0.0.1", port, HelloSpec(TLS1_2, WEAK_CIPHERS), 5)
            refused += result.outcome.kind.is_rejection

    await asyncio.gather(*(one() for _ in range(FLOOD)))
    return refused


def main() -> None:
    work = Path(tempfile.mkdtemp(prefix="mtlsaudit-bench-guard-"))
    pki = TestPki.create(work / "pki")
    material = ClientMaterial(pki.client_pem, pki.client_key)
    # All three servers run at once and the rounds alternate between them, so that drift in
    # the machine's load (a shared 2-core VM) hits every mode alike.
    modes = ("plain", "guard-quiet", "guard")
    servers = {mode: start(mode, pki, work / f"{mode}.log") for mode in modes}
    samples: dict[str, list[float]] = {mode: [] for mode in modes}
    try:
        for mode in modes:
            asyncio.run(handshakes_per_second(servers[mode][1], material))  # warm-up round
        for _ in range(REPEATS):
            for mode in modes:
                samples[mode].append(asyncio.run(handshakes_per_second(servers[mode][1], material)))
    finally:
        for proc, _ in servers.values():
            stop(proc)
    rates = {mode: statistics.median(samples[mode]) for mode in modes}
    for mode in modes:
        spread = f"{min(samples[mode]):.0f}-{max(samples[mode]):.0f}"
        print(f"{mode:12} {rates[mode]:7.1f} handshakes+requests/s (median of {REPEATS} alternating rounds of "
              f"{ROUND_SECONDS:g} s, {CONCURRENCY} clients; range {spread})")
    print(f"throughput guard/plain = {rates['guard'] / rates['plain']:.3f}, "
          f"guard/guard-quiet (the logging) = {rates['guard'] / rates['guard-quiet']:.3f} "
          f"(1.000 = no cost; below 0.95 would break the 5% goal)")

    log = work / "flood.log"
    proc, port = start("guard", pki, log)
    try:
        before = rss_kib(proc.pid)
        started = time.monotonic()
        refused = asyncio.run(flood(port))
        took = time.monotonic() - started
        after = rss_kib(proc.pid)
    finally:
        stop(proc)
    events = [json.loads(line) for line in log.read_text().splitlines()]
    failures = [e for e in events if e.get("event.outcome") == "failure"]
    summaries = [e for e in events if e.get("event.action") == "mtls-audit-suppressed"]
    suppressed = sum(int(e["event.count"]) for e in summaries)
    print(f"flood: {FLOOD} refused hellos ({refused} seen refused) in {took:.1f} s from one source; "
          f"server RSS {before} KiB before, {after} KiB after ({after - before:+d} KiB)")
    print(f"flood log: {len(failures)} failure events + {suppressed} suppressed in {len(summaries)} summary "
          f"event(s) = {len(failures) + suppressed}; {len(log.read_bytes())} bytes written")
    # Every refused connection is either logged or counted; the port probe of start() adds one.
    assert len(failures) + suppressed == FLOOD + 1, (len(failures), suppressed)


if __name__ == "__main__":
    main()
