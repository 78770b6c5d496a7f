"""Real servers for the tests: started once per session on free loopback ports."""

from __future__ import annotations

import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from cryptography.x509.oid import ExtendedKeyUsageOID

from mtlsaudit.forge import CA, Credential, name
from mtlsaudit.forge.pki import write_secret
from mtlsaudit.forge.revocation import write_crl

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
    server_bundle: Path  # certificate + key in one file (HAProxy's crt), mode 0600
    crl: Path  # the CA's CRL revoking the revocation probe's serial

    @classmethod
    def create(cls, directory: Path) -> TestPki:
        ca = CA.new("mtlsaudit Test Root CA")
        server = ca.issue(name("localhost"), eku=(ExtendedKeyUsageOID.SERVER_AUTH,))
        client = ca.issue(name("test-client-alice"))
        ca_pem, ca_key = Credential([ca.cert], ca.key).write(directory, "ca")
        server_pem, server_key = server.write(directory, "server")
        client_pem, client_key = client.write(directory, "client")
        bundle = directory / "server-bundle.pem"
        write_secret(bundle, server.chain_pem() + server.key_pem())
        crl = write_crl(ca, directory / "crl.pem")  # what `mtlsaudit scan --crl-out` writes
        return cls(ca, client, directory, ca_pem, ca_key, server_pem, server_key, client_pem, client_key, bundle, crl)

    def values(self, port: int, prefix: Path) -> dict[str, str]:
        """Placeholders that target configs and programs in tests/targets/ use."""
        return {
            "{port}": str(port),
            "{cert}": str(self.server_pem),
            "{key}": str(self.server_key),
            "{bundle}": str(self.server_bundle),
            "{ca}": str(self.ca_pem),
            "{crl}": str(self.crl),
            "{prefix}": str(prefix),
        }


@dataclass
class RunningServer:
    port: int
    logs: dict[str, Path]
    proc: subprocess.Popen[bytes]
    cleanup: list[Path] = field(default_factory=list)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        for path in self.cleanup:
            shutil.rmtree(path, ignore_errors=True)


def fill(template: str, values: dict[str, str]) -> str:
    for key, value in values.items():
        template = template.replace(key, value)
    return template


def launch(
    label: str,
    argv: list[str],
    prefix: Path,
    port: int,
    logs: dict[str, Path],
    env: dict[str, str] | None = None,
    timeout: float = 20.0,
) -> RunningServer:
    """Start ``argv`` with stdout/stderr captured to files in ``prefix``; wait for ``port``.

    The captured streams are log sources like any file: a target that logs to stdout
    (HAProxy ``log stdout``, Node console, Go's default ErrorLog) is read from there.
    """
    prefix.mkdir(parents=True, exist_ok=True)
    for path in logs.values():
        path.touch()
    with open(prefix / "stdout.log", "ab") as out, open(prefix / "stderr.log", "ab") as err:
        proc = subprocess.Popen(
            argv, stdout=out, stderr=err, stdin=subprocess.DEVNULL, env={**os.environ, **(env or {})}, cwd=prefix
        )
    try:
        wait_for_port(port, proc, timeout)
    except RuntimeError as exc:
        proc.kill()
        tail = "".join(p.read_text(errors="replace")[-1500:] for p in (prefix / "stdout.log", prefix / "stderr.log"))
        raise RuntimeError(f"{label} did not start: {exc}: {tail}") from None
    return RunningServer(port, logs, proc)


#: How each server is told to check the CA's CRL (the revocation probe's variants).
NGINX_CRL = "ssl_crl {crl};\n        ssl_ocsp leaf;  # also ask the certificate's OCSP responder"
APACHE_CRL = "SSLCARevocationFile {crl}\n    SSLCARevocationCheck leaf"


def start_nginx(variant: str, pki: TestPki, prefix: Path, remediation: str = "", crl: bool = False) -> RunningServer:
    """nginx from tests/targets/nginx with the ``variant`` logging and, optionally, the
    remediation snippet (`mtlsaudit remediate nginx`) inside the http block."""
    binary = need_binary("nginx")
    prefix.mkdir(parents=True, exist_ok=True)
    (prefix / "tmp").mkdir(exist_ok=True)
    port = free_port()
    error_part, access_part = (TARGETS / "nginx" / f"{variant}.logging").read_text().split("---\n")
    values = {
        **pki.values(port, prefix),
        "{error_log}": "\n".join(ln for ln in error_part.splitlines() if not ln.startswith("#")),
        "{access_log}": access_part,
    }
    conf = fill((TARGETS / "nginx" / "nginx.conf.in").read_text(), values)
    conf = fill(conf, {"{prefix}": str(prefix), "# @remediation@": remediation})
    conf = fill(conf, {"# @crl@": fill(NGINX_CRL, values) if crl else ""})
    conf = conf.replace("/var/log/nginx/", f"{prefix}/")
    conf_path = prefix / "nginx.conf"
    conf_path.write_text(conf)
    logs = {"error": prefix / "error.log", "access": prefix / "access.log"}
    if remediation:
        logs["mtls"] = prefix / "mtls_access.log"
    return launch(
        f"nginx {variant}",
        [binary, "-p", str(prefix), "-c", str(conf_path), "-e", str(prefix / "early.log")],
        prefix,
        port,
        logs,
    )


