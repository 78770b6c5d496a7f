"""Transports that carry one attempt to the target and classify the answer."""

from mtlsaudit.transport.tls import ClientMaterial, ConnectionResult, connect, http_request

__all__ = ["ClientMaterial", "ConnectionResult", "connect", "http_request"]
