"""Controls: a valid credential (must be accepted and logged with identity) and no credential."""

from __future__ import annotations

from mtlsaudit.forge import name
from mtlsaudit.models import Need, Severity
from mtlsaudit.probes.base import ForgeContext, Forged, leaf_name_cn, probe


@probe(
    order=0,
    id="control.valid",
    title="A valid client certificate is accepted and the success is logged with its identity",
    family="control",
    needs=(frozenset({Need.CA}), frozenset({Need.CLIENT})),
    severity=Severity.INFO,
    cwe=(778,),
    remediation="success-logging",
)
def valid(ctx: ForgeContext, tag: str) -> list[Forged]:
    if ctx.ca is not None:
        cred = ctx.ca.issue(name(leaf_name_cn(ctx, "control.valid", tag)))
        return [Forged(cred, expects_acceptance=True)]
    assert ctx.client is not None
    return [Forged(ctx.client, expects_acceptance=True, note="operator's client certificate")]


@probe(
    order=1,
    id="control.no-cert",
    title="A connection without a client certificate is rejected and logged",
    family="control",
    severity=Severity.CRITICAL,
    cwe=(306, 295),
    reasons=("no-cert",),
    remediation="require-client-cert",
    presents_certificate=False,
)
def no_cert(ctx: ForgeContext, tag: str) -> list[Forged]:
    return [Forged(None)]
