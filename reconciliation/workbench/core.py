"""``Workbench``: what a signed-in user may see and do, over a per-request ``Store``.

The web layer authenticates the user (Airflow's login) and hands the name
here; every method checks the user's role from the ``workbench:``
configuration first (``Forbidden`` otherwise), then reads or acts through
``service`` inside one connection.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any, TypeVar

from sqlalchemy.engine import Connection

from reconciliation.config import Settings
from reconciliation.errors import ReconError
from reconciliation.warehouse import workbench as wh
from reconciliation.workbench import service
from reconciliation.workbench.config import WorkbenchConfig
from reconciliation.workbench.service import Forbidden, NotFound, Outcome
from reconciliation.workbench.store import Store

T = TypeVar("T")
RERUN_STATUSES = ("FAILED", "REJECTED", "MISSING_INPUT")


@dataclass
class BreaksPage:
    """One page of the breaks list with the whole view's totals."""

    rows: list[dict[str, Any]]
    total: int
    at_stake: Decimal
    query: wh.BreakQuery
    choices: dict[str, list[str]]

    @property
    def pages(self) -> int:
        """How many pages the view has."""
        return max(1, -(-self.total // self.query.page_size))


class Workbench:
    """The workbench for one warehouse and configuration."""

    def __init__(
        self,
        settings: Settings,
        config: WorkbenchConfig,
        store: Store | None = None,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self.settings = settings
        self.config = config
        self.store = store or Store(settings.warehouse_url)
        self.clock = clock or (lambda: datetime.now(UTC))

    # -- permissions -----------------------------------------------------------------------------
    def role(self, user: str) -> str | None:
        """The user's workbench role, or None."""
        return self.config.role_of(user)

    def require(self, user: str, needed: str) -> None:
        """Raise ``Forbidden`` unless the user holds ``needed`` (or a higher role)."""
        if not self.config.may(user, needed):
            held = self.config.role_of(user)
            raise Forbidden(
                f"{user} is {'a ' + held if held else 'not given a workbench role'}; "
                f"this needs the {needed} role"
            )

    def _read(self, user: str, work: Callable[[Connection], T]) -> T:
        self.require(user, "viewer")
        with self.store.read() as conn:
            return work(conn)

    def _write(self, user: str, needed: str, work: Callable[[Connection, datetime], T]) -> T:
        self.require(user, needed)
        with self.store.write() as conn:
            return work(conn, self.clock())

    # -- reads -----------------------------------------------------------------------------------
    def breaks(self, user: str, query: wh.BreakQuery) -> BreaksPage:
        """A page of breaks and the view's totals."""

        def work(conn: Connection) -> BreaksPage:
            total, money = wh.totals(conn, query)
            choices = {"sponsors": wh.sponsors(conn), "assignees": wh.assignees(conn)}
            return BreaksPage(wh.page_of_breaks(conn, query), total, money, query, choices)

        return self._read(user, work)

    def export_rows(self, user: str, query: wh.BreakQuery, limit: int = 1_000_000) -> list[dict[str, Any]]:
        """Every row of the filtered view, in the screen's order."""
        return self._read(user, lambda conn: wh.page_of_breaks(conn, query, limit=limit))

    def choices(self, user: str) -> dict[str, list[str]]:
        """Filter choices: sponsors and assignees."""
        return self._read(user, lambda conn: {"sponsors": wh.sponsors(conn), "assignees": wh.assignees(conn)})

    def detail(self, user: str, break_id: int) -> dict[str, Any]:
        """A break with its versions, status history, audit trail, related records and breaks."""

        def work(conn: Connection) -> dict[str, Any]:
            row = wh.break_row(conn, break_id)
            if row is None:
                raise NotFound(f"break {break_id} is not in the warehouse")
            versions = wh.versions_of_break(conn, row["break_key"])
            ids = [v["break_id"] for v in versions]
            return {
                "break": row,
                "versions": versions,
                "events": wh.status_events(conn, ids),
                "audit": wh.audit_of(conn, ids),
                "related": wh.related_records(conn, row),
                "others": wh.other_breaks(conn, row),
                "request": wh.request_row(conn, row["awaiting_request"]) if row["awaiting_request"] else None,
            }

        return self._read(user, work)

    def approvals(self, user: str) -> list[dict[str, Any]]:
        """Requests waiting for a second person."""
        return self._read(user, lambda conn: wh.requests(conn, "PENDING"))

    def audit(self, user: str) -> list[dict[str, Any]]:
        """The newest audit rows."""
        return self._read(user, wh.recent_audit)

    def nights(self, user: str, start: date, end: date) -> dict[str, Any]:
        """A calendar of sponsor-days: status, unresolved breaks and money at stake, latest attempt."""
        if end < start or (end - start).days > 92:
            raise ReconError("choose at most 93 days, the first on or before the last")

        def work(conn: Connection) -> dict[str, Any]:
            attempts = wh.attempts_between(conn, start, end)
            sponsors = sorted({a["sponsor_code"] for a in attempts} | set(self.settings.sponsors))
            breaks = wh.open_breaks_by_day(conn, start, end)
            current = wh.current_runs_of_sponsors(conn, sponsors)
            begun = wh.first_dates(conn)
            cells: dict[tuple[str, date], dict[str, Any]] = {}
            for a in attempts:  # ordered by version: the last one wins
                cells[(a["sponsor_code"], a["business_date"])] = {"latest": a}
            days = [start + timedelta(days=i) for i in range((end - start).days + 1)]
            for s in sponsors:
                for d in days:
                    cell = cells.setdefault((s, d), {"latest": None})
                    first = begun.get(s)
                    before = cell["latest"] is None and (first is None or d < first)
                    cell["status"] = "none" if before else self._status(s, d, cell["latest"], breaks, current)
                    cell["breaks"], cell["at_stake"] = breaks.get((s, d), (0, Decimal("0.00")))
            return {"days": days, "sponsors": sponsors, "cells": cells}

        return self._read(user, work)

    @staticmethod
    def _status(
        sponsor: str,
        day: date,
        latest: dict[str, Any] | None,
        breaks: dict[tuple[str, date], tuple[int, Decimal]],
        current: list[dict[str, Any]],
    ) -> str:
        if latest is None:
            return "missing"
        if latest["status"] == "FAILED":
            return "failed"
        if latest["status"] == "REJECTED":
            return "rejected"
        if latest["status"] == "MISSING_INPUT":
            return "missing"
        mine = [c for c in current if c["sponsor_code"] == sponsor and c["business_date"] == day]
        if mine and any(
            c["sponsor_code"] == sponsor
            and c["business_date"] < day
            and c["version"] > 1
            and c["started_at"] > mine[0]["started_at"]
            for c in current
        ):
            return "stale"
        return "breaks" if (sponsor, day) in breaks else "succeeded"

    def operations(self, user: str, start: date, end: date) -> list[dict[str, Any]]:
        """Sponsor-days that failed, were rejected, miss input or are stale, with the reason."""
        calendar = self.nights(user, start, end)
        out = []
        for (sponsor, day), cell in sorted(calendar["cells"].items(), key=lambda kv: (kv[0][1], kv[0][0])):
            if cell["status"] in ("failed", "rejected", "missing", "stale"):
                latest = cell["latest"]
                reason = (
                    latest["error"]
                    if latest and latest["error"]
                    else {
                        "missing": "no run has reconciled this day yet",
                        "stale": "an earlier day was re-run after this one; re-run with cascade",
                    }.get(cell["status"], "")
                )
                out.append(
                    {
                        "sponsor": sponsor,
                        "day": day,
                        "status": cell["status"],
                        "reason": reason,
                        "latest": latest,
                    }
                )
        return out

    # -- actions ---------------------------------------------------------------------------------
    def resolve(self, user: str, ids: list[int], reason: str, note: str) -> Outcome:
        """Resolve breaks (or request approval above the threshold)."""
        self._reason(reason)
        return self._write(
            user,
            "resolver",
            lambda conn, now: service.resolve(
                conn,
                ids,
                by=user,
                reason=reason,
                note=note,
                threshold=self.config.four_eyes_dollars,
                zone=self.settings.timezone,
                now=now,
                source="web",
            ),
        )

    def reopen(self, user: str, ids: list[int], reason: str, note: str) -> Outcome:
        """Reopen resolved breaks."""
        self._reason(reason)
        return self._write(
            user,
            "resolver",
            lambda conn, now: service.reopen(
                conn, ids, by=user, reason=reason, note=note, now=now, source="web"
            ),
        )

    def comment(self, user: str, break_id: int, note: str) -> None:
        """Comment on a break."""
        self._write(
            user,
            "resolver",
            lambda conn, now: service.comment(conn, break_id, by=user, note=note, now=now, source="web"),
        )

    def assign(self, user: str, ids: list[int], assignee: str | None) -> Outcome:
        """Assign breaks to someone (or nobody)."""
        return self._write(
            user,
            "resolver",
            lambda conn, now: service.assign(conn, ids, by=user, assignee=assignee, now=now, source="web"),
        )

    def decide(self, user: str, request_id: int, approve: bool, note: str | None) -> int:
        """Approve or refuse a request (never one's own)."""
        return self._write(
            user,
            "approver",
            lambda conn, now: service.decide(
                conn,
                request_id,
                by=user,
                approve=approve,
                note=note,
                zone=self.settings.timezone,
                now=now,
                source="web",
            ),
        )

    def record_rerun(self, user: str, sponsor: str, day: date, dag_run_id: str, conf: dict[str, Any]) -> None:
        """Audit a re-run started from the operations page."""
        self._write(
            user,
            "resolver",
            lambda conn, now: wh.add_audit(
                conn,
                at=now,
                actor=user,
                action="RERUN",
                source="web",
                detail=f"{sponsor} {day}: DAG run {dag_run_id} with {conf}",
            ),
        )

    def _reason(self, reason: str) -> None:
        if reason not in self.config.reason_codes:
            raise ReconError(f"reason code {reason!r} is not one of {', '.join(self.config.reason_codes)}")
