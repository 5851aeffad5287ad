"""Errors that carry one clear sentence for operators.

Every error a user can cause (bad input, bad configuration, an unreachable
source) is one of these, so that the command line and the DAG print one
sentence instead of a traceback.
"""

from __future__ import annotations


class ReconError(Exception):
    """Base class: ``str(error)`` is a complete sentence for the user."""


class ConfigError(ReconError):
    """The configuration file or an option is invalid."""


class FileRejected(ReconError):
    """A whole input file is unusable (spec §2.2); none of its records is used.

    Attributes:
        file_name: The file's base name.
        line: The 1-based line of the first problem, or None for the file as a whole.
        problem: What is wrong, without the file and line.
    """

    def __init__(self, file_name: str, line: int | None, problem: str) -> None:
        self.file_name = file_name
        self.line = line
        self.problem = problem
        where = f"{file_name}, line {line}" if line is not None else file_name
        super().__init__(f"{where}: {problem}")


class MissingInput(ReconError):
    """An expected input file is not there."""


class SourceError(ReconError):
    """A source (SFTP server, inbox directory) could not be read; may be transient."""


class WarehouseError(ReconError):
    """The warehouse could not be opened, read or written (a database or file-system failure).

    Raised from ``reconciliation.warehouse.failures`` only, which turns the
    driver's multi-line text (SQL, parameters, SQLAlchemy's background link)
    into one sentence that says what to do; the original goes to the log.
    """


class WarehouseOutdated(WarehouseError):
    """The warehouse's schema is behind this code (or ahead of it): an upgrade is needed first."""


class KeyMismatch(ReconError):
    """The collector hash key differs from the one the warehouse was written with."""
