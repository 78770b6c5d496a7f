"""The forge: CAs, keys and the defective credentials the probes present."""

from mtlsaudit.forge.pki import (
    CA,
    Credential,
    build_certificate,
    corrupt_signature,
    forge_issuer,
    load_client,
    name,
    new_key,
    self_signed,
    write_secret,
)

__all__ = [
    "CA",
    "Credential",
    "build_certificate",
    "corrupt_signature",
    "forge_issuer",
    "load_client",
    "name",
    "new_key",
    "self_signed",
    "write_secret",
]
