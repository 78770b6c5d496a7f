"""Certificate authorities, keys and credentials: the building blocks of every probe.

The API is task-shaped (after trustme): make or load a :class:`CA`, ``issue`` leaves or
intermediates from it, and wrap what a probe presents in a :class:`Credential`. Defects
are small named helpers (``self_signed``, ``forge_issuer``, ``corrupt_signature``) so each
probe module states its recipe in a few lines.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from mtlsaudit.errors import UsageError

PrivateKey = ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey | ed448.Ed448PrivateKey
HashAlg = hashes.SHA256 | hashes.SHA1 | hashes.SHA384 | None

ORGANIZATION = "mtlsaudit probe"


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def new_key(kind: str = "ec") -> PrivateKey:
    """Make a fresh private key.

    Args:
        kind: ``"ec"`` (P-256, the default), ``"rsa2048"`` or ``"rsa1024"`` (weak on purpose).
    """
    if kind == "ec":
        return ec.generate_private_key(ec.SECP256R1())
    if kind.startswith("rsa"):
        return rsa.generate_private_key(public_exponent=65537, key_size=int(kind[3:]))
    raise ValueError(f"unknown key kind {kind!r}")


def name(common_name: str, organization: str = ORGANIZATION, **extra: str) -> x509.Name:
    """Build a subject/issuer name; ``extra`` adds attributes such as ``organizational_unit``.

    Values are stored as UTF8String so they may carry any character (the injection probes
    rely on that: PrintableString could not hold CR, LF or ESC).
    """
    oids = {"organizational_unit": NameOID.ORGANIZATIONAL_UNIT_NAME}
    attrs = [
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, organization),
        *[x509.NameAttribute(oids[k], v) for k, v in extra.items()],
        x509.NameAttribute(NameOID.COMMON_NAME, common_name),
    ]
    return x509.Name(attrs)


def _default_hash(key: PrivateKey) -> HashAlg:
    if isinstance(key, ed25519.Ed25519PrivateKey | ed448.Ed448PrivateKey):
        return None
    return hashes.SHA256()


def _aki(issuer_cert: x509.Certificate) -> x509.AuthorityKeyIdentifier:
    try:
        ski = issuer_cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
        return x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski)
    except x509.ExtensionNotFound:
        return x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_cert.public_key())  # type: ignore[arg-type]


def build_certificate(
    *,
    subject: x509.Name,
    issuer: x509.Name,
    public_key: object,
    signing_key: PrivateKey,
    issuer_cert: x509.Certificate | None = None,
    not_before: dt.datetime | None = None,
    not_after: dt.datetime | None = None,
    ca: bool = False,
    ca_constraint: bool = True,
    eku: Sequence[x509.ObjectIdentifier] | None = (ExtendedKeyUsageOID.CLIENT_AUTH,),
    hash_alg: HashAlg | str = "default",
    serial: int | None = None,
    cert_sign: bool | None = None,
    extensions: Sequence[x509.ExtensionType] = (),
) -> x509.Certificate:
    """Sign one certificate. Every argument is explicit so recipes can change one thing.

    Args:
        subject: subject name.
        issuer: issuer name written into the certificate (need not match ``signing_key``).
        public_key: the subject's public key.
        signing_key: the key that signs (the issuer's, unless forging).
        issuer_cert: when given, its key identifier becomes the AuthorityKeyIdentifier.
        not_before / not_after: validity; default one hour ago to one day ahead.
        ca: mark as a CA (basicConstraints CA:TRUE, keyCertSign).
        ca_constraint: write basicConstraints at all (False makes a "not a CA" intermediate
            that carries no CA flag).
        eku: extended key usages; ``None`` leaves the extension out.
        hash_alg: signature hash; ``"default"`` picks SHA-256 (or none for EdDSA).
        serial: serial number; random (and so unique) by default.
        cert_sign: keyUsage keyCertSign/cRLSign; defaults to ``ca``.
        extensions: further non-critical extensions (CRL distribution points, AIA).
    """
    now = utcnow()
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(public_key)  # type: ignore[arg-type]
        .serial_number(serial if serial is not None else x509.random_serial_number())
        .not_valid_before(not_before or now - dt.timedelta(hours=1))
        .not_valid_after(not_after or now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectKeyIdentifier.from_public_key(public_key),  # type: ignore[arg-type]
            critical=False,
        )
    )
    if ca_constraint or ca:
        builder = builder.add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    builder = builder.add_extension(
        x509.KeyUsage(
            digital_signature=True,
            content_commitment=False,
            key_encipherment=not ca and not isinstance(public_key, ec.EllipticCurvePublicKey),
            data_encipherment=False,
            key_agreement=False,
            key_cert_sign=ca if cert_sign is None else cert_sign,
            crl_sign=ca if cert_sign is None else cert_sign,
            encipher_only=False,
            decipher_only=False,
        ),
        critical=True,
    )
    if eku is not None and not ca:
        builder = builder.add_extension(x509.ExtendedKeyUsage(list(eku)), critical=False)
    if issuer_cert is not None:
        builder = builder.add_extension(_aki(issuer_cert), critical=False)
    for extension in extensions:
        builder = builder.add_extension(extension, critical=False)
    algorithm = _default_hash(signing_key) if hash_alg == "default" else hash_alg
    return builder.sign(signing_key, algorithm)  # type: ignore[arg-type]


@dataclass(frozen=True)
class CA:
    """A certificate authority: a certificate and the key that signs with it.

    Attributes:
        cert: the CA certificate.
        key: its private key.
        extensions: non-critical extensions every issued certificate carries unless the
            caller passes its own (the scan's CRL/OCSP URLs, like a real CA's).
    """

    cert: x509.Certificate
    key: PrivateKey
    extensions: tuple[x509.ExtensionType, ...] = ()

    @classmethod
    def new(cls, common_name: str = "mtlsaudit Test Root CA", key_kind: str = "ec") -> CA:
        """Make a fresh self-signed root, valid for ten years."""
        key = new_key(key_kind)
        subject = name(common_name)
        now = utcnow()
        cert = build_certificate(
            subject=subject,
            issuer=subject,
            public_key=key.public_key(),
            signing_key=key,
            not_before=now - dt.timedelta(days=1),
            not_after=now + dt.timedelta(days=3650),
            ca=True,
        )
        return cls(cert, key)

    @classmethod
    def from_files(cls, cert_path: Path, key_path: Path) -> CA:
        """Load the CA the target trusts; the key must belong to the certificate."""
        cert = load_certificate(cert_path)
        key = load_private_key(key_path)
        if not _same_public_key(cert, key):
            raise UsageError(f"CA key {key_path} does not match CA certificate {cert_path}")
        return cls(cert, key)

    @property
    def name(self) -> x509.Name:
        return self.cert.subject

    def issue(
        self,
        subject: x509.Name,
        *,
        key: PrivateKey | None = None,
        hash_alg: HashAlg | str = "default",
        **kwargs: object,
    ) -> Credential:
        """Issue a certificate for ``subject`` with a fresh key (see :func:`build_certificate`)."""
        key = key or new_key()
        kwargs.setdefault("extensions", self.extensions)
        cert = build_certificate(
            subject=subject,
            issuer=self.cert.subject,
            public_key=key.public_key(),
            signing_key=self.key,
            issuer_cert=self.cert,
            hash_alg=hash_alg,
            **kwargs,  # type: ignore[arg-type]
        )
        return Credential(chain=[cert], key=key)

    def intermediate(self, common_name: str, *, is_ca: bool = True) -> CA:
        """A sub-CA signed by this CA.

        ``is_ca=False`` makes exactly one defect: basicConstraints CA:FALSE while keyUsage
        still allows certificate signing (OpenSSL: 24 "invalid CA certificate").
        """
        child = self.issue(name(common_name), ca=is_ca, eku=None, cert_sign=True)
        return CA(child.leaf, child.key)


@dataclass(frozen=True)
class Credential:
    """What one attempt presents: a certificate chain (leaf first) and the leaf's key.

    Attributes:
        chain: certificates sent in the Certificate message, leaf first.
        key: the leaf's private key.
        extra: certificates that belong to the recipe but are not sent (e.g. the
            intermediate of ``chain.missing-intermediate``), kept as markers.
    """

    chain: list[x509.Certificate]
    key: PrivateKey
    extra: list[x509.Certificate] = field(default_factory=list)

    @property
    def leaf(self) -> x509.Certificate:
        return self.chain[0]

    def chain_pem(self) -> bytes:
        return b"".join(c.public_bytes(serialization.Encoding.PEM) for c in self.chain)

    def key_pem(self) -> bytes:
        return self.key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )

    def write(self, directory: Path, stem: str) -> tuple[Path, Path]:
        """Write ``<stem>.pem`` (chain) and ``<stem>.key`` (mode 0600); return both paths."""
        directory.mkdir(parents=True, exist_ok=True)
        cert_path = directory / f"{stem}.pem"
        key_path = directory / f"{stem}.key"
        cert_path.write_bytes(self.chain_pem())
        write_secret(key_path, self.key_pem())
        return cert_path, key_path


def write_secret(path: Path, data: bytes) -> None:
    """Write ``data`` so that the file is never readable by others, not even briefly."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.fchmod(fd, 0o600)
        os.write(fd, data)
    finally:
        os.close(fd)


def self_signed(subject: x509.Name, key: PrivateKey | None = None) -> Credential:
    """A leaf that signs itself (not a CA)."""
    key = key or new_key()
    cert = build_certificate(subject=subject, issuer=subject, public_key=key.public_key(), signing_key=key)
    return Credential(chain=[cert], key=key)


def forge_issuer(subject: x509.Name, issuer: x509.Name) -> Credential:
    """A leaf that names ``issuer`` but is signed by an unrelated key."""
    key = new_key()
    rogue = new_key()
    cert = build_certificate(subject=subject, issuer=issuer, public_key=key.public_key(), signing_key=rogue)
    return Credential(chain=[cert], key=key)


def corrupt_signature(cert: x509.Certificate) -> x509.Certificate:
    """Flip bits in the last bytes of the DER, which are the end of the signature value.

    For RSA the signature is the raw BIT STRING tail; for ECDSA the tail is the last bytes
    of the ``s`` INTEGER. Either way the certificate still parses and the key still
    matches, but the signature no longer verifies.
    """
    der = bytearray(cert.public_bytes(serialization.Encoding.DER))
    for i in range(1, 5):
        der[-i] ^= 0x5A
    return x509.load_der_x509_certificate(bytes(der))


_SHA1_ALG = {
    "rsa": bytes.fromhex("300d06092a864886f70d0101050500"),  # sha1WithRSAEncryption, NULL params
    "ec": bytes.fromhex("300906072a8648ce3d0401"),  # ecdsa-with-SHA1
}


def _der_len(n: int) -> bytes:
    if n < 0x80:
        return bytes([n])
    body = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(body)]) + body


