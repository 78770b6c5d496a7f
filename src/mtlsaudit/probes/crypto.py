"""Cryptographic probes: a broken signature, a weak key, a weak signature hash."""

from __future__ import annotations

from mtlsaudit.forge import Credential, corrupt_signature, name, new_key
from mtlsaudit.forge.pki import resign_sha1
from mtlsaudit.models import Need, Severity
from mtlsaudit.probes.base import ForgeContext, Forged, leaf_name_cn, probe


@probe(
    order=40,
    id="crypto.bad-signature",
    title="A certificate from the trusted CA with a corrupted signature is rejected and logged",
    family="crypto",
    needs=(frozenset({Need.CA}),),
    severity=Severity.CRITICAL,
    cwe=(347, 295),
    reasons=("bad-signature",),
    remediation="verify-chain",
)
def bad_signature(ctx: ForgeContext, tag: str) -> list[Forged]:
    assert ctx.ca is not None
    cred = ctx.ca.issue(name(leaf_name_cn(ctx, "crypto.bad-signature", tag)))
    return [Forged(Credential([corrupt_signature(cred.leaf)], cred.key))]


@probe(
    order=41,
    id="crypto.weak-key",
    title="A client certificate with an RSA-1024 key is rejected and logged",
    family="crypto",
    needs=(frozenset({Need.CA}),),
    severity=Severity.MEDIUM,
    cwe=(326,),
    reasons=("weak-key",),
    remediation="security-level",
)
def weak_key(ctx: ForgeContext, tag: str) -> list[Forged]:
    assert ctx.ca is not None
    cred = ctx.ca.issue(name(leaf_name_cn(ctx, "crypto.weak-key", tag)), key=new_key("rsa1024"))
    return [Forged(cred, legacy_crypto=True)]


@probe(
    order=42,
    id="crypto.sha1",
    title="A client certificate signed with SHA-1 is rejected and logged",
    family="crypto",
    needs=(frozenset({Need.CA}),),
    severity=Severity.LOW,
    cwe=(328, 327),
    reasons=("weak-digest",),
    remediation="security-level",
)
def sha1(ctx: ForgeContext, tag: str) -> list[Forged]:
    assert ctx.ca is not None
    cred = ctx.ca.issue(name(leaf_name_cn(ctx, "crypto.sha1", tag)))
    return [Forged(Credential([resign_sha1(cred.leaf, ctx.ca.key)], cred.key), legacy_crypto=True)]
