"""Inline SVG charts, drawn in Python so a report needs no script and no network.

Every chart is a self-contained ``<svg>`` element (no ``xmlns`` URL: HTML5
does not need it, and the report promises no URL at all). Geometry is
computed with ``Decimal`` like the money it draws, and every bar carries a
``<title>`` so hovering shows the exact figure without JavaScript.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from markupsafe import Markup, escape

from reconciliation.warehouse.schema import BREAK_TYPES

Number = int | Decimal

#: One colour per break type, stable across every chart and report.
TYPE_COLORS = dict(zip(BREAK_TYPES, (
    "#c0392b", "#e67e22", "#8e44ad", "#7f8c8d", "#2c3e50", "#16a085",
    "#d4a017", "#e84393", "#2980b9", "#27ae60", "#6d4c41"), strict=True))
SEVERITY_COLORS = {"HIGH": "#c0392b", "MEDIUM": "#d68910", "LOW": "#5d6d7e"}
ACCENT = "#1f5f8b"
MUTED = "#b8c4ce"
GRID = "#e3e8ec"


@dataclass(frozen=True)
class Bar:
    """One bar: its label, the value that sets its length, the text printed beside it."""

    label: str
    value: Number
    text: str
    color: str = ACCENT
    tip: str = ""


def _px(value: Decimal) -> str:
    return str(value.quantize(Decimal("0.1"), rounding=ROUND_HALF_UP))


def nice_top(value: Number) -> Decimal:
    """The smallest 1-2-5 × 10^k at or above ``value`` (an axis that reads well)."""
    target = Decimal(value)
    if target <= 0:
        return Decimal(1)
    step = Decimal(1)
    while step * 10 <= target:
        step *= 10
    while step > target:
        step /= 10
    for factor in (1, 2, 5, 10):
        if step * factor >= target:
            return step * factor
    return step * 10  # pragma: no cover


def ticks(top: Decimal) -> list[Decimal]:
    """Gridline values from 0 to ``top`` in round steps (a 1-2-5 top splits into 5, 4 or 5)."""
    lead = top
    while lead >= 10:
        lead /= 10
    while lead < 1:
        lead *= 10
    parts = 4 if lead == 2 else 5
    return [top * k / parts for k in range(parts + 1)]


def _svg(width: int, height: int, label: str, body: list[str]) -> Markup:
    # Never drawn wider than designed: scaling up would blow the text up too.
    head = (f'<svg class="chart" viewBox="0 0 {width} {height}" width="100%" '
            f'style="max-width: {width}px" preserveAspectRatio="xMinYMin meet" role="img" '
            f'aria-label="{escape(label)}">')
    return Markup(head + "".join(body) + "</svg>")


def hbars(bars: Sequence[Bar], *, label: str, width: int = 640, row: int = 26,
          label_width: int = 190) -> Markup:
    """Horizontal bars, longest value full width; for breaks by type or by age."""
    if not bars:
        return _svg(width, 40, label, ['<text x="0" y="24" class="empty">No breaks</text>'])
    top = max(Decimal(b.value) for b in bars) or Decimal(1)
    span = Decimal(width - label_width - 150)
    body = []
    for i, bar in enumerate(bars):
        y = i * row
        length = Decimal(bar.value) / top * span if bar.value else Decimal(0)
        body.append(
            f'<g><title>{escape(bar.tip or bar.label + ": " + bar.text)}</title>'
            f'<text x="{label_width - 8}" y="{y + 17}" text-anchor="end" class="lbl">'
            f'{escape(bar.label)}</text>'
            f'<rect x="{label_width}" y="{y + 5}" width="{_px(max(length, Decimal(2)))}" '
            f'height="{row - 9}" rx="2" fill="{bar.color}"/>'
            f'<text x="{_px(label_width + length + 8)}" y="{y + 17}" class="val">'
            f'{escape(bar.text)}</text></g>')
    return _svg(width, row * len(bars) + 4, label, body)


@dataclass(frozen=True)
class Column:
    """One column of a time series; ``parts`` stacks (value, colour, name) from the bottom."""

    label: str
    parts: tuple[tuple[Number, str, str], ...]
    text: str = ""
    tip: str = ""
    highlight: bool = False
    missing: bool = False

    @property
    def total(self) -> Decimal:
        return sum((Decimal(v) for v, _, _ in self.parts), Decimal(0))


def count_axis(value: Decimal) -> str:
    """Axis labels for counts."""
    return f"{value:,.0f}"


def columns(cols: Sequence[Column], *, label: str, axis: Callable[[Decimal], str] = count_axis,
            width: int = 600, height: int = 240, minimum: Number = 5) -> Markup:
    """Vertical (optionally stacked) columns with a 1-2-5 axis; for money or breaks per day.

    ``minimum`` keeps a quiet series (all zeros or ones) from drawing a
    dramatic axis with fractional ticks.
    """
    left, bottom, top_pad = 64, 34, 18
    plot_h = Decimal(height - bottom - top_pad)
    top = nice_top(max([c.total for c in cols] + [Decimal(minimum)]))
    every = max(1, -(-len(cols) * 44 // (width - left)))
    slot = Decimal(width - left - 8) / max(len(cols), 1)
    bar_w = slot * Decimal("0.68")
    body = []
    for tick in ticks(top):
        y = top_pad + plot_h - plot_h * tick / top
        body.append(f'<line x1="{left}" x2="{width - 4}" y1="{_px(y)}" y2="{_px(y)}" stroke="{GRID}"/>'
                    f'<text x="{left - 6}" y="{_px(y + 4)}" text-anchor="end" class="axis">'
                    f'{escape(axis(tick))}</text>')
    for i, col in enumerate(cols):
        x = left + slot * i + (slot - bar_w) / 2
        base = top_pad + plot_h
        parts = []
        for value, color, name in col.parts:
            h = Decimal(value) / top * plot_h
            if h <= 0:
                continue
            base -= h
            parts.append(f'<rect x="{_px(x)}" y="{_px(base)}" width="{_px(bar_w)}" height="{_px(h)}" '
                         f'fill="{color}"><title>{escape(name)}</title></rect>')
        if col.missing:
            parts.append(f'<rect x="{_px(x)}" y="{_px(top_pad + plot_h - 6)}" width="{_px(bar_w)}" '
                         f'height="6" fill="{MUTED}"/>')
        if col.text:
            parts.append(f'<text x="{_px(x + bar_w / 2)}" y="{_px(base - 5)}" text-anchor="middle" '
                         f'class="val small">{escape(col.text)}</text>')
        weight = " strong" if col.highlight else ""
        if i % every == 0 or col.highlight:
            parts.append(f'<text x="{_px(x + bar_w / 2)}" y="{height - bottom + 16}" text-anchor="middle" '
                         f'class="axis{weight}">{escape(col.label)}</text>')
        tip = escape(col.tip or col.label)
        outline = (f'<rect x="{_px(x - 3)}" y="{top_pad - 4}" width="{_px(bar_w + 6)}" '
                   f'height="{_px(plot_h + 8)}" fill="none" stroke="{ACCENT}" stroke-dasharray="3 3"/>'
                   if col.highlight else "")
        body.append(f'<g><title>{tip}</title>{outline}{"".join(parts)}</g>')
    body.append(f'<line x1="{left}" x2="{width - 4}" y1="{_px(top_pad + plot_h)}" '
                f'y2="{_px(top_pad + plot_h)}" stroke="#8795a1"/>')
    return _svg(width, height, label, body)


def line(points: Sequence[tuple[str, Number]], *, label: str, axis: Callable[[Decimal], str] = count_axis,
         width: int = 600, height: int = 240, color: str = ACCENT, minimum: Number = 5) -> Markup:
    """A line with markers; for a backlog or a trend across many days."""
    left, bottom, top_pad = 64, 34, 14
    plot_h = Decimal(height - bottom - top_pad)
    top = nice_top(max([Decimal(v) for _, v in points] + [Decimal(minimum)]))
    step = Decimal(width - left - 20) / max(len(points) - 1, 1)
    body = []
    for tick in ticks(top):
        y = top_pad + plot_h - plot_h * tick / top
        body.append(f'<line x1="{left}" x2="{width - 4}" y1="{_px(y)}" y2="{_px(y)}" stroke="{GRID}"/>'
                    f'<text x="{left - 6}" y="{_px(y + 4)}" text-anchor="end" class="axis">'
                    f'{escape(axis(tick))}</text>')
    coords = [(left + 10 + step * i, top_pad + plot_h - Decimal(v) / top * plot_h)
              for i, (_, v) in enumerate(points)]
    if coords:
        path = " ".join(f"{_px(x)},{_px(y)}" for x, y in coords)
        body.append(f'<polyline points="{path}" fill="none" stroke="{color}" stroke-width="2.5"/>')
    every = max(1, -(-len(points) * 44 // (width - left)))  # keep date labels about 44 px apart
    for i, ((name, value), (x, y)) in enumerate(zip(points, coords, strict=True)):
        body.append(f'<g><title>{escape(name)}: {escape(axis(Decimal(value)))}</title>'
                    f'<circle cx="{_px(x)}" cy="{_px(y)}" r="4" fill="#fff" stroke="{color}" '
                    f'stroke-width="2"/></g>')
        if i % every == 0:
            body.append(f'<text x="{_px(x)}" y="{height - bottom + 16}" text-anchor="middle" '
                        f'class="axis">{escape(name)}</text>')
    return _svg(width, height, label, body)


def legend(items: Sequence[tuple[str, str]]) -> Markup:
    """A colour legend as HTML (wraps on narrow screens, unlike SVG text)."""
    spans = "".join(f'<span class="key"><i style="background:{c}"></i>{escape(n)}</span>' for n, c in items)
    return Markup(f'<div class="legend">{spans}</div>')
