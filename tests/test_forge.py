"""Each credential is defective in exactly one way: the real `openssl verify` names it."""

from __future__ import annotations

import os
import stat
import subprocess
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization

from mtlsaudit.forge import Credential
from mtlsaudit.models import TlsVersion
from mtlsaudit.probes import ForgeContext
from mtlsaudit.scan import plan, select_probes
from servers import TestPki, need_binary

# probe id -> (extra openssl verify flags, expected error number; None = verifies OK)
EXPECTED = {
    "control.valid": ([], None),
    "chain.self-signed": ([], 18),
    "chain.untrusted-root": ([], 20),
    "chain.forged-issuer": ([], 7),
    "chain.missing-intermediate": ([], 20),
    "chain.intermediate-not-ca": ([], 79),
    "validity.expired": ([], 10),
    "validity.not-yet-valid": ([], 9),
    "usage.server-auth-eku": (["-purpose", "sslclient"], 26),
    "crypto.bad-signature": ([], 7),
    "crypto.weak-key": (["-auth_level", "2"], 66),
    "crypto.sha1": (["-auth_level", "2"], 68),
    "inject.crlf-subject": ([], None),
    "inject.ansi-subject": ([], None),
    "identity.impersonation": ([], None),
    "lifecycle.rotation": ([], None),
}


def _pem(cert) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def _verify(pki: TestPki, cred: Credential, flags: list[str], tmp: Path) -> subprocess.CompletedProcess[str]:
    leaf = tmp / "leaf.pem"
    leaf.write_bytes(_pem(cred.leaf))
    args = [need_binary("openssl"), "verify", "-CAfile", str(pki.ca_pem), *flags]
    if len(cred.chain) > 1:
        untrusted = tmp / "untrusted.pem"
        untrusted.write_bytes(b"".join(_pem(c) for c in cred.chain[1:]))
        args += ["-untrusted", str(untrusted)]
    return subprocess.run([*args, str(leaf)], capture_output=True, text=True, timeout=30)


@pytest.mark.parametrize("probe_id", sorted(EXPECTED))
def test_openssl_verify_names_exactly_the_injected_defect(probe_id, pki, tmp_path):
    ctx = ForgeContext(scan_id="abcd1234", ca=pki.ca, client=pki.client)
    the_plan = plan(select_probes(probe_id), ctx, [TlsVersion.TLS1_3])
    assert the_plan.planned and not the_plan.skipped
    flags, code = EXPECTED[probe_id]
    for item in the_plan.planned:
        assert item.forged.credential is not None
        result = _verify(pki, item.forged.credential, flags, tmp_path)
        out = result.stdout + result.stderr
        if code is None:
            assert result.returncode == 0, out
        else:
            assert result.returncode != 0, out
            # Exactly one defect: the first (and only) error is the expected one.
            errors = [ln for ln in out.splitlines() if ln.startswith("error ") and " at " in ln]
            assert errors and errors[0].startswith(f"error {code} "), out


def test_every_credential_is_unique(pki):
    ctx = ForgeContext(scan_id="abcd1234", ca=pki.ca, client=pki.client)
    the_plan = plan(select_probes("*"), ctx, [TlsVersion.TLS1_3, TlsVersion.TLS1_2])
    creds = [i.forged.credential for i in the_plan.planned if i.forged.credential is not None]
    keys = [c.key_pem() for c in creds]
    assert len(set(keys)) == len(keys)
    # Serials are unique too, except the revocation probe's: the CRL revokes one serial.
    serials = [
        i.forged.credential.leaf.serial_number
        for i in the_plan.planned
        if i.forged.credential is not None and i.probe.id != "revocation.revoked"
    ]
    assert len(set(serials)) == len(serials)


def test_keys_are_written_0600_and_forge_cli_writes_the_set(pki, tmp_path):
    from typer.testing import CliRunner

    from mtlsaudit.cli import app

    out = tmp_path / "set"
    result = CliRunner().invoke(
        app, ["forge", "--out", str(out), "--ca-cert", str(pki.ca_pem), "--ca-key", str(pki.ca_key)]
    )
    assert result.exit_code == 0, result.output
    keys = list(out.glob("*.key"))
    assert len(keys) >= 12
    for key in keys:
        assert stat.S_IMODE(os.stat(key).st_mode) == 0o600
    # Without a client cert the impersonation probe cannot be forged, and says why.
    assert "identity.impersonation" in (out / "manifest.json").read_text()


def test_the_crl_revokes_the_revocation_probes_certificate(pki, tmp_path):
    # The CRL that --crl-out writes (and the test servers load) makes `openssl verify
    # -crl_check` report error 23 for the probe's certificate, and only for it.
    ctx = ForgeContext(scan_id="abcd1234", ca=pki.ca)
    items = plan(select_probes("revocation.revoked,control.valid"), ctx, [TlsVersion.TLS1_3]).planned
    for item in items:
        cred = item.forged.credential
        assert cred is not None
        result = _verify(pki, cred, ["-crl_check", "-CRLfile", str(pki.crl)], tmp_path)
        if item.probe.id == "revocation.revoked":
            assert "error 23 " in result.stdout + result.stderr, result.stdout + result.stderr
        else:
            assert result.returncode == 0, result.stdout + result.stderr


def test_ocsp_responder_answers_openssl_ocsp_and_records_the_fetch(pki, tmp_path):
    import asyncio

    from mtlsaudit.forge import name
    from mtlsaudit.forge.revocation import revoked_serial
    from mtlsaudit.responder import RevocationResponder

    async def ask() -> tuple[list[str], list[str]]:
        responder = RevocationResponder(pki.ca)
        await responder.start()
        try:
            answers = []
            for serial in (revoked_serial(pki.ca), None):
                cred = pki.ca.issue(name("ocsp-check"), serial=serial)
                leaf = tmp_path / "leaf.pem"
                leaf.write_bytes(_pem(cred.leaf))
                proc = await asyncio.create_subprocess_exec(
                    need_binary("openssl"), "ocsp", "-issuer", str(pki.ca_pem), "-cert", str(leaf),
                    "-url", f"{responder.base_url}/ocsp", "-CAfile", str(pki.ca_pem), "-timeout", "5",
                    stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
                )  # fmt: skip
                out, _ = await asyncio.wait_for(proc.communicate(), 20)
                answers.append(out.decode())
            # Not OCSP at all: answered 400, recorded, no crash.
            reader, writer = await asyncio.open_connection("127.0.0.1", responder.port)
            writer.write(b"POST /ocsp HTTP/1.0\r\nContent-Length: 5\r\n\r\nhello")
            garbage = await asyncio.wait_for(reader.read(), 5)
            writer.close()
            assert garbage.startswith(b"HTTP/1.0 400")
            return answers, [f.kind for f in responder.fetches]
        finally:
            await responder.close()

    answers, kinds = asyncio.run(ask())
    assert f"{tmp_path / 'leaf.pem'}: revoked" in answers[0], answers[0]
    assert f"{tmp_path / 'leaf.pem'}: good" in answers[1], answers[1]
    assert "Response verify OK" in answers[0]
    assert kinds == ["ocsp", "ocsp", "ocsp"]
