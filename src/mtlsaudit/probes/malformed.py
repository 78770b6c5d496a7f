"""Malformed certificates: bytes in the Certificate message that do not decode."""

from __future__ import annotations

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from mtlsaudit.forge import name
from mtlsaudit.models import Need, Severity, TlsVersion
from mtlsaudit.probes.base import ForgeContext, Forged, GarbageCertificate, leaf_name_cn, probe


@probe(
    order=60,
    id="malformed.garbage-der",
    title="Certificate bytes that do not decode (truncated DER, wrong tag) are refused and logged",
    family="malformed",
    needs=(frozenset({Need.CA}),),
    severity=Severity.HIGH,
    cwe=(295, 20),
    reasons=("malformed",),
    remediation="verify-chain",
    presents_certificate=False,
    per_version=False,
)
def garbage_der(ctx: ForgeContext, tag: str) -> list[Forged]:
    assert ctx.ca is not None
    # A real certificate from the trusted CA, then broken two ways: cut in half, and its
    # outer SEQUENCE tag (0x30) replaced by SET (0x31). The key signs CertificateVerify
    # (TLS 1.2 via tlslite-ng); at TLS 1.3 our own client stops after the Certificate.
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    cred = ctx.ca.issue(name(leaf_name_cn(ctx, "malformed.garbage-der", "raw")), key=key)
    der = cred.leaf.public_bytes(serialization.Encoding.DER)
    key_pem = cred.key_pem()
    note = "the server cannot parse what was sent, so no log line can name it: ip:port or time only"
    out = []
    for version, tag in ((TlsVersion.TLS1_3, "t13"), (TlsVersion.TLS1_2, "t12")):
        if version not in ctx.server_versions:
            continue
        out += [
            Forged(None, label=f"{tag}-truncated", note=note, version=version,
                   garbage=GarbageCertificate(der[: len(der) // 2], key_pem)),
            Forged(None, label=f"{tag}-wrong-tag", note=note, version=version,
                   garbage=GarbageCertificate(b"\x31" + der[1:], key_pem)),
        ]  # fmt: skip
    return out
