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
    if TlsVersion.TLS1_2 not in ctx.server_versions:
        raise NotImplementedError(
            "TLS 1.2 only: tlslite-ng cannot send a client certificate inside a TLS 1.3 handshake "
            "(tlslite-ng issue #207), and the server does not speak TLS 1.2"
        )
    # A real certificate from the trusted CA, then broken two ways: cut in half, and its
    # outer SEQUENCE tag (0x30) replaced by SET (0x31). The key signs CertificateVerify.
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    cred = ctx.ca.issue(name(leaf_name_cn(ctx, "malformed.garbage-der", "t12")), key=key)
    der = cred.leaf.public_bytes(serialization.Encoding.DER)
    key_pem = cred.key_pem()
    note = (
        "the server cannot parse what was sent, so no log line can name it: ip:port or time only; "
        "TLS 1.2 only (tlslite-ng cannot send a client certificate in a TLS 1.3 handshake, its issue #207)"
    )
    v12 = TlsVersion.TLS1_2
    return [
        Forged(
            None,
            label="t12-truncated",
            note=note,
            version=v12,
            garbage=GarbageCertificate(der[: len(der) // 2], key_pem),
        ),
        Forged(
            None, label="t12-wrong-tag", note=note, version=v12, garbage=GarbageCertificate(b"\x31" + der[1:], key_pem)
        ),
    ]
