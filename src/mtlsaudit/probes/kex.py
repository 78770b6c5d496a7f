"""Key-exchange probes: raw ClientHellos a modern server must refuse, and log refusing.

No certificate and no HTTP request is sent, so nothing in the log can carry a marker of
these attempts: only the source ip:port or the time can tie a line to them, and the
report says so. A server that answers with a ServerHello agreed to the weak parameters.
"""

from __future__ import annotations

from mtlsaudit.models import Severity, TlsVersion
from mtlsaudit.probes.base import ForgeContext, Forged, probe
from mtlsaudit.transport.hello import (
    LEGACY_CIPHERS,
    MODERN_CIPHERS,
    SSL3,
    TLS1_0,
    TLS1_1,
    TLS1_2,
    WEAK_CIPHERS,
    HelloSpec,
)

NO_MARKER = "no certificate and no request: only source ip:port or time can attribute a log line"


@probe(
    order=70,
    id="kex.legacy-protocol",
    title="SSLv3, TLS 1.0 and TLS 1.1 hellos are refused and the refusals logged",
    family="kex",
    severity=Severity.MEDIUM,
    cwe=(757, 327),
    reasons=("legacy-protocol",),
    remediation="modern-protocols",
    per_version=False,
    presents_certificate=False,
)
def legacy_protocol(ctx: ForgeContext, tag: str) -> list[Forged]:
    return [
        Forged(None, label=label, note=NO_MARKER, hello=HelloSpec(version, LEGACY_CIPHERS), version=tls)
        for label, version, tls in (
            ("ssl3", SSL3, TlsVersion.SSL3),
            ("tls10", TLS1_0, TlsVersion.TLS1_0),
            ("tls11", TLS1_1, TlsVersion.TLS1_1),
        )
    ]


@probe(
    order=71,
    id="kex.no-shared-cipher",
    title="A TLS 1.2 hello offering only NULL, EXPORT, RC4 and 3DES suites is refused and logged",
    family="kex",
    severity=Severity.MEDIUM,
    cwe=(327, 326),
    reasons=("weak-cipher",),
    remediation="modern-ciphers",
    per_version=False,
    presents_certificate=False,
)
def no_shared_cipher(ctx: ForgeContext, tag: str) -> list[Forged]:
    return [Forged(None, label="t12", note=NO_MARKER, hello=HelloSpec(TLS1_2, WEAK_CIPHERS), version=TlsVersion.TLS1_2)]


@probe(
    order=72,
    id="kex.fallback-scsv",
    title="A TLS 1.2 hello with TLS_FALLBACK_SCSV to a TLS 1.3 server gets inappropriate_fallback, logged",
    family="kex",
    severity=Severity.MEDIUM,
    cwe=(757,),
    reasons=("fallback",),
    remediation="modern-protocols",
    per_version=False,
    presents_certificate=False,
)
def fallback_scsv(ctx: ForgeContext, tag: str) -> list[Forged]:
    if TlsVersion.TLS1_3 not in ctx.server_versions:
        raise NotImplementedError("the server does not speak TLS 1.3, so a fallback from it cannot be tested")
    spec = HelloSpec(TLS1_2, MODERN_CIPHERS, fallback_scsv=True)
    return [Forged(None, label="t12", note=NO_MARKER, hello=spec, version=TlsVersion.TLS1_2)]
