"""The server-drawn charts: bars where the figures say, each with its figure in words
for screen readers and tooltips."""

from __future__ import annotations

import re

from loyalty_web.design.charts import signed_bars


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
