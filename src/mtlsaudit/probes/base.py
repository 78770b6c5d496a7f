"""What a probe is: validated metadata plus a recipe that forges what it presents.

A probe module defines module-level :class:`Probe` objects; :func:`catalogue` finds them by
walking this package, so adding a probe is one module (or one entry in a family module)
and one test, with no central list to edit.
"""

from __future__ import annotations

import importlib
import pkgutil
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache

from cryptography import x509
from pydantic import BaseModel, ConfigDict, Field, field_validator

from mtlsaudit.correlate.reasons import DEFECT_REASONS
from mtlsaudit.forge import CA, Credential
from mtlsaudit.models import Need, Severity, TlsVersion
from mtlsaudit.transport.hello import HelloSpec

_ID = re.compile(r"^[a-z]+\.[a-z0-9-]+$")


@dataclass(frozen=True)
class ForgeContext:
    """What a recipe may use: the scan id (for markers) and the operator's trust material.

    Attributes:
        scan_id: short random id of this scan; goes into every CN.
        ca: the CA the target trusts, with its key (None in black-box mode).
        client: one valid client credential (None if not given).
        advertised_ca_names: issuer names the server advertises or we know it trusts.
    """

    scan_id: str
    ca: CA | None = None
    client: Credential | None = None
    advertised_ca_names: tuple[x509.Name, ...] = ()
    server_versions: tuple[TlsVersion, ...] = (TlsVersion.TLS1_3, TlsVersion.TLS1_2)

    def has(self, need: Need) -> bool:
        return (self.ca if need is Need.CA else self.client) is not None


@dataclass(frozen=True)
class Forged:
    """One credential to present (``None`` = no certificate) and how to judge the answer.

    Attributes:
        credential: chain and key to send, or None to send no certificate.
        expects_acceptance: True when a secure server accepts this (valid credentials).
        note: what the recipe had to change (shown in the report).
        forged_token: the token inside an injected fake log line, if any.
        legacy_crypto: the client must lower its own security level to send this.
        label: distinguishes generations of one probe (``gen1``/``gen2``).
        reasons: defect classes that override the probe's own (when a recipe degrades).
        hello: send this raw ClientHello instead of a TLS handshake (no certificate).
        garbage: send these bytes as the client certificate (via tlslite-ng).
        version: the protocol version this attempt offers (probes with ``per_version=False``).
    """

    credential: Credential | None
    expects_acceptance: bool = False
    note: str | None = None
    forged_token: str | None = None
    legacy_crypto: bool = False
    label: str = ""
    reasons: tuple[str, ...] | None = None
    hello: HelloSpec | None = None
    garbage: GarbageCertificate | None = None
    version: TlsVersion | None = None


@dataclass(frozen=True)
class GarbageCertificate:
    """Bytes sent in the Certificate message instead of a certificate, and the key that
    signs CertificateVerify (the server should fail on the bytes before that)."""

    der: bytes
    key_pem: bytes = field(repr=False)


Recipe = Callable[[ForgeContext, str], list[Forged]]


class ProbeMeta(BaseModel):
    """Validated metadata; a probe with bad metadata fails at import time."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str
    title: str = Field(max_length=150)
    family: str
    needs: tuple[frozenset[Need], ...] = Field(
        default=(frozenset(),),
        description="alternatives: the probe can run when any one set is fully available",
    )
    severity: Severity
    cwe: tuple[int, ...] = Field(min_length=1)
    reasons: tuple[str, ...] = Field(default=(), description="defect classes a log line may name (correlate.reasons)")
    remediation: str
    per_version: bool = Field(
        default=True,
        description="run once per TLS version the server speaks; False: the recipe chooses versions (labels)",
    )
    presents_certificate: bool = Field(default=True, description="False when no parseable certificate is sent")

    @field_validator("id")
    @classmethod
    def _id_shape(cls, v: str) -> str:
        if not _ID.match(v):
            raise ValueError(f"probe id {v!r} must look like 'family.name'")
        return v

    @field_validator("reasons")
    @classmethod
    def _known_reasons(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        unknown = set(v) - set(DEFECT_REASONS)
        if unknown:
            raise ValueError(f"unknown reason classes {sorted(unknown)}")
        return v


@dataclass(frozen=True)
class Probe:
    """A catalogue entry: metadata and the recipe that forges its credential(s)."""

    meta: ProbeMeta
    recipe: Recipe = field(repr=False)
    order: int = 50

    @property
    def id(self) -> str:
        return self.meta.id

    def missing_needs(self, ctx: ForgeContext) -> str | None:
        """Why the probe cannot run with this trust material, or None if it can."""
        for alternative in self.meta.needs:
            if all(ctx.has(n) for n in alternative):
                return None
        wanted = " or ".join(" + ".join(_NEED_WORDS[n] for n in sorted(alt)) for alt in self.meta.needs)
        return f"needs {wanted}"


_NEED_WORDS = {
    Need.CA: "the CA key (--ca-cert/--ca-key)",
    Need.CLIENT: "a client cert (--client-cert/--client-key)",
}


def probe(order: int = 50, **meta: object) -> Callable[[Recipe], Probe]:
    """Decorator: turn a recipe function into a validated :class:`Probe`."""

    def wrap(fn: Recipe) -> Probe:
        return Probe(ProbeMeta.model_validate(meta), fn, order)

    return wrap


@cache
def catalogue() -> tuple[Probe, ...]:
    """Every probe in this package, in catalogue order; ids must be unique."""
    import mtlsaudit.probes as pkg

    found: dict[str, Probe] = {}
    for info in pkgutil.iter_modules(pkg.__path__):
        if info.name.startswith("_") or info.name == "base":
            continue
        module = importlib.import_module(f"{pkg.__name__}.{info.name}")
        for value in vars(module).values():
            if isinstance(value, Probe):
                if value.id in found and found[value.id] is not value:
                    raise RuntimeError(f"duplicate probe id {value.id}")
                found[value.id] = value
    return tuple(sorted(found.values(), key=lambda p: (p.order, p.id)))


def leaf_name_cn(ctx: ForgeContext, probe_id: str, tag: str) -> str:
    """The CN marker: ``mtlsaudit-<scan>-<probe>-<tag>`` (at most 64 characters)."""
    cn = f"mtlsaudit-{ctx.scan_id}-{probe_id}-{tag}"
    return cn[:64]
