"""Log-injection probes: subject fields carrying CR/LF with a forged line, or terminal escapes.

With the CA key the certificate is otherwise valid, so the payload travels into access and
application logs; without it the certificate is self-signed and tests handshake logs only.
"""

from __future__ import annotations

from mtlsaudit.forge import name, self_signed
from mtlsaudit.forge.pki import utcnow
from mtlsaudit.models import Severity
from mtlsaudit.probes.base import ForgeContext, Forged, leaf_name_cn, probe


def _forge(ctx: ForgeContext, probe_id: str, tag: str, payload: str, token: str | None) -> list[Forged]:
    subject = name(leaf_name_cn(ctx, probe_id, tag), organizational_unit=payload)
    if ctx.ca is not None:
        return [Forged(ctx.ca.issue(subject), expects_acceptance=True, forged_token=token)]
    return [
        Forged(
            self_signed(subject),
            forged_token=token,
            note="no CA key: self-signed, so the payload only reaches handshake logs",
            reasons=("untrusted",),
        )
    ]


@probe(
    order=60,
    id="inject.crlf-subject",
    title="CR/LF in a certificate subject cannot forge a log record",
    family="inject",
    severity=Severity.CRITICAL,
    cwe=(117, 295),
    remediation="escape-fields",
)
def crlf_subject(ctx: ForgeContext, tag: str) -> list[Forged]:
    token = f"mtlsaudit-forged-{ctx.scan_id}-{tag}"
    stamp = utcnow().strftime("%Y-%m-%dT%H:%M:%SZ")
    payload = f"x\r\n{stamp} INFO {token} client certificate verified user=admin\r\n"
    return _forge(ctx, "inject.crlf-subject", tag, payload, token)


@probe(
    order=61,
    id="inject.ansi-subject",
    title="Terminal escape sequences in a certificate subject reach the log escaped",
    family="inject",
    severity=Severity.CRITICAL,
    cwe=(117, 150, 295),
    remediation="escape-fields",
)
def ansi_subject(ctx: ForgeContext, tag: str) -> list[Forged]:
    token = f"mtlsaudit-ansi-{ctx.scan_id}-{tag}"
    payload = f"\x1b[2J\x1b]0;{token}\x07\x1b[1;31m{token}\x1b[0m"
    return _forge(ctx, "inject.ansi-subject", tag, payload, token)
