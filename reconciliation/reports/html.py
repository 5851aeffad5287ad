"""Self-contained HTML reports: one file that opens offline in any browser.

The stylesheet is inlined, charts are inline SVG drawn in Python, and no
template contains a script, a web font or any URL: finance opens these on
locked-down desktops and archives them, so a report must look the same in
ten years without a network. Templates autoescape everything they print.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from functools import cache
from importlib import resources
from typing import Any

import jinja2
from markupsafe import Markup

from reconciliation.reports import charts
from reconciliation.reports.model import RunReport

TIMESTAMP = "%Y-%m-%d %H:%M:%S"


def money(value: Decimal | int | None, signed: bool = False) -> str:
    """``$1,234.50``; negatives with a minus sign, optionally ``+`` for positives."""
    if value is None:
        return ""
    amount = Decimal(value).quantize(Decimal("0.01"))
    sign = "-" if amount < 0 else ("+" if signed and amount > 0 else "")
    return f"{sign}${abs(amount):,.2f}"


def number(value: int | Decimal | None) -> str:
    """Thousands separators; blank for absent values."""
    return "" if value is None else f"{value:,}"


def when(value: datetime | date | None, fmt: str = TIMESTAMP) -> str:
    """A timestamp or date as text; blank for absent values."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.strftime(fmt)
    return value.isoformat()


def title(code: str | None) -> str:
    """``MISSING_ON_PLATFORM`` -> ``Missing on platform`` for headings."""
    return "" if not code else code.replace("_", " ").capitalize()


def axis_money(value: Decimal) -> str:
    """Short money for chart axes: $950, $1.5k, $12k."""
    if value >= 1000:
        return f"${value / 1000:,.1f}k".replace(".0k", "k")
    return f"${value:,.0f}"


@cache
def environment() -> jinja2.Environment:
    """The template environment, loaded once per process."""
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("reconciliation.reports", "templates"),
        autoescape=True, undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    env.filters.update(money=money, number=number, when=when, title=title)
    env.globals["type_color"] = charts.TYPE_COLORS
    env.globals["css"] = Markup(resources.files("reconciliation.reports").joinpath(
        "templates", "report.css").read_text(encoding="utf-8"))
    return env


def render(template: str, **context: Any) -> str:
    """Render a template of this package."""
    return environment().get_template(template).render(**context)


def run_charts(report: RunReport) -> dict[str, Markup]:
    """The run report's charts: breaks by type, money at stake by day, open breaks by age."""
    by_type = charts.hbars([
        charts.Bar(title(g.name), g.count, f"{g.count:,} · {money(g.money)}",
                   charts.TYPE_COLORS[g.name], f"{g.name}: {g.count} breaks, {money(g.money)} at stake")
        for g in report.by_type], label="Breaks by type")
    stakes = charts.columns([
        charts.Column(
            f"{p.day:%m-%d}",
            ((p.money, charts.ACCENT if p.day == report.business_date else "#7fa7c4", "money at stake"),),
            text=axis_money(p.money) if p.breaks else "",
            tip=(f"{p.day}: {p.breaks} breaks, {money(p.money)} at stake" if p.state == "current"
                 else f"{p.day}: " + ("no successful run" if p.state == "failed" else "no run")),
            highlight=p.day == report.business_date, missing=p.state != "current")
        for p in report.history], label="Money at stake by business date", axis=axis_money, minimum=100)
    aging = charts.hbars([
        charts.Bar(g.name, g.count, f"{g.count:,} · {money(g.money)}", "#b9770e" if i > 2 else "#d4ac0d",
                   f"open {g.name}: {g.count} breaks, {money(g.money)}")
        for i, g in enumerate(report.aging)], label="Open breaks from earlier days by age", label_width=110)
    return {"by_type": by_type, "stakes": stakes, "aging": aging}


def render_run(report: RunReport, backend: str = "warehouse") -> str:
    """The per-run HTML report.

    Args:
        report: The run's data.
        backend: The warehouse's kind (duckdb, postgresql) for the footer; never
            its URL, which may carry credentials.
    """
    return render("run.html.j2", r=report, charts=run_charts(report),
                  zone_label=zone_label(report.zone.name), generated_at=report.generated_at,
                  backend=backend, breaks=report.breaks.to_dicts(), carried=report.carried.to_dicts(),
                  regenerate=f"recon report --date {report.business_date} --sponsor {report.sponsor}")


def zone_label(name: str) -> str:
    """How a reconciliation zone is named on a report (the spec's 'EST' for -05:00)."""
    return "EST (UTC−05:00)" if name in ("-05:00", "EST") else name
