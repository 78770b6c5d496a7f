"""mtlsaudit test target: the same ASGI app served by hypercorn with TLS client
authentication (certfile/keyfile/ca_certs, verify_mode CERT_REQUIRED), at hypercorn's
default logging (access log to stdout, error log to stderr). Paths and port come from
the environment."""

import asyncio
import os
import ssl

from hypercorn.asyncio import serve
from hypercorn.config import Config


async def app(scope, receive, send):  # type: ignore[no-untyped-def]
    if scope["type"] != "http":
        return
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
    await send({"type": "http.response.body", "body": b"ok\n"})


config = Config()
config.bind = [f"127.0.0.1:{os.environ['PORT']}"]
config.certfile = os.environ["CERT"]
config.keyfile = os.environ["KEY"]
config.ca_certs = os.environ["CA"]
config.verify_mode = ssl.CERT_REQUIRED
config.accesslog = "-"
config.errorlog = "-"
asyncio.run(serve(app, config))  # type: ignore[arg-type]
