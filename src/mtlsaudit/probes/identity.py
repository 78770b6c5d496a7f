"""Identity probes: a second key for an existing client identity (pinning), and rotation."""

from __future__ import annotations

from mtlsaudit.forge import name
from mtlsaudit.models import Need, Severity
from mtlsaudit.probes.base import ForgeContext, Forged, leaf_name_cn, probe


@probe(
    order=70,
    id="identity.impersonation",
    title="A second certificate for a known client's subject is told apart from it in the log",
    family="identity",
    needs=(frozenset({Need.CA, Need.CLIENT}),),
    # Validly issued by the trusted CA, so accepting it is not a defect by itself (pinning
    # is a policy choice); the log must tell the two keys apart (MTLS-L007).
    severity=Severity.INFO,
    cwe=(295, 290),
    remediation="pin-identity",
)
def impersonation(ctx: ForgeContext, tag: str) -> list[Forged]:
    assert ctx.ca is not None and ctx.client is not None
    cred = ctx.ca.issue(ctx.client.leaf.subject)
    return [
        Forged(
            cred,
            expects_acceptance=True,
            note="same subject as the given client certificate, new key and serial",
        )
    ]


@probe(
    order=71,
    id="lifecycle.rotation",
    title="Two generations of one client identity are told apart in the log (serial or fingerprint)",
    family="lifecycle",
    needs=(frozenset({Need.CA}),),
    severity=Severity.INFO,
    cwe=(778,),
    remediation="log-serial",
)
def rotation(ctx: ForgeContext, tag: str) -> list[Forged]:
    assert ctx.ca is not None
    subject = name(leaf_name_cn(ctx, "lifecycle.rotation", tag))
    return [
        Forged(ctx.ca.issue(subject), expects_acceptance=True, label="gen1"),
        Forged(ctx.ca.issue(subject), expects_acceptance=True, label="gen2"),
    ]
