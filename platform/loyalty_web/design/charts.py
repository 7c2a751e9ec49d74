"""Charts drawn on the server as accessible SVG: no chart library, no script, no
asset from anywhere. A chart carries a title and a description for screen
readers, and the page shows the same numbers in a table next to it."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_CEILING, Decimal
from html import escape

WIDTH, HEIGHT = 640, 200
PAD_LEFT, PAD_BOTTOM, PAD_TOP = 48, 24, 12
PLOT_W = WIDTH - PAD_LEFT - 8
PLOT_H = HEIGHT - PAD_BOTTOM - PAD_TOP


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


def _svg_start(title: str, description: str) -> list[str]:
    """The chart's opening tag, and its title and description for screen readers."""
    return [
        f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
        f'aria-labelledby="chart-title chart-desc" xmlns="http://www.w3.org/2000/svg">',
        f'<title id="chart-title">{escape(title)}</title>',
        f'<desc id="chart-desc">{escape(description)}</desc>',
    ]


def _gridline(y: float, label: str) -> list[str]:
    """A horizontal gridline at ``y`` and its label on the axis."""
    return [
        f'<line class="chart-grid" x1="{PAD_LEFT}" x2="{WIDTH - 8}" y1="{y:.1f}" y2="{y:.1f}"/>',
        f'<text class="chart-axis" x="{PAD_LEFT - 6}" y="{y + 4:.1f}" text-anchor="end">'
        f"{escape(label)}</text>",
    ]


def _whole_gridlines(top: int) -> list[tuple[float, int]]:
    """Gridlines at 0, half and the top of a bar chart, the half only where its label
    is a whole number: each line's height and value."""
    return [
        (PAD_TOP + PLOT_H * (1 - fraction), int(top * fraction))
        for fraction in (0, 0.5, 1)
        if not (fraction == 0.5 and top % 2)
    ]


