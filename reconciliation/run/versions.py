"""Whether a run may write a new version of its sponsor-day, decided under the write lock.

A retry after a committed attempt, or a concurrent run of the same files,
must find the version already there and write nothing: one sentence says
why, and the outcome then describes the current version.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy.engine import Connection

from reconciliation.run.outcome import RunOutcome
from reconciliation.warehouse import runs


def already_current(conn: Connection, row: dict[str, Any], force: bool, outcome: RunOutcome,
                    requested_at: datetime | None = None) -> str | None:
    """Why this run must not write, in one sentence, or None.

    The current version has the same files and either ``force`` was not
    given, or it was committed by the same trigger (a retry) or while this
    run was under way (a concurrent run).
    """
    current = runs.current_run(conn, row["sponsor_code"], row["business_date"])
    if current is None or any(current[f"{side}_sha256"] != row.get(f"{side}_sha256")
                              for side in ("partner", "platform")):
        return None
    same_trigger = current["triggered_by"] == row["triggered_by"] and row["triggered_by"] != "cli"
    finished = current["finished_at"]
    since = min(_aware(row["started_at"]), _aware(requested_at or row["started_at"]))
    during = finished is not None and _aware(finished) >= since
    if force and not same_trigger and not during:
        return None
    outcome.status, outcome.run_id, outcome.version = "SUCCEEDED", current["run_id"], current["version"]
    why = ("an earlier attempt of the same run" if same_trigger else "another run at the same time" if during
           else "an earlier run")
    return (f"{row['sponsor_code']} {row['business_date']} was not written again: {why} already reconciled "
            f"these files as version {current['version']} (run {current['run_id']}), which stays current.")


def _aware(value: Any) -> Any:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


__all__ = ["already_current"]
