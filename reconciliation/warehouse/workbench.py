"""The workbench's tables and every SQL statement the workbench runs.

Three tables join the warehouse (migration ``0003_workbench`` holds their
frozen DDL): ``recon_audit``, the append-only trail of every workbench and
``recon breaks`` action (there is no UPDATE or DELETE of it anywhere in the
code, and PostgreSQL refuses both with a trigger); ``recon_assignment``, who
owns a break (by ``break_key``, so ownership survives a re-run); and
``recon_approval``, resolutions waiting for a second person (four eyes).

The tables are defined on the shared ``metadata`` so the migrations test
compares them with ``0003_workbench``; a warehouse made before the
workbench gets them from ``recon db upgrade``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy import BigInteger, Column, String, Table, Text
from sqlalchemy.engine import Connection

from reconciliation.warehouse.connection import next_id
from reconciliation.warehouse.schema import (
    metadata,
    money,
    pg_index,
    recon_break,
    recon_break_event,
    recon_record,
    recon_run,
    ts,
)

recon_audit = Table(
    "recon_audit",
    metadata,
    Column("audit_id", BigInteger, primary_key=True, autoincrement=False),
    ts("acted_at", nullable=False),
    Column("actor", String(128), nullable=False),
    Column("action", String(32), nullable=False),
    Column("break_id", BigInteger),
    Column("request_id", BigInteger),
    Column("reason_code", String(32)),
    Column("note", Text),
    Column("detail", Text),
    Column("source", String(8), nullable=False),
    pg_index("ix_recon_audit_break", "break_id"),
)

recon_assignment = Table(
    "recon_assignment",
    metadata,
    Column("break_key", String(200), primary_key=True),
    Column("assignee", String(128), nullable=False),
    Column("assigned_by", String(128), nullable=False),
    ts("assigned_at", nullable=False),
    pg_index("ix_recon_assignment_assignee", "assignee"),
)

recon_approval = Table(
    "recon_approval",
    metadata,
    Column("request_id", BigInteger, primary_key=True, autoincrement=False),
    Column("break_id", BigInteger, nullable=False),
    Column("resolution", String(32), nullable=False),
    Column("note", Text, nullable=False),
    money("amount", nullable=False),
    Column("requested_by", String(128), nullable=False),
    ts("requested_at", nullable=False),
    Column("status", String(10), nullable=False),
    Column("decided_by", String(128)),
    ts("decided_at"),
    Column("decision_note", Text),
    pg_index("ix_recon_approval_break", "break_id"),
    pg_index("ix_recon_approval_status", "status"),
)

WORKBENCH_TABLES = (recon_audit, recon_assignment, recon_approval)

# The breaks page's indexes on PostgreSQL (migration 0003 creates them on existing warehouses).
sa.Index("ix_recon_break_status_date", recon_break.c.status, recon_break.c.business_date).ddl_if(
    dialect="postgresql"
)
sa.Index("ix_recon_break_confirmation", recon_break.c.confirmation_number).ddl_if(dialect="postgresql")
sa.Index("ix_recon_run_current", recon_run.c.is_current, recon_run.c.run_id).ddl_if(dialect="postgresql")

SEVERITY_ORDER = sa.case({"HIGH": 0, "MEDIUM": 1, "LOW": 2}, value=recon_break.c.severity, else_=9)
STATUS_ORDER = sa.case({"OPEN": 0, "PENDING": 1, "RESOLVED": 2}, value=recon_break.c.status, else_=9)
AT_STAKE = sa.func.abs(sa.func.coalesce(recon_break.c.delta_dollars, 0))


def tables_exist(conn: Connection) -> bool:
    """Whether the warehouse has the workbench tables (a read-only connection cannot create them)."""
    return sa.inspect(conn).has_table("recon_audit")


def current_runs() -> sa.Select[Any]:
    """A sub-select of the run_ids of every current version."""
    return sa.select(recon_run.c.run_id).where(recon_run.c.is_current.is_(True))


@dataclass(frozen=True)
class BreakQuery:
    """The breaks page's server-side filter, order and page (current versions only).

    ``status`` is a status, ``UNRESOLVED`` (pending or open), ``AWAITING``
    (a resolution waits for approval) or ``ALL``; ``assignee`` is a name or
    ``-`` for unassigned breaks; ``text`` searches confirmation numbers.
    """

    date_from: date | None = None
    date_to: date | None = None
    sponsor: str | None = None
    break_type: str | None = None
    severity: str | None = None
    status: str = "UNRESOLVED"
    min_age: int | None = None
    max_age: int | None = None
    min_amount: Decimal | None = None
    max_amount: Decimal | None = None
    assignee: str | None = None
    text: str | None = None
    sort: str = "urgency"
    descending: bool = False
    page: int = 1
    page_size: int = 50
    as_of: date = field(default_factory=date.today)
    ids: tuple[int, ...] = ()


SORTS: dict[str, list[Any]] = {
    "urgency": [STATUS_ORDER, SEVERITY_ORDER, AT_STAKE.desc(), recon_break.c.break_id],
    "date": [recon_break.c.business_date, recon_break.c.break_id],
    "sponsor": [recon_break.c.sponsor_code, recon_break.c.business_date, recon_break.c.break_id],
    "type": [recon_break.c.break_type, recon_break.c.break_id],
    "amount": [AT_STAKE, recon_break.c.break_id],
    "status": [STATUS_ORDER, recon_break.c.break_id],
    "id": [recon_break.c.break_id],
}


def _pending_approvals() -> sa.Subquery:
    return (
        sa.select(recon_approval.c.break_id, recon_approval.c.request_id)
        .where(recon_approval.c.status == "PENDING")
        .subquery("awaiting")
    )


def _conditions(q: BreakQuery, awaiting: sa.Subquery) -> list[Any]:
    b = recon_break.c
    cond: list[Any] = [b.run_id.in_(current_runs())]
    if q.ids:
        cond.append(b.break_id.in_(list(q.ids)))
    if q.date_from:
        cond.append(b.business_date >= q.date_from)
    if q.date_to:
        cond.append(b.business_date <= q.date_to)
    if q.sponsor:
        cond.append(b.sponsor_code == q.sponsor)
    if q.break_type:
        cond.append(b.break_type == q.break_type)
    if q.severity:
        cond.append(b.severity == q.severity)
    if q.status == "UNRESOLVED":
        cond.append(b.status.in_(["PENDING", "OPEN"]))
    elif q.status == "AWAITING":
        cond.append(awaiting.c.request_id.is_not(None))
    elif q.status != "ALL":
        cond.append(b.status == q.status)
    if q.min_age is not None:
        cond.append(b.business_date <= date.fromordinal(q.as_of.toordinal() - q.min_age))
    if q.max_age is not None:
        cond.append(b.business_date >= date.fromordinal(q.as_of.toordinal() - q.max_age))
    if q.min_amount is not None:
        cond.append(q.min_amount <= AT_STAKE)
    if q.max_amount is not None:
        cond.append(q.max_amount >= AT_STAKE)
    if q.assignee == "-":
        cond.append(recon_assignment.c.assignee.is_(None))
    elif q.assignee:
        cond.append(recon_assignment.c.assignee == q.assignee)
    if q.text:
        cond.append(
            sa.or_(
                b.confirmation_number.contains(q.text, autoescape=True),
                b.original_confirmation_number.contains(q.text, autoescape=True),
            )
        )
    return cond


def _from(awaiting: sa.Subquery, q: BreakQuery | None = None) -> Any:
    """``recon_break`` with the joins a filter needs (none for most: they cost a scan of a million rows)."""
    joined: Any = recon_break
    if q is None or q.status == "AWAITING":
        joined = joined.outerjoin(awaiting, awaiting.c.break_id == recon_break.c.break_id)
    if q is None or q.assignee:
        joined = joined.outerjoin(recon_assignment, recon_assignment.c.break_key == recon_break.c.break_key)
    return joined


LIST_COLUMNS = (
    "break_id",
    "break_key",
    "business_date",
    "sponsor_code",
    "break_type",
    "severity",
    "status",
    "side",
    "txn_type",
    "confirmation_number",
    "original_confirmation_number",
    "collector_last4",
    "partner_dollars",
    "platform_dollars",
    "delta_dollars",
    "detail",
    "resolution",
    "resolved_by",
    "resolved_date",
)


def page_of_breaks(conn: Connection, q: BreakQuery, limit: int | None = None) -> list[dict[str, Any]]:
    """One page of breaks (or, with ``limit``, the first ``limit`` rows of the whole view) in order.

    The page's ids are chosen first from ``recon_break`` alone (a top-N on
    the sort keys), and only those rows are read in full with their owner
    and pending approval: a million-break warehouse is scanned once, narrowly.
    """
    awaiting = _pending_approvals()
    order = list(SORTS.get(q.sort, SORTS["urgency"]))
    if q.descending and q.sort != "urgency":
        order[0] = order[0].desc()
    ids = (
        sa.select(recon_break.c.break_id)
        .select_from(_from(awaiting, q))
        .where(*_conditions(q, awaiting))
        .order_by(*order)
    )
    ids = (
        ids.limit(limit)
        if limit is not None
        else ids.limit(q.page_size).offset((max(q.page, 1) - 1) * q.page_size)
    )
    chosen = ids.subquery("chosen")
    shown = _pending_approvals()
    query = (
        sa.select(
            *(recon_break.c[n] for n in LIST_COLUMNS),
            AT_STAKE.label("at_stake"),
            recon_assignment.c.assignee,
            shown.c.request_id.label("awaiting_request"),
        )
        .select_from(
            chosen.join(recon_break, recon_break.c.break_id == chosen.c.break_id)
            .outerjoin(shown, shown.c.break_id == recon_break.c.break_id)
            .outerjoin(recon_assignment, recon_assignment.c.break_key == recon_break.c.break_key)
        )
        .order_by(*order)
    )  # every order ends in break_id: the same order as the ids
    return [dict(r) for r in conn.execute(query).mappings()]


def totals(conn: Connection, q: BreakQuery) -> tuple[int, Decimal]:
    """How many breaks the filter selects and their money at stake (exact)."""
    awaiting = _pending_approvals()
    row = conn.execute(
        sa.select(sa.func.count(), sa.func.coalesce(sa.func.sum(AT_STAKE), 0))
        .select_from(_from(awaiting, q))
        .where(*_conditions(q, awaiting))
    ).one()
    return int(row[0]), Decimal(row[1]).quantize(Decimal("0.01"))


def assignees(conn: Connection) -> list[str]:
    """Everyone who owns a break, for the filter's choices."""
    return list(
        conn.execute(
            sa.select(recon_assignment.c.assignee).distinct().order_by(recon_assignment.c.assignee)
        ).scalars()
    )