def _der_items(seq: bytes) -> list[bytes]:
    """Split the content of a DER SEQUENCE into its element TLVs."""
    first = seq[1]
    offset = 2 + (first & 0x7F if first & 0x80 else 0)
    out = []
    while offset < len(seq):
        start = offset
        b = seq[offset + 1]
        if b & 0x80:
            nlen = b & 0x7F
            length = int.from_bytes(seq[offset + 2 : offset + 2 + nlen], "big")
            offset += 2 + nlen + length
        else:
            offset += 2 + b
        out.append(seq[start:offset])
    return out


def _der_seq(items: list[bytes]) -> bytes:
    body = b"".join(items)
    return b"\x30" + _der_len(len(body)) + body


def resign_sha1(cert: x509.Certificate, issuer_key: PrivateKey) -> x509.Certificate:
    """Re-sign ``cert`` with SHA-1. cryptography refuses SHA-1 signatures, so the DER is
    rebuilt by hand: swap the TBS signature AlgorithmIdentifier, sign, wrap."""
    from cryptography.hazmat.primitives.asymmetric import padding

    kind = "rsa" if isinstance(issuer_key, rsa.RSAPrivateKey) else "ec"
    if not isinstance(issuer_key, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey):
        raise NotImplementedError("the CA key type (EdDSA) cannot sign with SHA-1")
    items = _der_items(cert.tbs_certificate_bytes)
    items[2] = _SHA1_ALG[kind]  # [0] version, serial, *signature*, issuer, ...
    tbs = _der_seq(items)
    if isinstance(issuer_key, rsa.RSAPrivateKey):
        sig = issuer_key.sign(tbs, padding.PKCS1v15(), hashes.SHA1())
    else:
        sig = issuer_key.sign(tbs, ec.ECDSA(hashes.SHA1()))
    bitstring = b"\x03" + _der_len(len(sig) + 1) + b"\x00" + sig
    return x509.load_der_x509_certificate(_der_seq([tbs, _SHA1_ALG[kind], bitstring]))


