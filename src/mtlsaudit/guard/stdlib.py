"""Guard for stdlib servers (``socketserver`` / ``http.server``).

The usual ``httpd.socket = ctx.wrap_socket(httpd.socket)`` runs the handshake inside
``accept()``, where ``socketserver`` swallows every failure. The mixin accepts plain
TCP and runs the handshake in ``finish_request`` (the worker thread with
``ThreadingMixIn``), through :class:`~mtlsaudit.guard.tls.TLSGuard`, which logs it.
"""

from __future__ import annotations

import http.server
import socketserver
import wsgiref.simple_server
from typing import Any

from mtlsaudit.guard.tls import TLSGuard


class GuardedServerMixin:
    """Mix in before a ``socketserver`` server class; pass ``guard=`` to the constructor."""

    guard: TLSGuard

    def __init__(self, *args: Any, guard: TLSGuard, **kwargs: Any) -> None:
        self.guard = guard
        super().__init__(*args, **kwargs)

    def finish_request(self, request: Any, client_address: Any) -> None:
        tls = self.guard.accept(request, client_address)
        if tls is not None:
            super().finish_request(tls, client_address)  # type: ignore[misc]

    def server_close(self) -> None:
        super().server_close()  # type: ignore[misc]
        self.guard.audit.close()


class GuardedHTTPServer(GuardedServerMixin, http.server.ThreadingHTTPServer):
    """``ThreadingHTTPServer`` whose every TLS handshake is audited.

    ``GuardedHTTPServer(("0.0.0.0", 8443), Handler, guard=TLSGuard.from_files(...))``;
    in the handler, ``self.request.client_certificate`` is the verified certificate.
    """


class GuardedWSGIRequestHandler(wsgiref.simple_server.WSGIRequestHandler):
    """wsgiref handler that puts the verified certificate and the client port in the
    environ (``mtls.client_certificate``, ``REMOTE_PORT``) for :class:`WSGIAuditMiddleware`."""

    def get_environ(self) -> dict[str, Any]:
        environ = super().get_environ()
        environ["mtls.client_certificate"] = getattr(self.request, "client_certificate", None)
        environ["REMOTE_PORT"] = str(self.client_address[1])
        environ["wsgi.url_scheme"] = "https"
        return environ


class GuardedWSGIServer(GuardedServerMixin, socketserver.ThreadingMixIn, wsgiref.simple_server.WSGIServer):
    """wsgiref's server behind the guard: ``GuardedWSGIServer(addr, GuardedWSGIRequestHandler,
    guard=...)`` then ``set_app(WSGIAuditMiddleware(app))``."""

    daemon_threads = True


__all__ = ["GuardedHTTPServer", "GuardedServerMixin", "GuardedWSGIRequestHandler", "GuardedWSGIServer"]