def sponsors(conn: Connection) -> list[str]:
    """Every sponsor with a run."""
    return list(
        conn.execute(
            sa.select(recon_run.c.sponsor_code).distinct().order_by(recon_run.c.sponsor_code)
        ).scalars()
    )


def break_row(conn: Connection, break_id: int) -> dict[str, Any] | None:
    """One break with its run's version and currency, its owner and any pending approval."""
    awaiting = _pending_approvals()
    row = (
        conn.execute(
            sa.select(
                recon_break,
                AT_STAKE.label("at_stake"),
                recon_run.c.is_current,
                recon_run.c.version,
                recon_assignment.c.assignee,
                awaiting.c.request_id.label("awaiting_request"),
            )
            .select_from(_from(awaiting).join(recon_run, recon_run.c.run_id == recon_break.c.run_id))
            .where(recon_break.c.break_id == break_id)
        )
        .mappings()
        .first()
    )
    return dict(row) if row else None


def versions_of_break(conn: Connection, break_key: str) -> list[dict[str, Any]]:
    """Every version of a break (same ``break_key``) across runs, oldest first."""
    return [
        dict(r)
        for r in conn.execute(
            sa.select(
                recon_break.c.break_id,
                recon_break.c.run_id,
                recon_break.c.status,
                recon_break.c.resolution,
                recon_break.c.resolved_by,
                recon_run.c.version,
                recon_run.c.is_current,
                recon_run.c.started_at,
            )
            .join(recon_run, recon_run.c.run_id == recon_break.c.run_id)
            .where(recon_break.c.break_key == break_key)
            .order_by(recon_break.c.break_id)
        ).mappings()
    ]


