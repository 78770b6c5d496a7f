"""The CA names a server advertises in its CertificateRequest (certificate_authorities).

stdlib ``ssl`` does not expose them; pyOpenSSL's client ``get_client_ca_list()`` does, even
when the handshake then fails for lack of a client certificate. ``chain.forged-issuer``
copies one of these names so its forged leaf claims a CA the server really trusts.
"""

from __future__ import annotations

import asyncio
import socket
import time

from cryptography import x509
from cryptography.x509.oid import NameOID
from OpenSSL import SSL

_SHORT_NAMES = {
    b"C": NameOID.COUNTRY_NAME,
    b"ST": NameOID.STATE_OR_PROVINCE_NAME,
    b"L": NameOID.LOCALITY_NAME,
    b"O": NameOID.ORGANIZATION_NAME,
    b"OU": NameOID.ORGANIZATIONAL_UNIT_NAME,
    b"CN": NameOID.COMMON_NAME,
    b"emailAddress": NameOID.EMAIL_ADDRESS,
    b"DC": NameOID.DOMAIN_COMPONENT,
    b"serialNumber": NameOID.SERIAL_NUMBER,
}


def _to_name(components: list[tuple[bytes, bytes]]) -> x509.Name | None:
    attrs = []
    for key, value in components:
        oid = _SHORT_NAMES.get(key)
        if oid is None:
            return None  # an attribute we cannot rebuild faithfully: skip this name
        try:
            attrs.append(x509.NameAttribute(oid, value.decode("utf-8")))
        except ValueError:
            return None
    return x509.Name(attrs) if attrs else None


def _fetch(host: str, port: int, sni: str | None, timeout: float) -> tuple[list[x509.Name], tuple[str, int]]:
    ctx = SSL.Context(SSL.TLS_CLIENT_METHOD)
    ctx.set_max_proto_version(SSL.TLS1_2_VERSION)  # TLS 1.2: the request is in the first flight
    ctx.set_verify(SSL.VERIFY_NONE, lambda *args: True)
    deadline = time.monotonic() + timeout
    with socket.create_connection((host, port), timeout=timeout) as sock:
        local = sock.getsockname()[:2]
        sock.setblocking(False)
        conn = SSL.Connection(ctx, sock)
        if sni:
            conn.set_tlsext_host_name(sni.encode("idna"))
        conn.set_connect_state()
        while time.monotonic() < deadline:
            try:
                conn.do_handshake()
                break
            except SSL.WantReadError:
                import select

                select.select([sock], [], [], max(0.0, deadline - time.monotonic()))
            except (SSL.Error, OSError):
                break
        names = [_to_name(n.get_components()) for n in conn.get_client_ca_list()]
    return [n for n in names if n is not None], (str(local[0]), int(local[1]))


async def advertised_ca_names(
    host: str, port: int, sni: str | None, timeout: float
) -> tuple[list[x509.Name], tuple[str, int] | None]:
    """Names from the server's CertificateRequest (empty when it sends none or fails), and
    the local ip:port used, so the scan can recognise the log lines of this connection."""
    try:
        return await asyncio.wait_for(asyncio.to_thread(_fetch, host, port, sni, timeout), timeout + 1)
    except (OSError, SSL.Error, TimeoutError, ValueError):
        return [], None
