"""Key-usage probes: certificates issued for another purpose."""

from __future__ import annotations

from cryptography.x509.oid import ExtendedKeyUsageOID

from mtlsaudit.forge import name
from mtlsaudit.models import Need, Severity
from mtlsaudit.probes.base import ForgeContext, Forged, leaf_name_cn, probe


@probe(
    order=30,
    id="usage.server-auth-eku",
    title="A certificate whose extended key usage is serverAuth only is rejected as a client certificate",
    family="usage",
    needs=(frozenset({Need.CA}),),
    severity=Severity.MEDIUM,
    cwe=(295,),
    reasons=("purpose",),
    remediation="verify-purpose",
)
def server_auth_eku(ctx: ForgeContext, tag: str) -> list[Forged]:
    assert ctx.ca is not None
    cred = ctx.ca.issue(
        name(leaf_name_cn(ctx, "usage.server-auth-eku", tag)),
        eku=(ExtendedKeyUsageOID.SERVER_AUTH,),
    )
    return [Forged(cred)]
