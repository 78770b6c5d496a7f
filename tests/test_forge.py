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
    serials = [c.leaf.serial_number for c in creds]
    keys = [c.key_pem() for c in creds]
    assert len(set(serials)) == len(serials)
    assert len(set(keys)) == len(keys)


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
