"""mtlsaudit test target: an ASGI app served by uvicorn with TLS client authentication,
at uvicorn's default logging (access log on, log level info). Paths and port come from
the environment."""

import os
import ssl

import uvicorn


async def app(scope, receive, send):  # type: ignore[no-untyped-def]
    if scope["type"] != "http":
        return
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
    await send({"type": "http.response.body", "body": b"ok\n"})


uvicorn.run(
    app,
    host="127.0.0.1",
    port=int(os.environ["PORT"]),
    ssl_certfile=os.environ["CERT"],
    ssl_keyfile=os.environ["KEY"],
    ssl_ca_certs=os.environ["CA"],
    ssl_cert_reqs=ssl.CERT_REQUIRED,
)
