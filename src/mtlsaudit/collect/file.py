"""File sources: follow a log file from its size at scan start, across rotation and truncation."""

from __future__ import annotations

import os
from pathlib import Path

from mtlsaudit.collect.base import register
from mtlsaudit.errors import UsageError

_MAX_READ = 64 * 1024 * 1024  # per poll, so a runaway log cannot exhaust memory


class FileSource:
    """Reads only the bytes appended after :meth:`start`.

    The file is identified by inode: when the path gets a new inode (logrotate's
    move-and-create), the rest of the old file is read through the still-open descriptor,
    then the new file from its beginning. When the file shrinks below our offset
    (``copytruncate`` or ``> file``), reading restarts at 0.
    """

    def __init__(self, spec: str) -> None:
        raw = spec.removeprefix("file:")
        if raw.startswith("//"):
            raw = raw[2:]
        self.path = Path(raw)
        self.name = f"file:{self.path}"
        if not self.path.is_file():
            raise UsageError(f"log file {self.path} does not exist or is not a regular file")
        try:
            with self.path.open("rb"):
                pass
        except OSError as exc:
            raise UsageError(f"cannot read log file {self.path}: {exc.strerror}") from None
        self._fd: int | None = None
        self._inode: int | None = None
        self._offset = 0
        self._partial = b""

    def start(self) -> None:
        self._fd = os.open(self.path, os.O_RDONLY)
        st = os.fstat(self._fd)
        self._inode = st.st_ino
        self._offset = st.st_size

    def _drain(self) -> bytes:
        assert self._fd is not None
        chunks = []
        total = 0
        while total < _MAX_READ:
            chunk = os.pread(self._fd, 1 << 20, self._offset)
            if not chunk:
                break
            chunks.append(chunk)
            self._offset += len(chunk)
            total += len(chunk)
        return b"".join(chunks)

    def read_new(self) -> list[str]:
        if self._fd is None:
            return []
        st = os.fstat(self._fd)
        if st.st_size < self._offset:  # truncated in place
            self._offset = 0
        data = self._drain()
        try:
            current = os.stat(self.path)
        except FileNotFoundError:
            current = None
        if current is not None and current.st_ino != self._inode:  # rotated
            os.close(self._fd)
            self._fd = os.open(self.path, os.O_RDONLY)
            self._inode = current.st_ino
            self._offset = 0
            if data and not data.endswith(b"\n"):
                data += b"\n"
            data += self._drain()
        return self._split(data)

    def _split(self, data: bytes) -> list[str]:
        data = self._partial + data
        lines = data.split(b"\n")
        self._partial = lines.pop()
        return [ln.rstrip(b"\r").decode("utf-8", "backslashreplace") for ln in lines if ln.strip()]

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def flush(self) -> list[str]:
        """The partial last line, if the writer never finished it."""
        rest, self._partial = self._partial, b""
        return [rest.decode("utf-8", "backslashreplace")] if rest.strip() else []


register("file")(FileSource)
