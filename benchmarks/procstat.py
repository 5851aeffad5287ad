"""Peak memory and timing of the current process, from ``/proc`` (standard library only).

Every benchmark measurement runs in its own child process, so the peak
resident set size it reports is its own. The peak is ``VmHWM`` of
``/proc/self/status`` ("high water mark"), read at the end of the child.
Writing ``5`` to ``/proc/self/clear_refs`` resets the mark to the current
RSS (Linux >= 4.0), which gives each stage of a pipeline its own peak.

This module is imported by the children of both virtual environments (the
project's and datacompy's), so it must not import anything outside the
standard library.
"""

from __future__ import annotations

import json
import os
import resource
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any


def _status_kb(field: str) -> int:
    with open("/proc/self/status") as handle:
        for line in handle:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


def hwm_kb() -> int:
    """Peak RSS of this process since start (or since the last reset), in KiB."""
    return _status_kb("VmHWM")


def rss_kb() -> int:
    """Current RSS of this process, in KiB."""
    return _status_kb("VmRSS")


def cpu_seconds() -> float:
    """User plus system CPU time of this process (all its threads) so far."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def load_average() -> float:
    """The machine's 1-minute load average (how busy it was around a measurement)."""
    return os.getloadavg()[0]


def reset_hwm() -> bool:
    """Reset the peak RSS to the current RSS; False where the kernel does not allow it."""
    try:
        with open("/proc/self/clear_refs", "w") as handle:
            handle.write("5")
        return True
    except OSError:
        return False


class Stages:
    """Wall time and peak RSS per named stage; stages may nest.

    ``peak_kb`` is the process's peak over everything measured (never reset
    away: each reset first folds the current mark into it and into every
    open stage).
    """

    def __init__(self) -> None:
        self.peak_kb = hwm_kb()
        self.seconds: dict[str, float] = {}
        self.cpu: dict[str, float] = {}
        self.stage_peak_kb: dict[str, int] = {}
        self.calls: dict[str, int] = {}
        self._open: list[list[Any]] = []

    def _fold(self) -> None:
        mark = hwm_kb()
        self.peak_kb = max(self.peak_kb, mark)
        for entry in self._open:
            entry[2] = max(entry[2], mark)
        reset_hwm()

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        self._fold()
        entry: list[Any] = [name, time.perf_counter(), rss_kb(), cpu_seconds()]
        self._say(f"{name} starts at RSS {entry[2] / 1048576:.2f} GiB")
        self._open.append(entry)
        try:
            yield
        finally:
            self._fold()
            self._open.remove(entry)
            self.seconds[name] = self.seconds.get(name, 0.0) + time.perf_counter() - entry[1]
            self.cpu[name] = self.cpu.get(name, 0.0) + cpu_seconds() - entry[3]
            self.stage_peak_kb[name] = max(self.stage_peak_kb.get(name, 0), entry[2])
            self.calls[name] = self.calls.get(name, 0) + 1
            self._say(f"{name} ends after {time.perf_counter() - entry[1]:.2f} s, "
                      f"peak {entry[2] / 1048576:.2f} GiB")

    @staticmethod
    def _say(message: str) -> None:
        """Progress in the child's log: where a child stopped for memory was."""
        print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)

    def finish(self) -> int:
        """The process's peak RSS so far, in KiB."""
        self._fold()
        return self.peak_kb


def child_main(run: Any) -> None:
    """Entry point of a measurement child: ``script RESULT_JSON ARGS_JSON``.

    ``run(args) -> dict`` does the measurement; its dict, plus the child's
    final peak RSS, is written to RESULT_JSON. A failure is written there too,
    so the parent can report it instead of a number.
    """
    result_path, args = Path(sys.argv[1]), json.loads(sys.argv[2])
    try:
        result = run(args)
        result.setdefault("peak_kb", hwm_kb())
        result["ok"] = True
    except BaseException as exc:
        import traceback

        result = {"ok": False, "error": f"{type(exc).__name__}: {exc}",
                  "traceback": traceback.format_exc(), "peak_kb": hwm_kb()}
    result_path.write_text(json.dumps(result, default=str))
    sys.stdout.flush()
    sys.stderr.flush()
    # Skip interpreter teardown: some native extensions print leak reports at
    # exit, and freeing a 10 GB heap object by object takes seconds we do not measure.
    os._exit(0 if result["ok"] else 1)
