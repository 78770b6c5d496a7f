"""The reason vocabulary: how servers word each certificate defect in their logs.

A log line states a reason in one of four ways, and we accept all of them rather than one
server's wording: OpenSSL's verify text (``certificate has expired``), its symbolic code
(``CERT_HAS_EXPIRED``, as Node prints), its numeric X509_V_ERR code (``Error (10)`` in
Apache, ``c_err=10`` in HAProxy's error-log-format, ``(10:`` in nginx), or a TLS alert name
(``certificate_expired``). Go's crypto/x509 texts are added where they differ.
"""

from __future__ import annotations

import re
from functools import cache

from mtlsaudit.models import ReasonQuality


def _codes(*numbers: int) -> str:
    """Numeric X509_V_ERR codes the way servers print them.

    ``Error (10)`` (Apache), ``(10:certificate…`` (nginx), ``c_err=10`` / ``verify=10``
    (HAProxy), ``verify_code=10`` / ``"error.code": 10`` (structured loggers).
    """
    alt = "|".join(str(n) for n in numbers)
    keyed = r"\b(?:c_err|ca_err|verify|verify_code|verify_result|verify_error|x509_err|code)\"?\s*[=:]\s*\"?"
    return rf"(?:{keyed}|error\s*\(|\()(?:{alt})(?![\d.])"


#: Defect classes → patterns naming that defect. Keys are referenced by probes.
DEFECT_REASONS: dict[str, tuple[str, ...]] = {
    "no-cert": (
        r"no required ssl certificate",
        r"did not return a certificate",
        r"didn'?t provide a certificate",
        r"certificate[ _]required",
        r"no (?:client )?certificate",
        r"PEER_DID_NOT_RETURN_A_CERTIFICATE",
        r"missing client cert",
    ),
    "untrusted": (
        r"unable to get (?:local )?issuer",
        r"self[-_ ]?signed",
        r"unknown[ _]ca\b",
        r"unknown authority",
        r"UNABLE_TO_GET_ISSUER_CERT",
        r"UNABLE_TO_VERIFY_LEAF_SIGNATURE",
        r"unable to verify the first certificate",
        r"untrusted (?:root|issuer|ca)",
        _codes(2, 18, 19, 20, 21),
    ),
    "bad-signature": (
        r"signature failure",
        r"CERT_SIGNATURE_FAILURE",
        r"decrypt[ _]error",
        r"verification error",
        # Go: x509: ECDSA verification failure
        r"verification failure",
        r"bad signature",
        r"invalid padding",
        r"signature (?:is )?invalid",
        _codes(7),
    ),
    "expired": (
        r"\bexpired\b",
        r"CERT_HAS_EXPIRED",
        r"certificate_expired",
        _codes(10),
    ),
    "not-yet-valid": (
        r"not yet valid",
        r"CERT_NOT_YET_VALID",
        # Go words both date defects the same way: "has expired or is not yet valid".
        _codes(9),
    ),
    "not-a-ca": (
        r"invalid ca\b",
        r"INVALID_CA",
        r"not a ca\b",
        r"basic ?constraints",
        r"not authorized to sign",
        # Go: parent certificate cannot sign this kind of certificate
        r"cannot sign this kind of certificate",
        _codes(24, 79),
    ),
    "purpose": (
        r"unsupported certificate purpose",
        r"unsuitable certificate purpose",
        r"invalid purpose",
        r"INVALID_PURPOSE",
        r"incompatible key usage",
        r"unsupported[ _]certificate",
        r"extended key usage",
        _codes(26),
    ),
    "weak-key": (
        r"key too (?:small|weak)",
        r"KEY_TOO_SMALL",
        r"weak key",
        _codes(66, 67),
    ),
    "weak-digest": (
        r"md too weak",
        r"digest algorithm too weak",
        r"MD_TOO_WEAK",
        r"insecure algorithm",
        _codes(68),
    ),
    "legacy-protocol": (
        r"unsupported protocol",
        r"UNSUPPORTED_PROTOCOL",
        r"wrong version number",
        r"protocol[ _]version",
        r"version too low",
        r"no protocols available",
        r"offered only unsupported versions",
        r"unsupported versions",
        # OpenSSL 3 refuses TLS 1.0/1.1 at security level >= 1 by finding no usable
        # signature algorithm (nginx and Apache log this for a TLS 1.0 hello).
        r"no suitable signature algorithm",
    ),
    "weak-cipher": (
        r"no shared cipher",
        r"NO_SHARED_CIPHER",
        r"no cipher suites? (?:in common|supported)",
        r"no ciphers available",
        r"NO_CIPHERS_AVAILABLE",
        r"cipher suite supported by both",
    ),
    "fallback": (
        r"inappropriate[ _](?:protocol )?fallback",
        r"INAPPROPRIATE_FALLBACK",
    ),
    "malformed": (
        r"wrong tag",
        r"asn1 (?:encoding routines|lib)",
        r"ASN1_LIB",
        r"nested asn1 error",
        r"decode[ _]error",
        r"malformed certificate",
        r"failed to parse (?:client )?certificate",
        r"header too long",
        r"bad certificate data",
    ),
    # Not a probe's defect: a CRL-checking server that cannot find a CRL for the issuer
    # (nginx/Node report a self-signed leaf this way). Named so that it grades as
    # contradicting rather than as no reason at all.
    "crl-unavailable": (
        r"unable to get certificate CRL",
        r"UNABLE_TO_GET_CRL",
        _codes(3),
    ),
    "revoked": (
        r"\brevoked\b",
        r"CERT_REVOKED",
        _codes(23),
    ),
}

