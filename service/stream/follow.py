"""Tail growing log files, surviving rotation (``--follow``).

A :class:`FileTail` remembers the open file's inode and offset. Each :meth:`read`
returns the complete new lines; when the path now names another file (rotated:
renamed and recreated) the rest of the old file is drained first, then the new file is
read from its start; a file cut shorter than the offset (truncated in place) is read
again from its start. Replaying lines already ingested is harmless: ingest is
idempotent on request id.
"""

from __future__ import annotations

import os
from typing import IO

__all__ = ["FileTail"]


class FileTail:
    """Follow one JSONL path across appends, truncation and rotation.

    Parameters
    ----------
    path : str
        File to follow (it may not exist yet).
    max_bytes : int
        Most bytes returned by one :meth:`read`.
    """

    def __init__(self, path: str, max_bytes: int = 8 << 20) -> None:
        self.path = path
        self.max_bytes = max_bytes
        self.fh: IO[bytes] | None = None
        self.inode: int | None = None
        self.partial = b""
        self.line = 0  # lines returned so far from the current file

    def _open(self) -> bool:
        try:
            fh = open(self.path, "rb")  # noqa: SIM115 (kept open while following)
        except FileNotFoundError:
            return False
        self.fh = fh
        self.inode = os.fstat(fh.fileno()).st_ino
        self.partial = b""
        self.line = 0
        return True

    def close(self) -> None:
        """Close the file."""
        if self.fh is not None:
            self.fh.close()
            self.fh = None

    def _complete(self, data: bytes) -> bytes:
        data = self.partial + data
        cut = data.rfind(b"\n") + 1
        self.partial = data[cut:]
        return data[:cut]

    def read(self) -> tuple[bytes, int]:
        """New complete lines (bytes) and the line number of the first of them.

        Returns
        -------
        (bytes, int)
            Possibly empty; the line number is 1-based within the current file.
        """
        if self.fh is None and not self._open():
            return b"", 0
        assert self.fh is not None
        out = self._complete(self.fh.read(self.max_bytes))
        if not out:
            try:
                st = os.stat(self.path)
            except FileNotFoundError:
                return b"", 0
            if st.st_ino != self.inode:  # rotated: drain the old file, then switch
                rest = self._complete(self.fh.read())
                if self.partial:
                    rest += self.partial + b"\n"
                self.close()
                self._open()
                if not rest and self.fh is not None:
                    out = self._complete(self.fh.read(self.max_bytes))
                else:
                    out = rest
            elif st.st_size < self.fh.tell():  # truncated in place
                self.fh.seek(0)
                self.partial = b""
                self.line = 0
        first = self.line + 1
        self.line += out.count(b"\n")
        return out, first
