"""Validity-period probes: expired and not-yet-valid certificates."""

from __future__ import annotations

import datetime as dt

from mtlsaudit.forge import CA, name
from mtlsaudit.forge.pki import utcnow
from mtlsaudit.models import Severity
from mtlsaudit.probes.base import ForgeContext, Forged, leaf_name_cn, probe

_DEGRADED = "no CA key: issued by a rogue CA, so this only tests how an untrusted {what} certificate is logged"


def _dated(ctx: ForgeContext, probe_id: str, tag: str, start: dt.datetime, end: dt.datetime, what: str) -> list[Forged]:
    issuer = ctx.ca or CA.new(f"mtlsaudit-{ctx.scan_id}-rogue-{tag}")
    cred = issuer.issue(name(leaf_name_cn(ctx, probe_id, tag)), not_before=start, not_after=end)
    if ctx.ca is not None:
        return [Forged(cred)]
    reasons = ("untrusted", "expired" if what == "expired" else "not-yet-valid")
    return [Forged(cred, note=_DEGRADED.format(what=what), reasons=reasons)]


@probe(
    order=20,
    id="validity.expired",
    title="An expired client certificate is rejected and logged as expired",
    family="validity",
    severity=Severity.HIGH,
    cwe=(298, 295),
    reasons=("expired",),
    remediation="verify-dates",
)
def expired(ctx: ForgeContext, tag: str) -> list[Forged]:
    now = utcnow()
    return _dated(
        ctx,
        "validity.expired",
        tag,
        now - dt.timedelta(days=60),
        now - dt.timedelta(days=30),
        "expired",
    )


@probe(
    order=21,
    id="validity.not-yet-valid",
    title="A client certificate that is not yet valid is rejected and logged as such",
    family="validity",
    severity=Severity.MEDIUM,
    cwe=(298, 295),
    reasons=("not-yet-valid",),
    remediation="verify-dates",
)
def not_yet_valid(ctx: ForgeContext, tag: str) -> list[Forged]:
    now = utcnow()
    return _dated(
        ctx,
        "validity.not-yet-valid",
        tag,
        now + dt.timedelta(days=30),
        now + dt.timedelta(days=60),
        "not-yet-valid",
    )
