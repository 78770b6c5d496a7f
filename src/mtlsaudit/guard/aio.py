"""Guard for asyncio servers (uvicorn included): TLS terminated by a protocol wrapper.

asyncio's own SSL transport logs a failed handshake only in debug mode, and stdlib
``ssl`` forgets a certificate it rejected. :class:`GuardedTLSProtocol` does the
handshake itself with pyOpenSSL over memory BIOs (through :class:`TLSGuard`, so every
failure and success is one audit event), then hands the plaintext stream to the
application's protocol through a transport that behaves like asyncio's.

uvicorn, in one argument (and no ``ssl_*`` options — the guard terminates TLS)::

    guard = TLSGuard.from_files(cert="server.pem", key="server.key", ca="clients-ca.pem")
    uvicorn.run(app, host="0.0.0.0", port=8443, http=guarded_http(guard))
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from typing import Any

from cryptography import x509
from OpenSSL import SSL

from mtlsaudit.guard.tls import Session, TLSGuard

_CHUNK = 16 * 1024


class GuardedTLSProtocol(asyncio.Protocol):
    """One server-side TLS connection; ``app_factory`` builds the plaintext protocol."""

    def __init__(self, guard: TLSGuard, app_factory: Callable[[], asyncio.BaseProtocol]) -> None:
        self.guard = guard
        self.app_factory = app_factory
        self.app: asyncio.Protocol | None = None
        self.transport: asyncio.Transport | None = None
        self.session: Session = guard.start()
        self.peer: tuple[Any, ...] = ("-", 0)
        self.client_certificate: x509.Certificate | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._done = False  # handshake finished (either way)

    # --- network side -------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        self.peer = transport.get_extra_info("peername") or ("-", 0)
        self._timer = asyncio.get_running_loop().call_later(self.guard.handshake_timeout, self._timed_out)

    def data_received(self, data: bytes) -> None:
        conn = self.session.conn
        conn.bio_write(data)
        if not self._done:
            try:
                conn.do_handshake()
            except SSL.WantReadError:
                self._flush()
                return
            except SSL.Error as exc:
                self._fail(exc)
                return
            self._handshaken()
        self._pump_plaintext()

    def eof_received(self) -> bool | None:
        if not self._done:
            self._fail(ConnectionResetError("client closed the connection during the handshake"))
            return None
        if self.app is not None:
            return self.app.eof_received()
        return None

    def connection_lost(self, exc: Exception | None) -> None:
        if self._timer is not None:
            self._timer.cancel()
        if not self._done:
            self._fail(exc or ConnectionResetError("connection lost during the handshake"), close=False)
        elif self.app is not None:
            self.guard.forget(self.peer)
            self.app.connection_lost(exc)

    def pause_writing(self) -> None:
        if self.app is not None:
            self.app.pause_writing()

    def resume_writing(self) -> None:
        if self.app is not None:
            self.app.resume_writing()

    # --- handshake ----------------------------------------------------------------------

    def _handshaken(self) -> None:
        self._done = True
        if self._timer is not None:
            self._timer.cancel()
        self._flush()
        self.client_certificate = self.guard.succeeded(self.session, self.peer)
        app = self.app_factory()
        assert isinstance(app, asyncio.Protocol)
        self.app = app
        app.connection_made(_PlainTransport(self))

    def _fail(self, exc: BaseException, close: bool = True) -> None:
        if self._done:
            return
        self._done = True
        if self._timer is not None:
            self._timer.cancel()
        self.guard.failed(self.session, self.peer, exc)
        if close and self.transport is not None:
            self._flush()  # the alert OpenSSL produced
            self.transport.close()

    def _timed_out(self) -> None:
        self._fail(TimeoutError("TLS handshake timed out"))

    # --- plaintext side -----------------------------------------------------------------

    def _pump_plaintext(self) -> None:
        conn = self.session.conn
        while self.app is not None:
            try:
                chunk = conn.recv(_CHUNK)
            except SSL.WantReadError:
                break
            except SSL.ZeroReturnError:
                self.app.eof_received()
                break
            except SSL.Error:
                if self.transport is not None:
                    self.transport.close()
                break
            self.app.data_received(chunk)
        self._flush()

    def _flush(self) -> None:
        conn = self.session.conn
        out = b""
        while True:
            try:
                out += conn.bio_read(_CHUNK)
            except SSL.WantReadError:  # nothing more to send
                break
        if out and self.transport is not None and not self.transport.is_closing():
            self.transport.write(out)

    def write_plain(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            sent = self.session.conn.send(view[:_CHUNK].tobytes())
            view = view[sent:]
            self._flush()

    def close_plain(self) -> None:
        if self.transport is None or self.transport.is_closing():
            return
        with contextlib.suppress(SSL.Error):
            self.session.conn.shutdown()
        self._flush()
        self.transport.close()


class _PlainTransport(asyncio.Transport):
    """What the application protocol sees: plaintext in and out, asyncio's interface."""

    def __init__(self, tls: GuardedTLSProtocol) -> None:
        super().__init__()
        self._tls = tls
        assert tls.transport is not None
        self._raw = tls.transport

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        if name == "sslcontext":
            return self._tls.guard.context  # truthy: the connection is TLS (scheme https)
        if name == "peercert":
            return self._tls.client_certificate
        if name == "mtls_client_certificate":
            return self._tls.client_certificate
        return self._raw.get_extra_info(name, default)

    def write(self, data: bytes | bytearray | memoryview) -> None:
        self._tls.write_plain(bytes(data))

    def writelines(self, list_of_data: Any) -> None:
        for data in list_of_data:
            self.write(data)

    def write_eof(self) -> None:
        self._tls.close_plain()

    def can_write_eof(self) -> bool:
        return False

    def close(self) -> None:
        self._tls.close_plain()

    def abort(self) -> None:
        self._raw.abort()

    def is_closing(self) -> bool:
        return self._raw.is_closing()

    def pause_reading(self) -> None:
        self._raw.pause_reading()

    def resume_reading(self) -> None:
        self._raw.resume_reading()

    def is_reading(self) -> bool:
        return self._raw.is_reading()

    def set_write_buffer_limits(self, high: int | None = None, low: int | None = None) -> None:
        self._raw.set_write_buffer_limits(high, low)

    def get_write_buffer_size(self) -> int:
        return self._raw.get_write_buffer_size()

    def set_protocol(self, protocol: asyncio.BaseProtocol) -> None:
        assert isinstance(protocol, asyncio.Protocol)
        self._tls.app = protocol

    def get_protocol(self) -> asyncio.BaseProtocol:
        assert self._tls.app is not None
        return self._tls.app


