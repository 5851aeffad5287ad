"""The ``recon`` command: a dispatcher over one module per subcommand.

Each subcommand module exposes ``register(subparsers)``, which adds its
parser and sets ``func`` to a callable taking the parsed arguments and
returning an exit status. Errors the user can fix are ``ReconError`` and
print as one sentence; nothing prints a traceback.
"""

from __future__ import annotations

import argparse
import atexit
import contextlib
import gc
import importlib
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import NoReturn

from reconciliation.errors import ReconError

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_USAGE = 2
EXIT_REJECTED = 3

#: Subcommand modules, in the order ``recon --help`` lists them.
SUBCOMMANDS = ("run", "generate", "report", "breaks", "db", "key")


class _Parser(argparse.ArgumentParser):
    """An argument parser whose usage errors are one line and exit 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        sys.stderr.write(f"recon: {message} (see 'recon --help')\n")
        raise SystemExit(EXIT_USAGE)


def build_parser() -> argparse.ArgumentParser:
    """The full ``recon`` parser with every available subcommand."""
    parser = _Parser(prog="recon", description="AM Cash point-of-sale reconciliation.")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    subparsers.required = True
    for name in SUBCOMMANDS:
        try:
            module = importlib.import_module(f"reconciliation.cli.{name}")
        except ModuleNotFoundError as exc:
            if exc.name == f"reconciliation.cli.{name}":
                continue
            raise
        module.register(subparsers)
    return parser


def _log_to_file() -> None:
    """Send log records (tracebacks included) to var/logs/recon.log, never to the terminal.

    Operators see one sentence on stderr; the details are kept in the log.
    """
    root = logging.getLogger()
    if any(getattr(h, "_recon", False) for h in root.handlers):
        return
    path = Path(os.environ.get("RECON_LOG", "var/logs/recon.log"))
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handler: logging.Handler = logging.FileHandler(path)
    except OSError:
        handler = logging.NullHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler._recon = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    root.setLevel(logging.INFO)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``recon`` command; returns the exit status."""
    return execute(build_parser().parse_args(argv))


def execute(args: argparse.Namespace) -> int:
    """Run a parsed command; returns the exit status."""
    _log_to_file()
    try:
        return int(args.func(args))
    except ReconError as exc:
        sys.stderr.write(f"recon: {exc}\n")
        return EXIT_FAILURE
    except KeyboardInterrupt:
        sys.stderr.write("recon: interrupted; nothing of the unfinished run was written.\n")
        return EXIT_FAILURE
    except Exception as exc:
        sys.stderr.write(f"recon: unexpected error: {type(exc).__name__}: {exc}\n")
        return EXIT_FAILURE


def release() -> None:
    """Close what holds database objects: collect the engines nobody refers to (and their DuckDB files).

    Closing them checkpoints and unlocks a DuckDB file now rather than
    whenever interpreter teardown gets to it. One full collection does it:
    ``dispose_all`` is that collection, and a second one after it (some
    40 ms once SQLAlchemy and DuckDB are loaded) found nothing more.
    """
    db = sys.modules.get("reconciliation.warehouse.connection")  # not loaded: no engine to close (--help)
    if db is not None:
        try:
            db.dispose_all()
            return
        except Exception:  # cleanup must never turn a finished command into a failure
            logging.getLogger(__name__).exception("closing the warehouse engines failed")
    gc.collect()


def _status(exc: SystemExit) -> int:
    """The exit status a ``SystemExit`` stands for (as the interpreter would compute it)."""
    if exc.code is None:
        return EXIT_OK
    if isinstance(exc.code, int):
        return exc.code
    sys.stderr.write(f"{exc.code}\n")
    return EXIT_FAILURE


def entry(argv: Sequence[str] | None = None) -> NoReturn:
    """The ``recon`` executable: run :func:`main`, close everything, and end the process.

    duckdb 2.0 is built with nanobind, whose leak check prints some forty
    ``nanobind: leaked ... instances!`` lines at interpreter teardown once
    Great Expectations' stack has been loaded beside DuckDB, even after every
    engine is disposed and nothing in Python refers to DuckDB objects any
    more (docs/decisions.md, "Ending the process"). So, after closing the
    engines, the process runs the ``atexit`` handlers, flushes its streams and
    ends with ``os._exit``, skipping a teardown that has nothing left to do —
    the same way Airflow's task runner ends its task processes. :func:`main`
    itself only returns, so tests and other callers can use it in-process.

    What the process holds once its arguments are parsed (the interpreter's
    modules, SQLAlchemy for ``--warehouse``) lives until its end, so it is
    frozen out of the garbage collector's reach: every collection while the
    command runs, and the closing one in :func:`release`, then walks only
    the command's own objects (some 0.08 s of a one-second command). Only
    this process does it; callers of :func:`main` keep their collector as is.
    """
    try:
        args = build_parser().parse_args(argv)
        gc.freeze()
        status = execute(args)
    except SystemExit as exc:  # usage errors and --help
        status = _status(exc)
    release()
    try:
        atexit._run_exitfuncs()  # logging.shutdown and every library's own handlers
    finally:
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(OSError, ValueError):  # a closed pipe (``recon ... | head``)
                stream.flush()
        os._exit(status)


if __name__ == "__main__":  # pragma: no cover
    entry()