def status_events(conn: Connection, break_ids: Sequence[int]) -> list[dict[str, Any]]:
    """Every status change of these breaks (runs and people), oldest first."""
    return [
        dict(r)
        for r in conn.execute(
            sa.select(recon_break_event)
            .where(recon_break_event.c.break_id.in_(list(break_ids) or [-1]))
            .order_by(recon_break_event.c.changed_at, recon_break_event.c.break_id)
        ).mappings()
    ]


def related_records(conn: Connection, row: dict[str, Any], limit: int = 20) -> list[dict[str, Any]]:
    """Records of current runs sharing the break's confirmation numbers.

    That is a reversal's original, a duplicate's pair, the other REVERSEs of a REDEEM.
    """
    numbers = [n for n in (row.get("confirmation_number"), row.get("original_confirmation_number")) if n]
    if not numbers:
        return []
    r = recon_record.c
    return [
        dict(x)
        for x in conn.execute(
            sa.select(
                r.side,
                r.business_date,
                r.line_number,
                r.txn_type,
                r.confirmation_number,
                r.original_confirmation_number,
                r.ts,
                r.origin,
                r.response_code,
                r.units,
                r.miles,
                r.dollars,
                r.disposition,
            )
            .where(
                r.sponsor_code == row["sponsor_code"],
                r.run_id.in_(current_runs()),
                sa.or_(r.confirmation_number.in_(numbers), r.original_confirmation_number.in_(numbers)),
            )
            .order_by(r.business_date, r.side, r.line_number)
            .limit(limit)
        ).mappings()
    ]


