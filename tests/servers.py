"""Real servers for the tests: started once per session on free loopback ports."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography.x509.oid import ExtendedKeyUsageOID

from mtlsaudit.forge import CA, Credential, name

TARGETS = Path(__file__).parent / "targets"


def need_binary(binary: str) -> str:
    """Path of ``binary``; under CI=true a missing one fails the test instead of skipping."""
    path = shutil.which(binary) or next(
        (p for p in (f"/usr/sbin/{binary}", f"/usr/bin/{binary}") if os.path.exists(p)), None
    )
    if path is None:
        message = f"{binary} is not installed (make test installs it)"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    return path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for_port(port: int, proc: subprocess.Popen[bytes], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listening on 127.0.0.1:{port} after {timeout}s")


@dataclass(frozen=True)
class TestPki:
    __test__ = False  # a fixture, not a test class

    ca: CA
    client: Credential
    dir: Path
    ca_pem: Path
    ca_key: Path
    server_pem: Path
    server_key: Path
    client_pem: Path
    client_key: Path

    @classmethod
    def create(cls, directory: Path) -> TestPki:
        ca = CA.new("mtlsaudit Test Root CA")
        server = ca.issue(name("localhost"), eku=(ExtendedKeyUsageOID.SERVER_AUTH,))
        client = ca.issue(name("test-client-alice"))
        ca_pem, ca_key = Credential([ca.cert], ca.key).write(directory, "ca")
        server_pem, server_key = server.write(directory, "server")
        client_pem, client_key = client.write(directory, "client")
        return cls(ca, client, directory, ca_pem, ca_key, server_pem, server_key, client_pem, client_key)


@dataclass
class RunningServer:
    port: int
    logs: dict[str, Path]
    proc: subprocess.Popen[bytes]

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()


def start_nginx(variant: str, pki: TestPki, prefix: Path) -> RunningServer:
    """nginx with the config in tests/targets/nginx and the ``variant`` logging."""
    binary = need_binary("nginx")
    prefix.mkdir(parents=True, exist_ok=True)
    (prefix / "tmp").mkdir(exist_ok=True)
    port = free_port()
    error_part, access_part = (TARGETS / "nginx" / f"{variant}.logging").read_text().split("---\n")
    values = {
        "{port}": str(port),
        "{cert}": str(pki.server_pem),
        "{key}": str(pki.server_key),
        "{ca}": str(pki.ca_pem),
        "{error_log}": "\n".join(ln for ln in error_part.splitlines() if not ln.startswith("#")),
        "{access_log}": access_part,
    }
    conf = (TARGETS / "nginx" / "nginx.conf.in").read_text()
    for key, value in values.items():
        conf = conf.replace(key, value)
    conf = conf.replace("{prefix}", str(prefix))
    conf_path = prefix / "nginx.conf"
    conf_path.write_text(conf)
    for log in ("error.log", "access.log"):
        (prefix / log).touch()
    with open(prefix / "stderr.log", "wb") as stderr:
        proc = subprocess.Popen(
            [binary, "-p", str(prefix), "-c", str(conf_path), "-e", str(prefix / "early.log")],
            stdout=subprocess.DEVNULL,
            stderr=stderr,
        )
    try:
        wait_for_port(port, proc)
    except RuntimeError as exc:
        raise RuntimeError(
            f"nginx {variant} did not start: {exc}: {(prefix / 'stderr.log').read_text()[-2000:]}"
        ) from None
    return RunningServer(port, {"error": prefix / "error.log", "access": prefix / "access.log"}, proc)