def start_haproxy(variant: str, pki: TestPki, prefix: Path, remediation: str = "", crl: bool = False) -> RunningServer:
    """HAProxy from tests/targets/haproxy/<variant>.cfg; its syslog-framed stdout is the log."""
    binary = need_binary("haproxy")
    port = free_port()
    values = {**pki.values(port, prefix), "{crl_option}": f"crl-file {pki.crl}" if crl else ""}
    conf = fill((TARGETS / "haproxy" / f"{variant}.cfg").read_text(), values)
    conf = conf.replace("# @remediation@", remediation)
    prefix.mkdir(parents=True, exist_ok=True)
    (prefix / "haproxy.cfg").write_text(conf)
    return launch(
        f"haproxy {variant}",
        [binary, "-db", "-f", str(prefix / "haproxy.cfg")],
        prefix,
        port,
        {"stdout": prefix / "stdout.log"},
    )


def start_apache(variant: str, pki: TestPki, prefix: Path, remediation: str = "", crl: bool = False) -> RunningServer:
    """Apache httpd from tests/targets/apache/httpd.conf.in (``variant`` is "default";
    the remediated variant passes the snippet of `mtlsaudit remediate apache`)."""
    binary = need_binary("apache2")
    port = free_port()
    prefix.mkdir(parents=True, exist_ok=True)
    # Apache's workers run as an unprivileged user and cannot enter pytest's 0700 temp
    # directories, so the one file it serves lives in a world-readable directory.
    docroot = Path(tempfile.mkdtemp(prefix="mtlsaudit-apache-"))
    docroot.chmod(0o755)
    (docroot / "ok.txt").write_text("ok\n")
    (docroot / "ok.txt").chmod(0o644)
    user = "www-data" if os.geteuid() == 0 else pwd.getpwuid(os.geteuid()).pw_name
    values = {**pki.values(port, prefix), "{docroot}": str(docroot), "{user}": user, "{group}": user}
    conf = fill((TARGETS / "apache" / "httpd.conf.in").read_text(), values)
    conf = conf.replace("# @remediation@", fill(remediation, {"/var/log/apache2/": f"{prefix}/"}))
    conf = conf.replace("# @crl@", fill(APACHE_CRL, values) if crl else "")
    (prefix / "httpd.conf").write_text(conf)
    server = launch(
        f"apache {variant}",
        [binary, "-d", str(prefix), "-f", str(prefix / "httpd.conf"), "-DFOREGROUND"],
        prefix,
        port,
        {"error": prefix / "error.log", "access": prefix / "access.log", "mtls": prefix / "mtls_access.log"},
        env={"APACHE_RUN_DIR": str(prefix), "APACHE_LOCK_DIR": str(prefix)},
    )
    server.cleanup.append(docroot)
    return server


def start_node(variant: str, pki: TestPki, prefix: Path, program: str = "", crl: bool = False) -> RunningServer:
    """Node.js https: tests/targets/node/<variant>.js, or ``program`` (the remediation)."""
    binary = need_binary("node")
    port = free_port()
    prefix.mkdir(parents=True, exist_ok=True)
    script = prefix / "server.js"
    script.write_text(program or (TARGETS / "node" / f"{variant}.js").read_text())
    env = {"PORT": str(port), "CERT": str(pki.server_pem), "KEY": str(pki.server_key), "CA": str(pki.ca_pem)}
    if crl:
        env["CRL"] = str(pki.crl)
    return launch(
        f"node {variant}",
        [binary, str(script)],
        prefix,
        port,
        {"stdout": prefix / "stdout.log", "stderr": prefix / "stderr.log"},
        env=env,
    )


def start_go(variant: str, pki: TestPki, prefix: Path, program: str = "", crl: bool = False) -> RunningServer:
    """Go net/http: tests/targets/go/<variant>.go, or ``program`` (the remediation), built
    once per session into ``prefix`` (Debian's golang-go; no module, stdlib only)."""
    binary = need_binary("go")
    port = free_port()
    prefix.mkdir(parents=True, exist_ok=True)
    source = prefix / "main.go"
    source.write_text(program or (TARGETS / "go" / f"{variant}.go").read_text())
    cache = Path(tempfile.gettempdir()) / "mtlsaudit-go-cache"
    env = {"GOCACHE": str(cache), "GOPATH": str(cache / "path"), "GO111MODULE": "off", "GOFLAGS": ""}
    built = subprocess.run(
        [binary, "build", "-o", str(prefix / "server"), str(source)],
        capture_output=True,
        env={**os.environ, **env},
        timeout=300,
        check=False,
    )
    if built.returncode != 0:
        raise RuntimeError(f"go build {variant} failed: {built.stderr.decode(errors='replace')[-2000:]}")
    env = {"PORT": str(port), "CERT": str(pki.server_pem), "KEY": str(pki.server_key), "CA": str(pki.ca_pem)}
    if crl:
        env["CRL"] = str(pki.crl)
    return launch(
        f"go {variant}",
        [str(prefix / "server")],
        prefix,
        port,
        {"stdout": prefix / "stdout.log", "stderr": prefix / "stderr.log"},
        env=env,
    )


def start_python(variant: str, pki: TestPki, prefix: Path, program: str = "", crl: bool = False) -> RunningServer:
    """A Python TLS server: tests/targets/python/<variant>.py, or ``program`` (the
    remediation), run by this interpreter (the venv has uvicorn)."""
    port = free_port()
    prefix.mkdir(parents=True, exist_ok=True)
    script = prefix / "server.py"
    script.write_text(program or (TARGETS / "python" / f"{variant}.py").read_text())
    env = {
        "PORT": str(port),
        "CERT": str(pki.server_pem),
        "KEY": str(pki.server_key),
        "CA": str(pki.ca_pem),
        "PYTHONUNBUFFERED": "1",
    }
    if crl:
        env["CRL"] = str(pki.crl)
    return launch(
        f"python {variant}",
        [sys.executable, str(script)],
        prefix,
        port,
        {"stdout": prefix / "stdout.log", "stderr": prefix / "stderr.log"},
        env=env,
    )
