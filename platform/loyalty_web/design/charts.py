"""Charts drawn on the server as accessible SVG: no chart library, no script, no
asset from anywhere. A chart carries a title and a description for screen
readers, and the page shows the same numbers in a table next to it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from html import escape

WIDTH, HEIGHT = 640, 200
PAD_LEFT, PAD_BOTTOM, PAD_TOP = 48, 24, 12


@dataclass(frozen=True)
class Series:
    label: str
    values: Sequence[int]
    css_class: str


def _nice_max(value: int) -> int:
    if value <= 0:
        return 1
    magnitude = 10 ** (len(str(value)) - 1)
    for step in (1, 2, 5, 10):
        if value <= step * magnitude:
            return step * magnitude
    return value


def daily_bars(title: str, days: Sequence[date], series: Sequence[Series]) -> str:
    """Grouped bars per day for one or two series, as an inline SVG string."""
    top = _nice_max(max((max(s.values, default=0) for s in series), default=0))
    plot_w = WIDTH - PAD_LEFT - 8
    plot_h = HEIGHT - PAD_BOTTOM - PAD_TOP
    slot = plot_w / max(len(days), 1)
    bar = max(slot / (len(series) + 1), 1.0)
    parts = [
        f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
        f'aria-labelledby="chart-title chart-desc" xmlns="http://www.w3.org/2000/svg">',
        f'<title id="chart-title">{escape(title)}</title>',
        '<desc id="chart-desc">'
        + escape(
            "; ".join(
                f"{s.label}: {sum(s.values)} in all, highest {max(s.values, default=0)}"
                for s in series
            )
        )
        + "</desc>",
    ]
    # Gridlines at 0, half and the top, labelled only where the label is a whole number.
    for fraction in (0, 0.5, 1):
        if fraction == 0.5 and top % 2:
            continue
        y = PAD_TOP + plot_h * (1 - fraction)
        parts.append(
            f'<line class="chart-grid" x1="{PAD_LEFT}" x2="{WIDTH - 8}" y1="{y:.1f}" y2="{y:.1f}"/>'
        )
        parts.append(
            f'<text class="chart-axis" x="{PAD_LEFT - 6}" y="{y + 4:.1f}" text-anchor="end">'
            f"{int(top * fraction)}</text>"
        )
    for i, day in enumerate(days):
        x0 = PAD_LEFT + i * slot + bar / 2
        for j, s in enumerate(series):
            value = s.values[i] if i < len(s.values) else 0
            h = plot_h * value / top
            parts.append(
                f'<rect class="{s.css_class}" x="{x0 + j * bar:.1f}" '
                f'y="{PAD_TOP + plot_h - h:.1f}" width="{bar:.1f}" height="{h:.1f}">'
                f"<title>{escape(s.label)} {day.isoformat()}: {value}</title></rect>"
            )
        # A date under every seventh day counted back from the last, so today is labelled.
        if (len(days) - 1 - i) % 7 == 0:
            parts.append(
                f'<text class="chart-axis" x="{x0 + bar:.1f}" y="{HEIGHT - 6}" '
                f'text-anchor="middle">{day:%d %b}</text>'
            )
    parts.append("</svg>")
    return "".join(parts)