def daily_bars(title: str, days: Sequence[date], series: Sequence[Series]) -> str:
    """Grouped bars per day for one or two series, as an inline SVG string."""
    top = _nice_max(max((max(s.values, default=0) for s in series), default=0))
    slot = PLOT_W / max(len(days), 1)
    bar = max(slot / (len(series) + 1), 1.0)
    parts = _svg_start(
        title,
        "; ".join(
            f"{s.label}: {sum(s.values)} in all, highest {max(s.values, default=0)}" for s in series
        ),
    )
    for y, value in _whole_gridlines(top):
        parts += _gridline(y, str(value))
    for i, day in enumerate(days):
        x0 = PAD_LEFT + i * slot + bar / 2
        for j, s in enumerate(series):
            value = s.values[i] if i < len(s.values) else 0
            h = PLOT_H * value / top
            parts.append(
                f'<rect class="{s.css_class}" x="{x0 + j * bar:.1f}" '
                f'y="{PAD_TOP + PLOT_H - h:.1f}" width="{bar:.1f}" height="{h:.1f}">'
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


def signed_bars(
    title: str,
    labels: Sequence[str],
    values: Sequence[int],
    *,
    text: Callable[[int], str] = str,
    up: str = "bar-a",
    down: str = "bar-b",
) -> str:
    """One bar per label from a zero line: positive values up (``up`` class), negative
    down (``down`` class), so "who pays whom" reads at a glance. ``text`` writes a
    value for the axis, the tooltips and the description (money, points)."""
    highest = _nice_max(max((abs(v) for v in values), default=0))
    has_up = any(v > 0 for v in values)
    has_down = any(v < 0 for v in values)
    # The zero line sits at the bottom, the top or the middle, as the signs need.
    top_share = 0.5 if has_up and has_down else (0.0 if has_down else 1.0)
    zero_y = PAD_TOP + PLOT_H * top_share
    scale = PLOT_H * (0.5 if has_up and has_down else 1.0) / highest
    slot = PLOT_W / max(len(labels), 1)
    bar = max(min(slot * 0.6, 48.0), 1.0)
    description = "; ".join(
        f"{label}: {text(value)}" for label, value in zip(labels, values, strict=True)
    )
    parts = _svg_start(title, description)
    marks = [(zero_y, 0)]
    if has_up:
        marks.append((zero_y - highest * scale, highest))
    if has_down:
        marks.append((zero_y + highest * scale, -highest))
    for y, value in marks:
        parts += _gridline(y, text(value))
    for i, (label, value) in enumerate(zip(labels, values, strict=True)):
        x = PAD_LEFT + i * slot + (slot - bar) / 2
        h = abs(value) * scale
        y = zero_y - h if value > 0 else zero_y
        parts.append(
            f'<rect class="{up if value > 0 else down}" x="{x:.1f}" y="{y:.1f}" '
            f'width="{bar:.1f}" height="{h:.1f}">'
            f"<title>{escape(label)}: {escape(text(value))}</title></rect>"
        )
        parts.append(
            f'<text class="chart-axis" x="{x + bar / 2:.1f}" y="{HEIGHT - 6}" '
            f'text-anchor="middle">{escape(label)}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


def grouped_bars(
    title: str,
    labels: Sequence[str],
    series: Sequence[Series],
    *,
    text: Callable[[int], str] = str,
) -> str:
    """Grouped bars for a few series over a dozen or so labelled slots (months, say),
    every slot labelled under its group. ``text`` writes a value for the axis, the
    tooltips and the description."""
    top = _nice_max(max((max(s.values, default=0) for s in series), default=0))
    slot = PLOT_W / max(len(labels), 1)
    bar = max(slot / (len(series) + 1), 1.0)
    description = "; ".join(
        f"{s.label}: "
        + ", ".join(
            f"{label} {text(s.values[i] if i < len(s.values) else 0)}"
            for i, label in enumerate(labels)
        )
        for s in series
    )
    parts = _svg_start(title, description)
    for y, value in _whole_gridlines(top):
        parts += _gridline(y, text(value))
    for i, label in enumerate(labels):
        x0 = PAD_LEFT + i * slot + bar / 2
        for j, s in enumerate(series):
            value = s.values[i] if i < len(s.values) else 0
            h = PLOT_H * max(value, 0) / top  # a net below zero draws no bar; its title says it
            parts.append(
                f'<rect class="{s.css_class}" x="{x0 + j * bar:.1f}" '
                f'y="{PAD_TOP + PLOT_H - h:.1f}" width="{bar:.1f}" height="{h:.1f}">'
                f"<title>{escape(s.label)} {escape(label)}: {escape(text(value))}</title></rect>"
            )
        parts.append(
            f'<text class="chart-axis" x="{PAD_LEFT + (i + 0.5) * slot:.1f}" y="{HEIGHT - 6}" '
            f'text-anchor="middle">{escape(label)}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


def rate_line(
    title: str,
    labels: Sequence[str],
    rates: Sequence[Decimal],
    *,
    text: Callable[[Decimal], str] = str,
) -> str:
    """A line through rates (0 to 1) over labelled slots, a dot on each, the scale
    from 0 to the next tenth above the highest rate (at most 1). ``text`` writes a
    rate for the axis, the tooltips and the description (a percentage, say)."""
    highest = max(rates, default=Decimal(0))
    top = min(max((highest * 10).to_integral_value(ROUND_CEILING) / 10, Decimal("0.1")), Decimal(1))
    slot = PLOT_W / max(len(labels), 1)
    description = "; ".join(
        f"{label}: {text(value)}" for label, value in zip(labels, rates, strict=True)
    )
    parts = _svg_start(title, description)
    for fraction in (Decimal(0), Decimal("0.5"), Decimal(1)):
        parts += _gridline(PAD_TOP + PLOT_H * float(1 - fraction), text(top * fraction))
    points = [
        (PAD_LEFT + (i + 0.5) * slot, PAD_TOP + PLOT_H * (1 - float(value / top)))
        for i, value in enumerate(rates)
    ]
    if points:
        parts.append(
            '<polyline class="chart-line" fill="none" points="'
            + " ".join(f"{x:.1f},{y:.1f}" for x, y in points)
            + '"/>'
        )
    for (x, y), label, value in zip(points, labels, rates, strict=True):
        parts.append(
            f'<circle class="chart-dot" cx="{x:.1f}" cy="{y:.1f}" r="4">'
            f"<title>{escape(label)}: {escape(text(value))}</title></circle>"
        )
        parts.append(
            f'<text class="chart-axis" x="{x:.1f}" y="{HEIGHT - 6}" '
            f'text-anchor="middle">{escape(label)}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)