def other_breaks(conn: Connection, row: dict[str, Any]) -> list[dict[str, Any]]:
    """Other current breaks of the same sponsor on the same confirmation numbers."""
    numbers = [n for n in (row.get("confirmation_number"), row.get("original_confirmation_number")) if n]
    if not numbers:
        return []
    b = recon_break.c
    return [
        dict(x)
        for x in conn.execute(
            sa.select(b.break_id, b.business_date, b.break_type, b.status, b.side, b.confirmation_number)
            .where(
                b.sponsor_code == row["sponsor_code"],
                b.run_id.in_(current_runs()),
                b.break_id != row["break_id"],
                sa.or_(b.confirmation_number.in_(numbers), b.original_confirmation_number.in_(numbers)),
            )
            .order_by(b.break_id)
            .limit(20)
        ).mappings()
    ]


# -- audit, assignment, approval ------------------------------------------------------------------


def add_audit(
    conn: Connection,
    *,
    at: datetime,
    actor: str,
    action: str,
    source: str,
    break_id: int | None = None,
    request_id: int | None = None,
    reason_code: str | None = None,
    note: str | None = None,
    detail: str | None = None,
) -> int:
    """Append one audit row (callers hold the write lock); returns its id. There is no update or delete."""
    audit_id = next_id(conn, recon_audit, "audit_id")
    conn.execute(
        recon_audit.insert().values(
            audit_id=audit_id,
            acted_at=at,
            actor=actor,
            action=action,
            source=source,
            break_id=break_id,
            request_id=request_id,
            reason_code=reason_code,
            note=note,
            detail=detail,
        )
    )
    return audit_id


def audit_of(conn: Connection, break_ids: Sequence[int]) -> list[dict[str, Any]]:
    """The audit trail of these breaks, oldest first."""
    return [
        dict(r)
        for r in conn.execute(
            sa.select(recon_audit)
            .where(recon_audit.c.break_id.in_(list(break_ids) or [-1]))
            .order_by(recon_audit.c.audit_id)
        ).mappings()
    ]


def recent_audit(conn: Connection, limit: int = 200) -> list[dict[str, Any]]:
    """The newest audit rows, newest first."""
    return [
        dict(r)
        for r in conn.execute(
            sa.select(recon_audit).order_by(recon_audit.c.audit_id.desc()).limit(limit)
        ).mappings()
    ]


def set_assignee(conn: Connection, break_key: str, assignee: str | None, by: str, at: datetime) -> None:
    """Give a break (all its versions) to someone, or to nobody."""
    conn.execute(recon_assignment.delete().where(recon_assignment.c.break_key == break_key))
    if assignee:
        conn.execute(
            recon_assignment.insert().values(
                break_key=break_key, assignee=assignee, assigned_by=by, assigned_at=at
            )
        )


