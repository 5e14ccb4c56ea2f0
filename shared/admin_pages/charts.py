"""Server-rendered SVG charts for the staff dashboard (pure: no I/O, no script).

An SVG is drawn from numbers with a few dozen elements; a chart library would add a dependency
and, client-side, script the pages' CSP forbids. Each chart is accessible on its own: the
<svg> is `role="img"` labelled by its <title> and <desc> (what it shows and its extremes), the
axes are labelled, and every bar carries its value as a <title>. The page puts a <table> of the
same numbers beside it for screen readers and copying.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

_ID = re.compile(r"^[a-z][a-z0-9-]{0,40}$")
_COLOUR = re.compile(r"^#[0-9a-fA-F]{6}$")


@dataclass(frozen=True)
class Box:
    width: int = 640
    height: int = 240
    left: int = 64  # room for the y tick labels and the y axis label
    right: int = 16
    top: int = 16
    bottom: int = 48  # room for the x tick labels and the x axis label

    @property
    def plot_w(self) -> int:
        return self.width - self.left - self.right

    @property
    def plot_h(self) -> int:
        return self.height - self.top - self.bottom


def nice_ticks(maximum: float, count: int = 4) -> list[float]:
    """0 and `count`-ish round steps (1, 2, 2.5, 5 x 10^n) whose last reaches `maximum`."""
    if not math.isfinite(maximum) or maximum <= 0:
        return [0.0, 1.0]
    raw = maximum / count
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 2.5, 5, 10) if m * power >= raw)
    n = math.ceil(maximum / step - 1e-9)
    return [round(i * step, 10) for i in range(n + 1)]


def fmt(value: float) -> str:
    """A tick or bar value as people read it: 1,234 / 12.5 / 1.2M."""
    if abs(value) >= 1_000_000:
        return f"{value / 1_000_000:.1f}M".replace(".0M", "M")
    if value == int(value):
        return f"{int(value):,}"
    return f"{value:,.1f}"


def _label_every(n: int, room: float, chars: int) -> int:
    """Show every k-th x label so that labels of `chars` characters do not overlap."""
    per_label = chars * 6.5 + 6
    return max(1, math.ceil(per_label / max(room, 1e-9))) if n else 1


def bar_chart(
    *,
    chart_id: str,
    title: str,
    x_label: str,
    y_label: str,
    points: Sequence[tuple[str, float]],
    colour: str = "#4f46e5",
    box: Box | None = None,
) -> str:
    """An SVG bar chart of `points` (label, value); values below zero are drawn as zero."""
    if not _ID.match(chart_id):
        raise ValueError("chart_id must be a short lowercase identifier")
    if not _COLOUR.match(colour):
        raise ValueError("colour must be #rrggbb")
    b = box or Box()
    values = [max(0.0, float(v)) if math.isfinite(float(v)) else 0.0 for _, v in points]
    ticks = nice_ticks(max(values, default=0.0))
    top = ticks[-1]
    n = len(points)
    slot = b.plot_w / n if n else b.plot_w
    bar_w = max(1.0, slot * 0.7)
    x0, y0 = b.left, b.top + b.plot_h  # the origin, bottom left of the plot

    def y(v: float) -> float:
        return y0 - (v / top) * b.plot_h if top else y0

    if n:
        hi = max(range(n), key=lambda i: values[i])
        desc = (
            f"{n} values from {points[0][0]} to {points[-1][0]};"
            f" highest {fmt(values[hi])} on {points[hi][0]}; total {fmt(sum(values))}."
        )
    else:
        desc = "No data in this period."
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" id="{chart_id}"'
        f' viewBox="0 0 {b.width} {b.height}" width="{b.width}" height="{b.height}"'
        f' role="img" aria-labelledby="{chart_id}-title {chart_id}-desc">',
        f'<title id="{chart_id}-title">{escape(title)}</title>',
        f'<desc id="{chart_id}-desc">{escape(desc)}</desc>',
        f'<rect x="0" y="0" width="{b.width}" height="{b.height}" fill="#ffffff"/>',
    ]
    for t in ticks:  # gridlines and y tick labels
        ty = round(y(t), 2)
        out.append(
            f'<line x1="{x0}" y1="{ty}" x2="{x0 + b.plot_w}" y2="{ty}"'
            ' stroke="#e5e7eb" stroke-width="1"/>'
        )
        out.append(
            f'<text x="{x0 - 6}" y="{ty + 4}" text-anchor="end" font-size="11"'
            f' fill="#374151">{escape(fmt(t))}</text>'
        )
    every = _label_every(n, slot, max((len(lbl) for lbl, _ in points), default=0))
    for i, ((label, _), v) in enumerate(zip(points, values, strict=True)):
        bx = round(x0 + i * slot + (slot - bar_w) / 2, 2)
        by = round(y(v), 2)
        out.append(
            f'<rect class="bar" x="{bx}" y="{by}" width="{round(bar_w, 2)}"'
            f' height="{round(y0 - by, 2)}" fill="{colour}">'
            f"<title>{escape(label)}: {escape(fmt(v))}</title></rect>"
        )
        if i % every == 0:
            out.append(
                f'<text x="{round(x0 + i * slot + slot / 2, 2)}" y="{y0 + 16}"'
                f' text-anchor="middle" font-size="11" fill="#374151">{escape(label)}</text>'
            )
    out += [
        f'<line x1="{x0}" y1="{y0}" x2="{x0 + b.plot_w}" y2="{y0}" stroke="#111827"/>',
        f'<line x1="{x0}" y1="{b.top}" x2="{x0}" y2="{y0}" stroke="#111827"/>',
        f'<text class="axis-label" x="{x0 + b.plot_w / 2}" y="{b.height - 6}"'
        f' text-anchor="middle" font-size="12" fill="#111827">{escape(x_label)}</text>',
        f'<text class="axis-label" x="14" y="{b.top + b.plot_h / 2}" text-anchor="middle"'
        f' font-size="12" fill="#111827"'
        f' transform="rotate(-90 14 {b.top + b.plot_h / 2})">{escape(y_label)}</text>',
        "</svg>",
    ]
    return "".join(out)
