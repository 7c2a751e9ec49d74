"""The server-drawn charts: bars where the figures say, each with its figure in words
for screen readers and tooltips."""

from __future__ import annotations

import re
from decimal import Decimal

from loyalty_web.design.charts import Series, grouped_bars, rate_line, signed_bars


def _bars(svg: str) -> list[tuple[str, float, float]]:
    """(class, y, height) of each bar."""
    return [
        (css, float(y), float(h))
        for css, y, h in re.findall(
            r'<rect class="([^"]+)" x="[^"]+" y="([^"]+)" width="[^"]+" height="([^"]+)"', svg
        )
    ]


def test_signed_bars_draw_positive_up_and_negative_down_from_one_zero_line() -> None:
    svg = signed_bars("Who paid", ["1", "2", "3"], [500, -250, 0], text=lambda v: f"{v} EUR")
    bars = _bars(svg)
    # then the positive bar ends where the negative one starts (the zero line),
    # and its height is twice the negative one's, as 500 is to 250
    (up_css, up_y, up_h), (down_css, down_y, down_h), (_zero_css, _zero_y, zero_h) = bars
    assert (up_css, down_css) == ("bar-a", "bar-b")
    assert up_y + up_h == down_y
    assert up_h == 2 * down_h
    assert zero_h == 0
    # and every figure is in words, for screen readers and tooltips
    assert "1: 500 EUR; 2: -250 EUR; 3: 0 EUR" in svg
    assert "<title>2: -250 EUR</title>" in svg


def test_signed_bars_with_only_negative_values_hang_from_the_top() -> None:
    svg = signed_bars("Paid to you", ["7", "8"], [-100, -50])
    bars = _bars(svg)
    assert {css for css, _y, _h in bars} == {"bar-b"}
    assert bars[0][1] == bars[1][1]  # both start at the zero line
    assert bars[0][2] == 2 * bars[1][2]


def test_signed_bars_escape_labels() -> None:
    svg = signed_bars("<t>", ["<b>"], [1])
    assert "<b>" not in svg.replace("<svg", "").split("</title>", 1)[1]
    assert "&lt;b&gt;" in svg


def test_grouped_bars_label_every_slot_and_scale_each_bar_to_its_value() -> None:
    svg = grouped_bars(
        "Per month",
        ["Jan", "Feb"],
        [Series("Issued", [400, 100], "bar-a"), Series("Redeemed", [200, -50], "bar-b")],
        text=lambda v: f"{v} pts",
    )
    bars = _bars(svg)
    # then four bars, issued then redeemed in each month, heights in proportion
    assert [css for css, _y, _h in bars] == ["bar-a", "bar-b", "bar-a", "bar-b"]
    heights = [h for _css, _y, h in bars]
    assert heights[0] == 2 * heights[1] == 4 * heights[2]
    # a net below zero draws no bar, but its figure is in words
    assert heights[3] == 0
    assert "<title>Redeemed Feb: -50 pts</title>" in svg
    assert "Issued: Jan 400 pts, Feb 100 pts; Redeemed: Jan 200 pts, Feb -50 pts" in svg
    assert svg.count('text-anchor="middle">') == 2


def test_rate_line_puts_a_dot_per_rate_on_a_scale_to_the_next_tenth() -> None:
    svg = rate_line(
        "Breakage", ["Jan", "Feb", "Mar"], [Decimal("0.25"), Decimal(0), Decimal("0.125")]
    )
    dots = [float(y) for y in re.findall(r'<circle class="chart-dot" cx="[^"]+" cy="([^"]+)"', svg)]
    # the scale tops at 0.3: the first dot is five sixths up, the second on the floor
    floor = dots[1]
    assert floor > dots[2] > dots[0]
    assert round((floor - dots[0]) / (floor - dots[2]), 2) == 2.0  # to the drawn tenth
    assert '<text class="chart-axis" x="42" y="16.0" text-anchor="end">0.3</text>' in svg
    assert "Jan: 0.25; Feb: 0; Mar: 0.125" in svg
    assert svg.count("<polyline") == 1


def test_rate_line_with_no_breakage_still_has_a_scale() -> None:
    svg = rate_line("Breakage", ["Jan"], [Decimal(0)])
    assert ">0.1</text>" in svg
    assert "nan" not in svg.lower()