def _same_public_key(cert: x509.Certificate, key: PrivateKey) -> bool:
    fmt = serialization.PublicFormat.SubjectPublicKeyInfo
    enc = serialization.Encoding.DER
    return bool(cert.public_key().public_bytes(enc, fmt) == key.public_key().public_bytes(enc, fmt))


def load_certificate(path: Path) -> x509.Certificate:
    """Load the first PEM (or DER) certificate in ``path``; bad input raises UsageError."""
    data = _read(path, "certificate")
    try:
        if b"-----BEGIN" in data:
            return x509.load_pem_x509_certificates(data)[0]
        return x509.load_der_x509_certificate(data)
    except ValueError as exc:
        raise UsageError(f"{path}: not a PEM or DER certificate ({exc})") from None


def load_certificates(path: Path) -> list[x509.Certificate]:
    data = _read(path, "certificate")
    try:
        return x509.load_pem_x509_certificates(data)
    except ValueError as exc:
        raise UsageError(f"{path}: not a PEM certificate chain ({exc})") from None


def load_private_key(path: Path) -> PrivateKey:
    data = _read(path, "private key")
    try:
        if b"-----BEGIN" in data:
            key = serialization.load_pem_private_key(data, password=None)
        else:
            key = serialization.load_der_private_key(data, password=None)
    except (ValueError, TypeError) as exc:
        # Never echo key bytes: only the path and the library's reason.
        raise UsageError(f"{path}: cannot load private key ({exc})") from None
    if not isinstance(key, PrivateKey):
        raise UsageError(f"{path}: unsupported private key type {type(key).__name__}")
    return key


def load_client(cert_path: Path, key_path: Path) -> Credential:
    """Load the operator's valid client credential; the key must match the leaf."""
    chain = load_certificates(cert_path)
    key = load_private_key(key_path)
    if not _same_public_key(chain[0], key):
        raise UsageError(f"client key {key_path} does not match client certificate {cert_path}")
    return Credential(chain=chain, key=key)


def _read(path: Path, what: str) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise UsageError(f"cannot read {what} {path}: {exc.strerror}") from None
