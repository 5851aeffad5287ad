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
from typing import TYPE_CHECKING, Any

import polars as pl
from markupsafe import Markup

from reconciliation.reports import charts
from reconciliation.reports.columns import money
from reconciliation.reports.model import RunReport

if TYPE_CHECKING:
    import jinja2

TIMESTAMP = "%Y-%m-%d %H:%M:%S"


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
    """The template environment, loaded once per process (Jinja is imported by the first render)."""
    import jinja2

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


def render_run(report: RunReport, backend: str = "warehouse", max_rows: int | None = None,
               data_docs: bool = False) -> str:
    """The per-run HTML report.

    Args:
        report: The run's data.
        backend: The warehouse's kind (duckdb, postgresql) for the footer; never
            its URL, which may carry credentials.
        data_docs: Link the run's Data Docs (``data_docs/index.html`` beside the report).
        max_rows: Most rows each break list shows (default ``MAX_ROWS``); the
            page says when a list is cut, and every figure still counts all.
    """
    limit = MAX_ROWS if max_rows is None else max_rows
    return render("run.html.j2", r=report, charts=run_charts(report),
                  zone_label=zone_label(report.zone.name), generated_at=report.generated_at,
                  backend=backend, data_docs=data_docs, breaks=break_table(report.breaks.head(limit)),
                  carried=break_table(report.carried.head(limit), carried=True),
                  rejected=rejected_rows(report.rejected),
                  shown={"breaks": min(limit, report.breaks.height),
                         "carried": min(limit, report.carried.height)},
                  regenerate=f"recon report --date {report.business_date} --sponsor {report.sponsor}")


#: The most rows a break list on a page shows (most urgent first): beyond
#: this a page grows past what a browser handles comfortably (about 1 kB a
#: break), and the reviewer is pointed to ``breaks.csv``, which has them all.
MAX_ROWS = 25_000

_BREAKS_HEAD = Markup(
    '<div class="scroll"><table class="breaks">\n<thead><tr>\n'
    '<th class="n">ID · date</th><th>Type</th><th>Status</th><th>Transaction</th><th>Where</th>'
    '<th>Collector</th>\n<th class="n">Partner</th><th class="n">Platform</th><th class="n">At stake</th>'
    '<th>Detail · resolution</th>\n</tr></thead>\n<tbody>\n')
_BREAKS_TAIL = Markup("</tbody>\n</table></div>\n")
_DASH = "—"
#: What ``markupsafe.escape`` replaces, for escaping whole columns at once.
_HTML_CHARS = ["&", "<", ">", '"', "'"]
_HTML_ESCAPES = ["&amp;", "&lt;", "&gt;", "&#34;", "&#39;"]


def _lit(text: str) -> pl.Expr:
    return pl.lit(text, dtype=pl.String)


def _esc(column: pl.Expr) -> pl.Expr:
    """Escaped text of a column, as ``escape(str(value))`` (absent values print as "None", as in Jinja)."""
    return column.cast(pl.String).fill_null("None").str.replace_many(_HTML_CHARS, _HTML_ESCAPES)


def _or(column: pl.Expr, default: str) -> pl.Expr:
    """``escape(value or default)`` for a text column."""
    text = column.cast(pl.String)
    return pl.when(text.is_null() | (text == "")).then(_lit(default)).otherwise(_esc(text))


def _if(condition: pl.Expr, then: pl.Expr) -> pl.Expr:
    return pl.when(condition).then(then).otherwise(_lit(""))


def _thousands(digits: pl.Expr) -> pl.Expr:
    """``1234567`` -> ``1,234,567`` for a column of digit strings."""
    return digits.str.reverse().str.replace_all(r"(\d{3})", "${1},").str.strip_chars_end(",").str.reverse()


