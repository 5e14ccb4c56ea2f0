"""The SVG chart builder of the dashboard (shared/admin_pages/charts.py): well-formed,
accessible, scaled to its data, and inert whatever the labels say."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from shared.admin_pages import charts

NS = "{http://www.w3.org/2000/svg}"


def _svg(points, **kw):
    svg = charts.bar_chart(
        chart_id=kw.pop("chart_id", "c1"),
        title=kw.pop("title", "Watch time per day"),
        x_label="day",
        y_label="minutes",
        points=points,
        **kw,
    )
    return svg, ET.fromstring(svg)


@pytest.mark.parametrize(
    ("maximum", "ticks"),
    [
        (10, [0, 2.5, 5, 7.5, 10]),
        (7, [0, 2, 4, 6, 8]),
        (1234, [0, 500, 1000, 1500]),
        (0.3, [0, 0.1, 0.2, 0.3]),
        (0, [0, 1]),
        (-4, [0, 1]),
        (float("nan"), [0, 1]),
    ],
)
def test_nice_ticks_are_round_and_cover_the_maximum(maximum, ticks):
    assert charts.nice_ticks(maximum) == ticks


def test_fmt():
    assert charts.fmt(1234) == "1,234"
    assert charts.fmt(12.25) == "12.2"
    assert charts.fmt(2_000_000) == "2M"
    assert charts.fmt(1_500_000) == "1.5M"


def test_a_chart_is_an_accessible_image_with_title_desc_and_axis_labels():
    _, root = _svg([("01-01", 3), ("01-02", 9), ("01-03", 0)])
    assert root.get("role") == "img"
    assert root.get("aria-labelledby") == "c1-title c1-desc"
    assert root.find(f"{NS}title").text == "Watch time per day"
    desc = root.find(f"{NS}desc").text
    assert "highest 9 on 01-02" in desc and "total 12" in desc
    labels = [t.text for t in root.iter(f"{NS}text") if t.get("class") == "axis-label"]
    assert labels == ["day", "minutes"]


def test_bar_heights_are_proportional_to_the_values():
    box = charts.Box()
    _, root = _svg([("a", 2), ("b", 4), ("c", 0)], box=box)
    bars = [r for r in root.iter(f"{NS}rect") if r.get("class") == "bar"]
    heights = [float(b.get("height")) for b in bars]
    assert heights[2] == 0
    assert heights[1] == pytest.approx(2 * heights[0])
    # the tallest bar reaches the top tick (4), which is the top of the plot
    assert heights[1] == pytest.approx(box.plot_h)
    assert [b.find(f"{NS}title").text for b in bars] == ["a: 2", "b: 4", "c: 0"]


def test_negative_and_non_finite_values_draw_as_zero():
    _, root = _svg([("a", -5), ("b", float("inf")), ("c", 1)])
    bars = [float(r.get("height")) for r in root.iter(f"{NS}rect") if r.get("class") == "bar"]
    assert bars[0] == 0 and bars[1] == 0 and bars[2] > 0


def test_no_points_is_an_empty_chart_not_an_error():
    _, root = _svg([])
    assert root.find(f"{NS}desc").text == "No data in this period."
    assert not [r for r in root.iter(f"{NS}rect") if r.get("class") == "bar"]


def test_many_days_thin_out_the_x_labels():
    points = [(f"01-{i:02d}", i) for i in range(1, 91)]
    _, root = _svg(points)
    x_labels = [
        t
        for t in root.iter(f"{NS}text")
        if t.get("class") is None and t.get("text-anchor") == "middle"
    ]
    assert 5 <= len(x_labels) < 90
    assert len([r for r in root.iter(f"{NS}rect") if r.get("class") == "bar"]) == 90


def test_labels_are_escaped_text_never_markup():
    svg, root = _svg([("<script>alert(1)</script>", 1)], title='"><img src=x onerror=1>')
    assert "<script>" not in svg and "<img" not in svg
    assert root.find(f"{NS}title").text == '"><img src=x onerror=1>'
    assert not list(root.iter(f"{NS}script"))


@pytest.mark.parametrize(
    ("kw"), [{"chart_id": 'x" onload="1'}, {"colour": "red; fill:url(javascript:1)"}]
)
def test_ids_and_colours_are_checked(kw):
    with pytest.raises(ValueError):
        _svg([("a", 1)], **kw)
