"""The workbench's actions and their rules, shared by the web pages and ``recon breaks``.

Every action runs in one write transaction and appends its audit row in
the same transaction, so an action and its audit commit together or not at
all. Rules:

- resolving needs a reason code and a note; a break whose money at stake is
  at or above the four-eyes threshold is not resolved but gets a request
  that a second person must approve (four eyes); nobody approves their own
  request;
- reopening takes a person's resolution back (a run's ``MATCHED_LATER``
  cannot be reopened: the records did match);
- comments and assignments change no status but are audited like the rest.

Who may call which action is the caller's business (``Workbench`` checks
roles for the web; the command line trusts ``--by``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy.engine import Connection

from reconciliation import breaks as workflow
from reconciliation.config import Zone
from reconciliation.errors import ReconError
from reconciliation.warehouse import workbench as wh

NOTE_LIMIT = 2000


class Forbidden(ReconError):
    """The user may not do this (HTTP 403)."""


class NotFound(ReconError):
    """No such break or request (HTTP 404)."""


class Conflict(ReconError):
    """The action does not fit the break's state (HTTP 409)."""


@dataclass
class Outcome:
    """What an action did: breaks resolved (or reopened, ...), and requests waiting for approval."""

    done: list[int] = field(default_factory=list)
    requested: list[tuple[int, int]] = field(default_factory=list)

    def sentence(self, verb: str = "resolved") -> str:
        """One line for the user."""
        parts = []
        if self.done:
            parts.append(
                f"{verb} {len(self.done)} break{'s' if len(self.done) != 1 else ''}: "
                + ", ".join(str(i) for i in self.done)
            )
        if self.requested:
            parts.append(
                f"{len(self.requested)} need{'s' if len(self.requested) == 1 else ''} a second "
                "person's approval (four eyes): "
                + ", ".join(f"break {b} (request {r})" for b, r in self.requested)
            )
        return "; ".join(parts) or "nothing to do"


def _note(note: str | None, required: bool = True) -> str:
    text = (note or "").strip()
    if required and not text:
        raise ReconError("a note saying why is required")
    if len(text) > NOTE_LIMIT:
        raise ReconError(f"the note is longer than {NOTE_LIMIT} characters")
    return text


def _row(conn: Connection, break_id: int) -> dict[str, Any]:
    row = wh.break_row(conn, break_id)
    if row is None:
        raise NotFound(f"break {break_id} is not in the warehouse")
    return row


def resolve(
    conn: Connection,
    break_ids: list[int],
    *,
    by: str,
    reason: str,
    note: str,
    threshold: Decimal,
    zone: Zone,
    now: datetime,
    source: str,
) -> Outcome:
    """Resolve breaks, or request approval for those at or above the threshold; all or none.

    Raises:
        ReconError: a break is unknown, superseded, resolved, already waiting
            for approval, or the note, name or code is invalid.
    """
    note, by, reason = workflow.check_resolution(_note(note), by, reason)
    ids = list(dict.fromkeys(break_ids))
    if not ids:
        raise ReconError("choose at least one break")
    outcome, direct = Outcome(), []
    for break_id in ids:
        extra = _row(conn, break_id)
        try:
            row = workflow.resolvable(conn, break_id)
        except ReconError as exc:
            raise Conflict(str(exc)) from None
        if extra["awaiting_request"] is not None:
            raise Conflict(
                f"break {break_id} already has a resolution waiting for approval "
                f"(request {extra['awaiting_request']})"
            )
        amount = Decimal(extra["at_stake"]).quantize(Decimal("0.01"))
        if amount >= threshold:
            request_id = wh.add_request(
                conn, break_id=break_id, resolution=reason, note=note, amount=amount, requested_by=by, at=now
            )
            wh.add_audit(
                conn,
                at=now,
                actor=by,
                action="REQUEST_APPROVAL",
                source=source,
                break_id=break_id,
                request_id=request_id,
                reason_code=reason,
                note=note,
                detail=f"{amount} at stake, four-eyes threshold {threshold}",
            )
            outcome.requested.append((break_id, request_id))
        else:
            direct.append(row)
    workflow.resolve_rows(conn, direct, note, by, reason, now, zone)
    for row in direct:
        wh.add_audit(
            conn,
            at=now,
            actor=by,
            action="RESOLVE",
            source=source,
            break_id=row["break_id"],
            reason_code=reason,
            note=note,
        )
        outcome.done.append(row["break_id"])
    return outcome


