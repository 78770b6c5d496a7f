"""Revocation material: the revoked serial, the CRL that lists it, OCSP answers.

The revoked serial is derived from the CA's public key, so every scan with the same CA
revokes the same serial: an operator installs the CRL once (``--crl-out``) and every
later scan's revoked certificate (fresh key, fresh CN) is on it. A CRL revokes by
issuer and serial, which is exactly what is being tested.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509 import ocsp
from cryptography.x509.oid import AuthorityInformationAccessOID

from mtlsaudit.forge.pki import CA, _aki, utcnow

CRL_VALIDITY = dt.timedelta(days=30)


def revoked_serial(ca: CA) -> int:
    """The serial this CA's revocation probe uses: 19 bytes of SHA-256 over the CA's key."""
    spki = ca.cert.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    digest = hashlib.sha256(b"mtlsaudit revoked serial v1\0" + spki).digest()
    return int.from_bytes(digest[:19], "big") | (1 << 150)  # positive, < 2^159, never tiny


def revocation_crl(ca: CA, now: dt.datetime | None = None) -> x509.CertificateRevocationList:
    """A CRL signed by ``ca`` that revokes :func:`revoked_serial` (keyCompromise)."""
    now = now or utcnow()
    entry = (
        x509.RevokedCertificateBuilder()
        .serial_number(revoked_serial(ca))
        .revocation_date(now - dt.timedelta(hours=1))
        .add_extension(x509.CRLReason(x509.ReasonFlags.key_compromise), critical=False)
        .build()
    )
    builder = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(ca.cert.subject)
        .last_update(now - dt.timedelta(hours=1))
        .next_update(now + CRL_VALIDITY)
        .add_revoked_certificate(entry)
        .add_extension(x509.CRLNumber(int(now.timestamp())), critical=False)
        .add_extension(_aki(ca.cert), critical=False)
    )
    algorithm = None if ca.cert.signature_hash_algorithm is None else hashes.SHA256()
    return builder.sign(ca.key, algorithm)


def write_crl(ca: CA, path: Path) -> Path:
    """Write the CRL as PEM (what nginx ssl_crl, HAProxy crl-file, Node crl, Python
    load_verify_locations and Apache SSLCARevocationFile read)."""
    path.write_bytes(revocation_crl(ca).public_bytes(serialization.Encoding.PEM))
    return path


def revocation_extensions(base_url: str) -> list[x509.ExtensionType]:
    """CRL distribution point and OCSP responder, both on the scanner's responder."""
    return [
        x509.CRLDistributionPoints(
            [x509.DistributionPoint([x509.UniformResourceIdentifier(f"{base_url}/crl")], None, None, None)]
        ),
        x509.AuthorityInformationAccess(
            [
                x509.AccessDescription(
                    AuthorityInformationAccessOID.OCSP, x509.UniformResourceIdentifier(f"{base_url}/ocsp")
                )
            ]
        ),
    ]


def _key_hash(ca: CA, algorithm: hashes.HashAlgorithm) -> bytes:
    """OCSP's issuerKeyHash: the hash of the CA's subjectPublicKey BIT STRING contents."""
    spki = ca.cert.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    key_bits = _spki_bits(spki)
    digest = hashes.Hash(algorithm)
    digest.update(key_bits)
    return digest.finalize()


def _spki_bits(spki: bytes) -> bytes:
    """The subjectPublicKey bits of a DER SubjectPublicKeyInfo (SEQUENCE { alg, BIT STRING })."""

    def header(data: bytes, pos: int) -> tuple[int, int]:  # (content start, content length)
        length = data[pos + 1]
        if length < 0x80:
            return pos + 2, length
        n = length & 0x7F
        return pos + 2 + n, int.from_bytes(data[pos + 2 : pos + 2 + n], "big")

    start, _ = header(spki, 0)  # outer SEQUENCE
    alg_start, alg_len = header(spki, start)  # AlgorithmIdentifier
    bits_start, bits_len = header(spki, alg_start + alg_len)  # BIT STRING
    return spki[bits_start + 1 : bits_start + bits_len]  # skip the unused-bits byte


def ocsp_response(ca: CA, request_der: bytes) -> tuple[bytes, str]:
    """Answer one OCSP request about a certificate of ``ca``: revoked for the revoked
    serial, good for any other; ``unauthorized`` when the request names another issuer."""
    request = ocsp.load_der_ocsp_request(request_der)
    serial = request.serial_number
    if request.issuer_key_hash != _key_hash(ca, request.hash_algorithm):
        unauthorized = ocsp.OCSPResponseBuilder.build_unsuccessful(ocsp.OCSPResponseStatus.UNAUTHORIZED)
        return unauthorized.public_bytes(serialization.Encoding.DER), f"serial {serial:X}: another issuer"
    now = utcnow()
    revoked = serial == revoked_serial(ca)
    builder = ocsp.OCSPResponseBuilder().add_response_by_hash(
        issuer_name_hash=request.issuer_name_hash,
        issuer_key_hash=request.issuer_key_hash,
        serial_number=serial,
        algorithm=request.hash_algorithm,
        cert_status=ocsp.OCSPCertStatus.REVOKED if revoked else ocsp.OCSPCertStatus.GOOD,
        this_update=now - dt.timedelta(minutes=5),
        next_update=now + dt.timedelta(hours=1),
        revocation_time=now - dt.timedelta(hours=1) if revoked else None,
        revocation_reason=x509.ReasonFlags.key_compromise if revoked else None,
    )
    response = builder.responder_id(ocsp.OCSPResponderEncoding.HASH, ca.cert).sign(ca.key, hashes.SHA256())
    return response.public_bytes(serialization.Encoding.DER), f"serial {serial:X}: {'revoked' if revoked else 'good'}"