def add_request(
    conn: Connection,
    *,
    break_id: int,
    resolution: str,
    note: str,
    amount: Decimal,
    requested_by: str,
    at: datetime,
) -> int:
    """Record a resolution that waits for a second person; returns the request id."""
    request_id = next_id(conn, recon_approval, "request_id")
    conn.execute(
        recon_approval.insert().values(
            request_id=request_id,
            break_id=break_id,
            resolution=resolution,
            note=note,
            amount=amount,
            requested_by=requested_by,
            requested_at=at,
            status="PENDING",
        )
    )
    return request_id


def request_row(conn: Connection, request_id: int) -> dict[str, Any] | None:
    """One approval request."""
    row = (
        conn.execute(sa.select(recon_approval).where(recon_approval.c.request_id == request_id))
        .mappings()
        .first()
    )
    return dict(row) if row else None


def decide_request(
    conn: Connection, request_id: int, status: str, by: str, at: datetime, note: str | None
) -> None:
    """Close a pending request as APPROVED, REFUSED or CANCELLED."""
    conn.execute(
        recon_approval.update()
        .where(recon_approval.c.request_id == request_id, recon_approval.c.status == "PENDING")
        .values(status=status, decided_by=by, decided_at=at, decision_note=note)
    )


def requests(conn: Connection, status: str | None = "PENDING", limit: int = 500) -> list[dict[str, Any]]:
    """Approval requests with their break's sponsor, date and type, oldest first."""
    query = sa.select(
        recon_approval, recon_break.c.sponsor_code, recon_break.c.business_date, recon_break.c.break_type
    ).join(recon_break, recon_break.c.break_id == recon_approval.c.break_id)
    if status:
        query = query.where(recon_approval.c.status == status)
    return [
        dict(r) for r in conn.execute(query.order_by(recon_approval.c.request_id).limit(limit)).mappings()
    ]


# -- nights and operations ---------------------------------------------------------------------------


def attempts_between(conn: Connection, start: date, end: date) -> list[dict[str, Any]]:
    """Every run attempt of business dates in [start, end], by sponsor, date and version."""
    return [
        dict(r)
        for r in conn.execute(
            sa.select(
                recon_run.c.run_id,
                recon_run.c.sponsor_code,
                recon_run.c.business_date,
                recon_run.c.version,
                recon_run.c.status,
                recon_run.c.is_current,
                recon_run.c.started_at,
                recon_run.c.finished_at,
                recon_run.c.error,
            )
            .where(recon_run.c.business_date.between(start, end))
            .order_by(recon_run.c.sponsor_code, recon_run.c.business_date, recon_run.c.version)
        ).mappings()
    ]


def first_dates(conn: Connection) -> dict[str, date]:
    """Each sponsor's first business date with an attempt; days before it are not missing, not begun."""
    rows = conn.execute(
        sa.select(recon_run.c.sponsor_code, sa.func.min(recon_run.c.business_date)).group_by(
            recon_run.c.sponsor_code
        )
    ).all()
    return {s: d for s, d in rows}


def current_runs_of_sponsors(conn: Connection, sponsors_: Sequence[str]) -> list[dict[str, Any]]:
    """Every current run of these sponsors (for staleness: a re-run of an earlier day after them)."""
    return [
        dict(r)
        for r in conn.execute(
            sa.select(
                recon_run.c.sponsor_code,
                recon_run.c.business_date,
                recon_run.c.version,
                recon_run.c.started_at,
            ).where(recon_run.c.is_current.is_(True), recon_run.c.sponsor_code.in_(list(sponsors_) or ["-"]))
        ).mappings()
    ]


def open_breaks_by_day(
    conn: Connection, start: date, end: date
) -> dict[tuple[str, date], tuple[int, Decimal]]:
    """Unresolved current breaks and their money at stake per (sponsor, business date)."""
    rows = conn.execute(
        sa.select(
            recon_break.c.sponsor_code,
            recon_break.c.business_date,
            sa.func.count(),
            sa.func.coalesce(sa.func.sum(AT_STAKE), 0),
        )
        .where(
            recon_break.c.run_id.in_(current_runs()),
            recon_break.c.business_date.between(start, end),
            recon_break.c.status.in_(["PENDING", "OPEN"]),
        )
        .group_by(recon_break.c.sponsor_code, recon_break.c.business_date)
    ).all()
    return {(s, d): (int(n), Decimal(m).quantize(Decimal("0.01"))) for s, d, n, m in rows}
