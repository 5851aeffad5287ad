"""Process-level helpers of a run: fault injection and memory hygiene between stages."""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import sys


def release_memory() -> None:
    """Hand memory freed by a finished stage back to the operating system.

    Great Expectations works on pandas frames (NumPy on glibc's heap, Arrow
    strings in PyArrow's pool); both allocators keep freed pages for reuse by
    themselves, while the next stages allocate through Polars' and DuckDB's
    own allocators. Without this, a 10-million-record night carries about
    2 GB of dead validation memory into matching and writing.
    """
    import pyarrow

    pyarrow.default_memory_pool().release_unused()
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):  # another libc: nothing to trim
            ctypes.CDLL("libc.so.6").malloc_trim(0)


def failpoint(name: str) -> None:
    """Die here, abruptly, when ``$RECON_FAILPOINT`` names this point (fault-injection tests).

    The process is killed with SIGKILL, as an operator's ``kill -9`` or an
    out-of-memory kill would, so nothing gets a chance to clean up.
    """
    if os.environ.get("RECON_FAILPOINT") == name:
        os.kill(os.getpid(), signal.SIGKILL)


__all__ = ["failpoint", "release_memory"]
