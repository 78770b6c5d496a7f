"""mtlsaudit test target: the hypercorn app of hypercorn_default.py behind
mtlsaudit.guard (serve_hypercorn instead of hypercorn.asyncio.serve; no certfile), with
the ASGI audit middleware. Paths and port come from the environment (CRL optional)."""

import asyncio
import logging
import os
import sys

from hypercorn.config import Config

from mtlsaudit.guard import ASGIAuditMiddleware, TLSGuard
from mtlsaudit.guard.aio import serve_hypercorn
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
config = Config()
config.accesslog = "-"
asyncio.run(serve_hypercorn(ASGIAuditMiddleware(app, guard=guard), guard, "127.0.0.1", int(os.environ["PORT"]), config))
