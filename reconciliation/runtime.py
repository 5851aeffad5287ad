"""Process-level helpers of a run: fault injection and memory hygiene between stages."""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import sys
import time
from pathlib import Path

#: Longest wait, in seconds, of a paused failpoint.
PAUSE_LIMIT = 60.0


def release_memory() -> None:
    """Hand memory freed by a finished stage back to the operating system.

    Great Expectations works on pandas frames (NumPy on glibc's heap, Arrow
    strings in PyArrow's pool); both allocators keep freed pages for reuse by
    themselves, while the next stages allocate through Polars' and DuckDB's
    own allocators. Without this, a 10-million-record night carries about
    2 GB of dead validation memory into matching and writing.
    """
    import gc

    gc.collect()  # the parse's and validation's cycles hold frames too (0.13 GB at 10M a side)
    import pyarrow

    pyarrow.default_memory_pool().release_unused()
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):  # another libc: nothing to trim
            ctypes.CDLL("libc.so.6").malloc_trim(0)


def failpoint(name: str) -> None:
    """Act here when ``$RECON_FAILPOINT`` names this point (fault-injection tests).

    ``RECON_FAILPOINT=<name>`` kills the process with SIGKILL, as an
    operator's ``kill -9`` or an out-of-memory kill would, so nothing gets a
    chance to clean up. ``RECON_FAILPOINT=<name>:pause`` instead creates the
    file ``<name>.paused`` in ``$RECON_FAILPOINT_DIR`` (default: the current
    directory) and waits, at most ``PAUSE_LIMIT`` seconds, until it is
    removed: a test uses that instant to break the world under the run (end
    its database connection, fill its disk) the way a network or a
    neighbour would.
    """
    wanted = os.environ.get("RECON_FAILPOINT", "")
    if wanted == name:
        os.kill(os.getpid(), signal.SIGKILL)
    if wanted == f"{name}:pause":
        marker = Path(os.environ.get("RECON_FAILPOINT_DIR", ".")) / f"{name}.paused"
        marker.touch()
        deadline = time.monotonic() + PAUSE_LIMIT
        while marker.exists() and time.monotonic() < deadline:
            time.sleep(0.05)


__all__ = ["failpoint", "release_memory"]
