"""Bad input gets one clear line and exit code 2 (3 for unreachable), never a traceback."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from mtlsaudit.forge import CA, Credential
from servers import free_port


def run(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mtlsaudit", *args],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=cwd,
        env={**os.environ, "COLUMNS": "120"},
    )


def one_line_error(result: subprocess.CompletedProcess[str], code: int, needle: str) -> None:
    assert result.returncode == code, (result.returncode, result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
    lines = [ln for ln in result.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("mtlsaudit: error:") and needle in lines[0], lines[0]


@pytest.fixture(scope="module")
def other_ca(tmp_path_factory):
    d = tmp_path_factory.mktemp("other")
    ca = CA.new("other")
    return Credential([ca.cert], ca.key).write(d, "other")


def test_missing_ca_file(pki):
    one_line_error(
        run("scan", "127.0.0.1:1", "--ca-cert", "/nonexistent.pem", "--ca-key", str(pki.ca_key)),
        2,
        "cannot read certificate /nonexistent.pem",
    )


def test_ca_key_that_does_not_match(pki, other_ca):
    one_line_error(
        run("scan", "127.0.0.1:1", "--ca-cert", str(pki.ca_pem), "--ca-key", str(other_ca[1])), 2, "does not match"
    )


def test_client_key_that_does_not_match(pki, other_ca):
    one_line_error(
        run("scan", "127.0.0.1:1", "--client-cert", str(pki.client_pem), "--client-key", str(other_ca[1])),
        2,
        "does not match",
    )


def test_garbage_certificate(tmp_path, pki):
    bad = tmp_path / "bad.pem"
    bad.write_text("-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----\n")
    one_line_error(run("scan", "127.0.0.1:1", "--ca-cert", str(bad), "--ca-key", str(pki.ca_key)), 2, str(bad))


def test_unknown_log_spec():
    one_line_error(run("scan", "127.0.0.1:1", "--log", "kafka://x"), 2, "unknown log spec")


def test_log_file_that_does_not_exist():
    one_line_error(run("scan", "127.0.0.1:1", "--log", "file:/nonexistent/error.log"), 2, "does not exist")


def test_unreadable_log_file(tmp_path):
    if os.geteuid() == 0:
        # root reads any file; a directory stands in for "cannot be read as a log".
        one_line_error(run("scan", "127.0.0.1:1", "--log", f"file:{tmp_path}"), 2, "not a regular file")
        return
    path = tmp_path / "secret.log"
    path.write_text("x\n")
    path.chmod(0)
    one_line_error(run("scan", "127.0.0.1:1", "--log", f"file:{path}"), 2, "cannot read")


def test_bad_target_syntax():
    one_line_error(run("scan", "127.0.0.1:notaport"), 2, "not HOST:PORT")


def test_probe_glob_matching_nothing():
    one_line_error(run("scan", "127.0.0.1:1", "--probes", "nope.*"), 2, "matches no probe")


def test_unreachable_target_exits_3():
    port = free_port()  # nothing listens here
    one_line_error(run("scan", f"127.0.0.1:{port}", "--timeout", "2"), 3, "cannot reach")


def test_probes_lists_the_catalogue():
    result = run("probes")
    assert result.returncode == 0
    for probe_id in ("control.valid", "chain.forged-issuer", "inject.crlf-subject"):
        assert probe_id in result.stdout


def test_scan_nginx_json_to_file_and_fail_on(nginx_default, pki, tmp_path):
    out = tmp_path / "r.json"
    result = run(
        "scan",
        f"localhost:{nginx_default.port}",
        "--ca-cert",
        str(pki.ca_pem),
        "--ca-key",
        str(pki.ca_key),
        "--log",
        f"file:{nginx_default.logs['access']}",
        "--log",
        f"file:{nginx_default.logs['error']}",
        "--format",
        "json",
        "--out",
        str(out),
        "--settle",
        "0.2",
        "--late",
        "0.2",
        "--fail-on",
        "medium",
    )
    # Default nginx logs without reason and identity: medium findings, so --fail-on medium exits 1.
    assert result.returncode == 1, result.stderr
    import json

    doc = json.loads(out.read_text())
    assert doc["schema_version"] and doc["target"]["sni"] == "localhost"
    assert {f["rule_id"] for f in doc["findings"]} >= {"MTLS-L003", "MTLS-L004"}
    assert "PRIVATE KEY" not in out.read_text()


def test_remediate_prints_the_snippet_the_matrix_proves():
    from matrix import VARIANTS
    from mtlsaudit.remediate import REMEDIES, remedy

    result = run("remediate", "haproxy")
    assert result.returncode == 0, result.stderr
    # stdout is exactly the snippet the matrix applies to HAProxy, so it can be piped.
    assert result.stdout == remedy("haproxy").snippet()
    assert "error-log-format" in result.stdout and "proven" in result.stderr
    # Every snippet marked verified is applied by a matrix variant; envoy is the only one not.
    proven = {v.remediation for v in VARIANTS if v.remediation}
    assert proven == {k for k, r in REMEDIES.items() if r.verified}
    assert set(REMEDIES) - proven == {"envoy"}


def test_remediate_envoy_is_marked_not_verified():
    result = run("remediate", "envoy")
    assert result.returncode == 0
    assert "NOT VERIFIED" in result.stderr and "DOWNSTREAM_PEER_FINGERPRINT_256" in result.stdout


def test_remediate_unknown_server_is_a_usage_error():
    one_line_error(run("remediate", "iis"), 2, "known: nginx, haproxy")


def test_remediate_without_argument_lists_every_server():
    result = run("remediate")
    assert result.returncode == 0
    for server in ("nginx", "haproxy", "apache", "node", "go", "python", "envoy"):
        assert server in result.stdout


def test_crl_out_needs_the_ca_and_writes_a_crl_openssl_reads(tmp_path, other_ca):
    from cryptography import x509

    from mtlsaudit.forge import CA
    from mtlsaudit.forge.revocation import revoked_serial

    one_line_error(run("scan", "127.0.0.1:9", "--crl-out", str(tmp_path / "c.pem")), 2, "--crl-out needs the CA")
    ca_pem, ca_key = other_ca
    out = tmp_path / "set"
    result = run(
        "forge", "--out", str(out), "--ca-cert", str(ca_pem), "--ca-key", str(ca_key),
        "--probes", "revocation.*", "--crl-out", str(tmp_path / "crl.pem"),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    crl = x509.load_pem_x509_crl((tmp_path / "crl.pem").read_bytes())
    ca = CA.from_files(ca_pem, ca_key)
    assert crl.get_revoked_certificate_by_serial_number(revoked_serial(ca)) is not None
    assert crl.is_signature_valid(ca.cert.public_key())
    text = subprocess.run(
        ["openssl", "crl", "-in", str(tmp_path / "crl.pem"), "-noout", "-text"], capture_output=True, text=True
    ).stdout
    assert format(revoked_serial(ca), "X") in text.replace(":", "").upper()
