"""mtlsaudit test target: the uvicorn app of uvicorn_default.py, with mtlsaudit.guard
terminating TLS (one argument, ``http=``, instead of uvicorn's ssl_* options) and its
ASGI middleware adding the client identity to request events. Paths
and port come from the environment (CRL optional)."""

import logging
import os
import sys

import uvicorn

from mtlsaudit.guard import ASGIAuditMiddleware, TLSGuard
from mtlsaudit.guard.aio import guarded_http
from mtlsaudit.guard.events import configure_json_logging


async def app(scope, receive, send):  # type: ignore[no-untyped-def]
    if scope["type"] != "http":
        return
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
    await send({"type": "http.response.body", "body": b"ok\n"})


configure_json_logging(sys.stderr, logging.INFO)
guard = TLSGuard.from_files(
    cert=os.environ["CERT"], key=os.environ["KEY"], ca=os.environ["CA"], crl=os.environ.get("CRL")
)
# The middleware adds the request (path, status) with the client's identity to the log.
uvicorn.run(
    ASGIAuditMiddleware(app, guard=guard), host="127.0.0.1", port=int(os.environ["PORT"]), http=guarded_http(guard)
)