def guarded_factory(
    guard: TLSGuard, app_factory: Callable[[], asyncio.BaseProtocol]
) -> Callable[[], GuardedTLSProtocol]:
    """A protocol factory for ``loop.create_server`` (without ``ssl=``)."""
    return lambda: GuardedTLSProtocol(guard, app_factory)


def guarded_http(guard: TLSGuard, http: str = "h11") -> Callable[..., GuardedTLSProtocol]:
    """uvicorn's ``http=`` argument: uvicorn's own HTTP protocol behind the guard."""
    if http == "h11":
        from uvicorn.protocols.http.h11_impl import H11Protocol as inner
    elif http == "httptools":
        from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol as inner  # type: ignore[assignment]
    else:
        raise ValueError(f"unknown uvicorn http implementation {http!r}")

    def create(**kwargs: Any) -> GuardedTLSProtocol:
        return GuardedTLSProtocol(guard, lambda: inner(**kwargs))

    return create


__all__ = ["GuardedTLSProtocol", "guarded_factory", "guarded_http"]


async def serve_hypercorn(
    app: Any, guard: TLSGuard, host: str, port: int, config: Any = None, shutdown: asyncio.Event | None = None
) -> None:
    """Serve an ASGI app with hypercorn's HTTP machinery behind the guard.

    hypercorn creates its TLS server inside ``asyncio.start_server(ssl=...)`` with no
    protocol hook, so this runs hypercorn's per-connection ``TCPServer`` (and its lifespan
    handling) on a guarded server instead: hypercorn's internal API, tested with 0.18.
    Pass a ``hypercorn.config.Config`` without certfile/keyfile (the guard does TLS).
    """
    from hypercorn.app_wrappers import ASGIWrapper
    from hypercorn.asyncio.lifespan import Lifespan
    from hypercorn.asyncio.tcp_server import TCPServer
    from hypercorn.asyncio.worker_context import WorkerContext
    from hypercorn.config import Config

    config = config or Config()
    loop = asyncio.get_running_loop()
    wrapped = ASGIWrapper(app)
    state: dict[str, Any] = {}
    lifespan = Lifespan(wrapped, config, loop, state)
    lifespan_task = loop.create_task(lifespan.handle_lifespan())
    await lifespan.wait_for_startup()
    context = WorkerContext(None)
    connections: set[asyncio.Task[None]] = set()

    async def connected(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await TCPServer(wrapped, loop, config, context, state, reader, writer)

    def plaintext() -> asyncio.StreamReaderProtocol:
        def on_connect(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            task = loop.create_task(connected(reader, writer))
            connections.add(task)
            task.add_done_callback(connections.discard)

        return asyncio.StreamReaderProtocol(asyncio.StreamReader(), on_connect)

    server = await loop.create_server(guarded_factory(guard, plaintext), host, port)
    try:
        await (shutdown or asyncio.Event()).wait()
    finally:
        server.close()
        await server.wait_closed()
        await lifespan.wait_for_shutdown()
        lifespan_task.cancel()