def _money(column: pl.Expr, signed: bool = False) -> pl.Expr:
    """``money(value, signed)`` of a Decimal column, escaped (it has nothing to escape)."""
    amount = column.cast(pl.Decimal(38, 2))
    digits = amount.abs().cast(pl.String)  # always with two places
    whole = digits.str.slice(0, digits.str.len_chars() - 3)
    minus = pl.when(amount < 0).then(_lit("-"))
    sign = (minus.when(amount > 0).then(_lit("+")) if signed else minus).otherwise(_lit(""))
    text = pl.concat_str(sign, _lit("$"), _thousands(whole), digits.str.slice(-3))
    return pl.when(column.is_null()).then(_lit("")).otherwise(text)


def _number(column: pl.Expr) -> pl.Expr:
    """``number(value)`` of an integer column."""
    digits = _thousands(column.abs().cast(pl.String))
    text = pl.concat_str(pl.when(column < 0).then(_lit("-")).otherwise(_lit("")), digits)
    return pl.when(column.is_null()).then(_lit("")).otherwise(text)


def _title(column: pl.Expr) -> pl.Expr:
    """``title(code)``: ``MISSING_ON_PLATFORM`` -> ``Missing on platform``."""
    text = column.str.replace_all("_", " ", literal=True)
    return pl.concat_str(text.str.slice(0, 1).str.to_uppercase(), text.str.slice(1).str.to_lowercase())


def _badge(value: pl.Expr) -> pl.Expr:
    escaped = _esc(value)
    return pl.concat_str(_lit('<span class="badge b-'), escaped, _lit('">'), escaped, _lit("</span>"))


def _amounts(side: str) -> pl.Expr:
    """One side's dollars, units, miles and local time, or a dash when the side has no record."""
    ts, day = pl.col(f"{side}_time"), pl.col("business_date")
    clock = pl.when(ts.dt.date() == day).then(ts.dt.strftime("%H:%M:%S")).otherwise(
        ts.dt.strftime("%m-%d %H:%M:%S"))
    text = pl.concat_str(
        _money(pl.col(f"{side}_dollars")), _lit('<br><span class="k">'), _esc(pl.col(f"{side}_units")),
        _lit(" u · "), _number(pl.col(f"{side}_miles")), _lit(" mi</span>"),
        _if(ts.is_not_null(), pl.concat_str(_lit('<br><span class="k">'), _esc(clock), _lit("</span>"))))
    absent = _lit(f'<span class="k">{_DASH}</span>')
    return pl.when(pl.col(f"{side}_dollars").is_null()).then(absent).otherwise(text)


