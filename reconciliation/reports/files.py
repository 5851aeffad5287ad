"""Writing report files so that a reader never sees half of one.

Every file under the reports tree (the run's HTML, workbook and CSV, the
partner's result file, the night and range views) is written to a hidden
temporary name in its own directory, flushed to disk, and renamed over the
final name in one step (``os.replace``, atomic on POSIX within a
filesystem). A run killed while writing leaves the previous complete file
(or none) under the final name, never a truncated workbook; at worst a
hidden ``.<name>.<random>.tmp`` stays behind.

The temporary file is created with ``O_EXCL`` and mode 0666 filtered by the
umask, like any file the process creates, so the renamed report keeps the
permissions a plain write would have given it (``tempfile.mkstemp`` would
make it 0600), and two writers of the same report never share a temporary.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Iterator
from pathlib import Path


@contextlib.contextmanager
def atomic_path(path: Path) -> Iterator[Path]:
    """A temporary path to write ``path``'s content into; renamed onto ``path`` on success.

    The body writes the whole file to the yielded path (by name: Polars,
    xlsxwriter and ``open`` all can). If the body raises, the temporary is
    removed and ``path`` is untouched.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    while True:
        tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
        try:
            os.close(os.open(tmp, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o666))
            break
        except FileExistsError:  # pragma: no cover - 32 random bits clashing
            continue
    try:
        yield tmp
        _fsync(tmp)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    _fsync_dir(path.parent)


def write_text(path: Path, text: str) -> Path:
    """Write ``text`` (UTF-8) to ``path`` atomically; returns ``path``."""
    return write_bytes(path, text.encode("utf-8"))


def write_bytes(path: Path, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically; returns ``path``."""
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)
    return Path(path)


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_dir(directory: Path) -> None:
    """Make the rename itself durable (a directory fsync; not every system allows it)."""
    with contextlib.suppress(OSError):
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


__all__ = ["atomic_path", "write_bytes", "write_text"]
