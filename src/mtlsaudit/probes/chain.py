"""Chain-of-trust probes: certificates that do not lead to the CA the target trusts."""

from __future__ import annotations

from mtlsaudit.forge import CA, Credential, forge_issuer, name, self_signed
from mtlsaudit.models import Need, Severity
from mtlsaudit.probes.base import ForgeContext, Forged, leaf_name_cn, probe


@probe(
    order=10,
    id="chain.self-signed",
    title="A self-signed client certificate is rejected and logged",
    family="chain",
    severity=Severity.CRITICAL,
    cwe=(295, 296),
    reasons=("untrusted",),
    remediation="verify-chain",
)
def self_signed_leaf(ctx: ForgeContext, tag: str) -> list[Forged]:
    return [Forged(self_signed(name(leaf_name_cn(ctx, "chain.self-signed", tag))))]


@probe(
    order=11,
    id="chain.untrusted-root",
    title="A client certificate from an unknown root CA is rejected and logged",
    family="chain",
    severity=Severity.CRITICAL,
    cwe=(295, 296),
    reasons=("untrusted",),
    remediation="verify-chain",
)
def untrusted_root(ctx: ForgeContext, tag: str) -> list[Forged]:
    rogue = CA.new(f"mtlsaudit-{ctx.scan_id}-rogue-root-{tag}")
    cred = rogue.issue(name(leaf_name_cn(ctx, "chain.untrusted-root", tag)))
    return [Forged(Credential(cred.chain, cred.key, extra=[rogue.cert]))]


@probe(
    order=12,
    id="chain.forged-issuer",
    title="A certificate naming a trusted CA as issuer but signed by another key is rejected and logged",
    family="chain",
    severity=Severity.CRITICAL,
    cwe=(295, 347),
    # OpenSSL finds the named issuer and reports the signature; others say "unknown CA".
    reasons=("bad-signature", "untrusted"),
    remediation="verify-chain",
)
def forged_issuer(ctx: ForgeContext, tag: str) -> list[Forged]:
    cn = name(leaf_name_cn(ctx, "chain.forged-issuer", tag))
    if ctx.advertised_ca_names:
        issuer = ctx.advertised_ca_names[0]
        note = "issuer DN copied from a CA name the server advertises in its CertificateRequest"
    elif ctx.ca is not None:
        issuer, note = ctx.ca.name, "issuer DN copied from the given CA certificate"
    else:
        issuer = name(f"mtlsaudit-{ctx.scan_id}-unknown-issuer")
        note = "server advertised no CA names: issuer DN is made up (same as untrusted-root)"
    return [Forged(forge_issuer(cn, issuer), note=note)]


@probe(
    order=13,
    id="chain.missing-intermediate",
    title="A leaf whose intermediate CA is not sent is rejected and logged",
    family="chain",
    needs=(frozenset({Need.CA}),),
    severity=Severity.CRITICAL,
    cwe=(295, 296),
    reasons=("untrusted",),
    remediation="verify-chain",
)
def missing_intermediate(ctx: ForgeContext, tag: str) -> list[Forged]:
    assert ctx.ca is not None
    sub = ctx.ca.intermediate(f"mtlsaudit-{ctx.scan_id}-int-{tag}")
    cred = sub.issue(name(leaf_name_cn(ctx, "chain.missing-intermediate", tag)))
    return [Forged(Credential(cred.chain, cred.key, extra=[sub.cert]))]


@probe(
    order=14,
    id="chain.intermediate-not-ca",
    title="A chain through an intermediate that is not a CA is rejected and logged",
    family="chain",
    needs=(frozenset({Need.CA}),),
    severity=Severity.CRITICAL,
    cwe=(296, 295),
    # `openssl verify` says 79 "invalid CA certificate", but inside a TLS server OpenSSL
    # checks the chain's purpose first and reports 26 "unsuitable certificate purpose"
    # (seen on nginx 1.22 / OpenSSL 3.0): both name this defect.
    reasons=("not-a-ca", "purpose"),
    remediation="verify-chain",
)
def intermediate_not_ca(ctx: ForgeContext, tag: str) -> list[Forged]:
    assert ctx.ca is not None
    sub = ctx.ca.intermediate(f"mtlsaudit-{ctx.scan_id}-notca-{tag}", is_ca=False)
    cred = sub.issue(name(leaf_name_cn(ctx, "chain.intermediate-not-ca", tag)))
    return [Forged(Credential([cred.leaf, sub.cert], cred.key))]