def _break_row(carried: bool) -> pl.Expr:
    """The ``<tr>`` of a break: the markup the page's break list has always had."""
    c = pl.col
    break_id, day, status = _esc(c("break_id")), _esc(c("business_date")), c("status")
    if carried:
        age = c("age_days")
        first = pl.concat_str(
            _lit('<tr data-carried="'), break_id, _lit('">\n<td class="n"><b class="mono">'), break_id,
            _lit('</b><br><span class="k nw">'), day, _lit('</span><br><span class="k">'), _esc(age),
            _lit(" day"), pl.when(age == 1).then(_lit("")).otherwise(_lit("s")), _lit(" old</span></td>\n"))
        now = pl.concat_str(_lit('<br><span class="k">now '), _esc(status.str.to_lowercase()),
                            _lit("</span>"))
        state = pl.concat_str(_badge(c("status_then")), _if(status != c("status_then"), now))
    else:
        first = pl.concat_str(
            _lit('<tr data-break="'), break_id, _lit('"'),
            _if(status == "RESOLVED", _lit(' class="resolved"')),
            _lit('>\n<td class="n"><b class="mono">'), break_id, _lit('</b><br><span class="k nw">'), day,
            _lit("</span></td>\n"))
        state = _badge(status)
    original, receipt = c("original_confirmation_number"), c("pos_transaction_id")
    resolution = _if(c("resolution").is_not_null() & (c("resolution") != ""), pl.concat_str(
        _lit('<br><span class="res">'), _esc(_title(c("resolution"))), _lit(" · "), _or(c("resolved_by"), ""),
        _lit(" · "), c("resolved_date").cast(pl.String).fill_null(""), _lit("</span>"),
        _if(c("note").is_not_null() & (c("note") != ""),
            pl.concat_str(_lit('<br><span class="k">“'), _esc(c("note")), _lit("”</span>")))))
    delta = c("delta_dollars")
    return pl.concat_str(
        first,
        _lit('<td class="nw"><span style="color: '),
        _esc(c("break_type").replace_strict(charts.TYPE_COLORS, return_dtype=pl.String)),
        _lit('">■</span> '), _esc(_title(c("break_type"))), _lit("<br>"), _badge(c("severity")),
        _lit(' <span class="k">'), _esc(c("side").str.to_lowercase()), _lit(" side</span></td>\n<td>"), state,
        _lit('</td>\n<td class="nw"><span class="mono">'), _or(c("confirmation_number"), _DASH),
        _lit('</span><br><span class="k">'), _or(c("txn_type"), ""), _lit("</span>"),
        _if(original.is_not_null() & (original != ""), pl.concat_str(
            _lit('<span class="k"> of </span><span class="mono k">'), _esc(original), _lit("</span>"))),
        _lit('</td>\n<td class="nw"><span class="k">store</span> '), _or(c("store_id"), _DASH),
        _lit(' <span class="k">dev</span> '), _or(c("device_id"), _DASH),
        _lit('<br><span class="k">trace</span> <span class="mono small">'), _or(c("trace_id"), _DASH),
        _lit("</span>"),
        _if(receipt.is_not_null() & (receipt != ""), pl.concat_str(
            _lit('<br><span class="k">receipt</span> <span class="mono small">'), _esc(receipt),
            _lit("</span>"))),
        _lit('</td>\n<td class="mono nw">'), _or(c("collector"), _DASH),
        _lit('</td>\n<td class="n">'), _amounts("partner"),
        _lit('</td>\n<td class="n">'), _amounts("platform"),
        _lit('</td>\n<td class="n"><b>'), _money(c("money_at_stake")), _lit('</b><br><span class="k'),
        _if(delta < 0, _lit(" neg")), _lit('">Δ '), _money(delta, signed=True),
        _lit('</span></td>\n<td class="detail">'), _or(c("detail"), ""), resolution, _lit("</td>\n</tr>\n"))


def break_table(frame: pl.DataFrame, carried: bool = False) -> Markup:
    """A break list as an HTML table (empty when there is no row).

    Built by Polars, a column at a time: a night can list ten thousand
    breaks, and a template macro per cell costs seconds. Every value is
    escaped as the template escaped it; the markup is the one the page
    always had.

    Args:
        frame: Reviewer columns (``columns.breaks_table``), plus ``status_then``
            for carried breaks.
        carried: Breaks carried from earlier days: shows their age and the
            status they had when the run finished.
    """
    if frame.height == 0:
        return Markup("")
    rows = frame.select(_break_row(carried).alias("html"))["html"]
    return Markup(str(_BREAKS_HEAD) + "".join(rows.to_list()) + str(_BREAKS_TAIL))


_REJECTED_SCHEMA = {"side": pl.String, "file_name": pl.String, "line_number": pl.Int64, "reason": pl.String}


def rejected_rows(rows: list[dict[str, Any]]) -> Markup:
    """The rows of the rejected-records table (a garbled file rejects thousands of lines).

    Built by Polars a column at a time, like the break table: the same text
    as escaping each cell in Python, at a fraction of the cost.
    """
    if not rows:
        return Markup("")
    frame = pl.DataFrame(rows, schema=_REJECTED_SCHEMA)
    html = pl.concat_str(
        _lit("<tr><td>"), _esc(_title(pl.col("side"))), _lit('</td><td class="mono">'),
        _esc(pl.col("file_name")), _lit('</td><td class="n">'), _esc(pl.col("line_number")),
        _lit("</td><td>"), _esc(pl.col("reason")), _lit("</td></tr>"))
    return Markup("".join(frame.select(html.alias("html"))["html"].to_list()))


def zone_label(name: str) -> str:
    """How a reconciliation zone is named on a report (the spec's 'EST' for -05:00)."""
    return "EST (UTC−05:00)" if name in ("-05:00", "EST") else name