def decide(
    conn: Connection,
    request_id: int,
    *,
    by: str,
    approve: bool,
    note: str | None,
    zone: Zone,
    now: datetime,
    source: str,
) -> int:
    """Approve (the break is resolved as requested) or refuse a request; returns the break id.

    Raises:
        Forbidden: the requester decides their own request.
        NotFound: no such request.
        Conflict: the request is decided already, or its break changed meanwhile.
    """
    by = by.strip()
    request = wh.request_row(conn, request_id)
    if request is None:
        raise NotFound(f"approval request {request_id} does not exist")
    if request["status"] != "PENDING":
        raise Conflict(
            f"request {request_id} is already {request['status'].lower()} by {request['decided_by']}"
        )
    if request["requested_by"] == by:
        raise Forbidden(
            f"{by} requested this resolution and cannot approve or refuse it: four eyes need a second person"
        )
    text = _note(note, required=not approve)
    break_id = int(request["break_id"])
    if not approve:
        wh.decide_request(conn, request_id, "REFUSED", by, now, text)
        wh.add_audit(
            conn,
            at=now,
            actor=by,
            action="REFUSE",
            source=source,
            break_id=break_id,
            request_id=request_id,
            reason_code=request["resolution"],
            note=text,
        )
        return break_id
    try:
        row = workflow.resolvable(conn, break_id)
    except ReconError as exc:
        raise Conflict(f"request {request_id} cannot be approved: {exc}") from None
    resolved_by = f"{request['requested_by']}, approved by {by}"[:128]
    workflow.resolve_rows(conn, [row], request["note"], resolved_by, request["resolution"], now, zone)
    wh.decide_request(conn, request_id, "APPROVED", by, now, text or None)
    wh.add_audit(
        conn,
        at=now,
        actor=by,
        action="APPROVE",
        source=source,
        break_id=break_id,
        request_id=request_id,
        reason_code=request["resolution"],
        note=text or None,
        detail=f"resolution requested by {request['requested_by']}",
    )
    return break_id


def reopen(
    conn: Connection, break_ids: list[int], *, by: str, reason: str, note: str, now: datetime, source: str
) -> Outcome:
    """Open resolved breaks again (a person's resolution was wrong); all or none."""
    note, by, reason = workflow.check_resolution(_note(note), by, reason)
    outcome, rows = Outcome(), []
    for break_id in dict.fromkeys(break_ids):
        row = _row(conn, break_id)
        if not row["is_current"]:
            raise Conflict(f"break {break_id} belongs to a superseded version; open its current version")
        if row["status"] != "RESOLVED":
            raise Conflict(f"break {break_id} is {row['status']}, not resolved")
        if row["resolution"] in workflow.RUN_RESOLUTIONS:
            raise Conflict(f"break {break_id} was matched by a later run; there is nothing to reopen")
        rows.append(row)
    workflow.reopen_rows(conn, rows, note, by, now)
    for row in rows:
        wh.add_audit(
            conn,
            at=now,
            actor=by,
            action="REOPEN",
            source=source,
            break_id=row["break_id"],
            reason_code=reason,
            note=note,
        )
        outcome.done.append(row["break_id"])
    return outcome


def comment(conn: Connection, break_id: int, *, by: str, note: str, now: datetime, source: str) -> None:
    """Add a comment to a break's trail."""
    _row(conn, break_id)
    wh.add_audit(conn, at=now, actor=by, action="COMMENT", source=source, break_id=break_id, note=_note(note))


def assign(
    conn: Connection,
    break_ids: list[int],
    *,
    by: str,
    assignee: str | None,
    now: datetime,
    source: str,
    note: str | None = None,
) -> Outcome:
    """Give breaks to someone (or to nobody with an empty name)."""
    who = (assignee or "").strip() or None
    if who and len(who) > 128:
        raise ReconError("the assignee's name is longer than 128 characters")
    outcome = Outcome()
    for break_id in dict.fromkeys(break_ids):
        row = _row(conn, break_id)
        wh.set_assignee(conn, row["break_key"], who, by, now)
        wh.add_audit(
            conn,
            at=now,
            actor=by,
            action="ASSIGN" if who else "UNASSIGN",
            source=source,
            break_id=break_id,
            note=_note(note, required=False) or None,
            detail=f"assigned to {who}" if who else f"was assigned to {row['assignee']}",
        )
        outcome.done.append(break_id)
    return outcome
