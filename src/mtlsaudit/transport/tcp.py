"""Open a TCP connection on a socket of our own, so the local port is known before any
TLS: it is the attempt's ``ip:port`` marker even when the handshake fails."""

from __future__ import annotations

import asyncio
import socket


class ConnectFailed(Exception):
    """Resolving or connecting failed; the message starts with ``resolve:``/``connect``."""


async def open_tcp(host: str, port: int, timeout: float) -> tuple[asyncio.StreamReader, asyncio.StreamWriter, str, int]:
    """Resolve ``host``, connect within ``timeout``; return the streams and the local ip, port."""
    loop = asyncio.get_running_loop()
    try:
        infos = await asyncio.wait_for(loop.getaddrinfo(host, port, type=socket.SOCK_STREAM), timeout)
    except (OSError, TimeoutError) as exc:
        raise ConnectFailed(f"resolve: {exc}") from None
    family, _, _, _, address = infos[0]
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setblocking(False)
    try:
        await asyncio.wait_for(loop.sock_connect(sock, address), timeout)
    except (OSError, TimeoutError) as exc:
        sock.close()
        raise ConnectFailed(
            "connect timeout" if isinstance(exc, TimeoutError) else f"connect: {exc.strerror or exc}"
        ) from None
    local_ip, local_port = sock.getsockname()[:2]
    reader, writer = await asyncio.open_connection(sock=sock)
    return reader, writer, local_ip, local_port
