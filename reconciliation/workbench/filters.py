"""The breaks page's filter from its query string, and back: one place for both directions.

The same string parameters drive the page, its paging links and the CSV
and Excel exports, so an export is exactly the view on screen.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import urlencode

from reconciliation.errors import ReconError
from reconciliation.warehouse.schema import BREAK_TYPES
from reconciliation.warehouse.workbench import SORTS, BreakQuery

STATUS_CHOICES = ("UNRESOLVED", "PENDING", "OPEN", "RESOLVED", "AWAITING", "ALL")
SEVERITIES = ("HIGH", "MEDIUM", "LOW")
PARAMS = (
    "from",
    "to",
    "sponsor",
    "type",
    "severity",
    "status",
    "min_age",
    "max_age",
    "min_amount",
    "max_amount",
    "assignee",
    "q",
    "sort",
    "desc",
)


def _date(value: str, name: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise ReconError(f"{name} must be a date YYYY-MM-DD, not {value!r}") from None


def _int(value: str, name: str) -> int:
    if not value.isdigit() or len(value) > 6:
        raise ReconError(f"{name} must be a whole number of days, not {value!r}")
    return int(value)


def _money(value: str, name: str) -> Decimal:
    try:
        amount = Decimal(value.replace(",", "").replace("$", ""))
    except InvalidOperation:
        raise ReconError(f"{name} must be an amount like 25.00, not {value!r}") from None
    if not amount.is_finite() or amount < 0:
        raise ReconError(f"{name} must be a positive amount")
    return amount


def parse(
    params: Mapping[str, str], *, page: int = 1, page_size: int = 50, as_of: date | None = None
) -> BreakQuery:
    """A ``BreakQuery`` from query parameters; empty parameters are ignored.

    Raises:
        ReconError: a parameter is malformed (the message names it).
    """
    p = {k: (params.get(k) or "").strip() for k in PARAMS}
    sponsor = p["sponsor"].upper() or None
    if sponsor and (len(sponsor) != 4 or not sponsor.isalnum()):
        raise ReconError(f"sponsor must be four letters or digits, not {sponsor!r}")
    break_type = p["type"].upper() or None
    if break_type and break_type not in BREAK_TYPES:
        raise ReconError(f"unknown break type {break_type!r}")
    severity = p["severity"].upper() or None
    if severity and severity not in SEVERITIES:
        raise ReconError(f"unknown severity {severity!r}")
    status = p["status"].upper() or "UNRESOLVED"
    if status not in STATUS_CHOICES:
        raise ReconError(f"unknown status {status!r}")
    sort = p["sort"] or "urgency"
    if sort not in SORTS:
        raise ReconError(f"cannot sort by {sort!r}")
    text = p["q"][:16] or None
    return BreakQuery(
        date_from=_date(p["from"], "from") if p["from"] else None,
        date_to=_date(p["to"], "to") if p["to"] else None,
        sponsor=sponsor,
        break_type=break_type,
        severity=severity,
        status=status,
        min_age=_int(p["min_age"], "min_age") if p["min_age"] else None,
        max_age=_int(p["max_age"], "max_age") if p["max_age"] else None,
        min_amount=_money(p["min_amount"], "min_amount") if p["min_amount"] else None,
        max_amount=_money(p["max_amount"], "max_amount") if p["max_amount"] else None,
        assignee=p["assignee"][:128] or None,
        text=text,
        sort=sort,
        descending=p["desc"] == "1",
        page=max(1, page),
        page_size=page_size,
        as_of=as_of or date.today(),
    )


def to_params(q: BreakQuery, **override: Any) -> str:
    """The query string of a ``BreakQuery`` (for paging, sorting and export links)."""
    values: dict[str, Any] = {
        "from": q.date_from,
        "to": q.date_to,
        "sponsor": q.sponsor,
        "type": q.break_type,
        "severity": q.severity,
        "status": q.status,
        "min_age": q.min_age,
        "max_age": q.max_age,
        "min_amount": q.min_amount,
        "max_amount": q.max_amount,
        "assignee": q.assignee,
        "q": q.text,
        "sort": q.sort if q.sort != "urgency" else None,
        "desc": "1" if q.descending else None,
        "page": q.page if q.page > 1 else None,
    }
    values.update(override)
    return urlencode({k: str(v) for k, v in values.items() if v not in (None, "")})