#: Words that say "a certificate/handshake failed" without saying why.
GENERIC_FAILURE: tuple[str, ...] = (
    r"verify (?:error|failed|failure)",
    r"verification failed",
    r"handshake (?:error|failure|failed)",
    r"not trusted",
    # HAProxy: "SSL client CA chain cannot be verified" (any error at depth > 0).
    r"cannot be verified",
    r"bad[ _]certificate",
    r"certificate error",
    r"ssl certificate error",
    r"access denied",
    r"\brejected\b",
    r"\bdenied\b",
    r"unauthori[sz]ed",
    r"forbidden",
    r"\bfail(?:ed|ure)?\b",
)


#: The scanner's own markers (request path, User-Agent, CNs) name the probe, e.g.
#: "chain.self-signed"; they must not be read as the server stating a reason.
_OWN_UA = re.compile(r"mtlsaudit/[\w.+-]+ \([^)]*\)", re.IGNORECASE)
_OWN_TOKENS = re.compile(r"[^\s\"'=,;]*mtlsaudit[-/][^\s\"',;\]]*", re.IGNORECASE)


def scrub(text: str) -> str:
    """``text`` without the scanner's own markers."""
    return _OWN_TOKENS.sub(" ", _OWN_UA.sub(" ", text))


@cache
def _compiled(patterns: tuple[str, ...]) -> re.Pattern[str]:
    return re.compile("|".join(f"(?:{p})" for p in patterns), re.IGNORECASE)


def defect_classes_in(text: str) -> set[str]:
    """Every defect class whose wording appears in ``text``."""
    text = scrub(text)
    return {cls for cls, pats in DEFECT_REASONS.items() if _compiled(pats).search(text)}


def reason_text(text: str) -> str | None:
    """The first reason-like phrase in ``text`` (for display), if any."""
    text = scrub(text)
    for pats in (*DEFECT_REASONS.values(), GENERIC_FAILURE):
        m = _compiled(pats).search(text)
        if m:
            return m.group(0)
    return None


def grade_reason(text: str, expected: tuple[str, ...]) -> ReasonQuality:
    """How well ``text`` states the defect, given the classes that would be right.

    ``expected`` empty means the attempt should have succeeded: any defect wording there
    is reported as GENERIC (a reason exists), never as contradicting.
    """
    text = scrub(text)
    found = defect_classes_in(text)
    if expected and found & set(expected):
        return ReasonQuality.SPECIFIC
    if found and expected:
        return ReasonQuality.CONTRADICTING
    if found or _compiled(GENERIC_FAILURE).search(text):
        return ReasonQuality.GENERIC
    return ReasonQuality.NONE
