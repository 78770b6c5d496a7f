"""Revocation: a certificate from the trusted CA whose serial is on the CA's CRL."""

from __future__ import annotations

from mtlsaudit.forge import name
from mtlsaudit.forge.revocation import revoked_serial
from mtlsaudit.models import Need, Severity
from mtlsaudit.probes.base import ForgeContext, Forged, leaf_name_cn, probe


@probe(
    order=50,
    id="revocation.revoked",
    title="A revoked client certificate (on the CA's CRL, OCSP says revoked) is rejected and logged",
    family="revocation",
    needs=(frozenset({Need.CA}),),
    severity=Severity.CRITICAL,
    cwe=(299,),
    reasons=("revoked",),
    remediation="check-revocation",
)
def revoked(ctx: ForgeContext, tag: str) -> list[Forged]:
    assert ctx.ca is not None
    # The scan's CA already adds the responder's CRL/OCSP URLs to what it issues.
    cred = ctx.ca.issue(name(leaf_name_cn(ctx, "revocation.revoked", tag)), serial=revoked_serial(ctx.ca))
    note = "serial revoked by the CRL that --crl-out writes; the target must have it installed"
    return [Forged(cred, note=note)]
