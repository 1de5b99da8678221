"""Server-rendered charts: inline SVG that obeys the strict CSP, with an accessible name and its data."""
from __future__ import annotations

import re

import pytest

from survey_engine.web import charts


def _check_svg(chart: charts.Chart) -> str:
    svg = str(chart.svg)
    assert svg.startswith("<svg") and svg.rstrip().endswith("</svg>")
    assert "style=" not in svg and "<style" not in svg, "inline styles are blocked by style-src 'self'"
    assert "<?xml" not in svg and "<metadata" not in svg
    assert not re.search(r'<svg[^>]*\s(width|height)=', svg), "the SVG must scale to its container"
    labelled = re.search(r'<svg[^>]*role="img"[^>]*aria-labelledby="([^"]+)"', svg)
    title_id, desc_id = labelled.group(1).split()
    assert f'<title id="{title_id}">{chart.title}</title>' in svg
    assert f'<desc id="{desc_id}">' in svg
    return svg


def test_style_declarations_become_presentation_attributes():
    raw = ('<?xml version="1.0"?>\n<svg width="10pt" height="5pt" viewBox="0 0 10 5"><metadata>x</metadata>'
           '<defs><style type="text/css">*{stroke-linejoin: round; stroke-linecap: butt}</style></defs>'
           '<g id="figure_1"><path d="M0 0" style="fill: #ffffff; stroke: #000000; stroke-width: 0.8"/>'
           '<text style="font-size: 10px; font-family: \'DejaVu Sans\', sans-serif; text-anchor: middle">a &lt; b</text></g></svg>')
    svg = charts.svg_without_styles(raw, "T & co", "D")
    assert '<path d="M0 0" fill="#ffffff" stroke="#000000" stroke-width="0.8"/>' in svg
    assert 'font-family="\'DejaVu Sans\', sans-serif"' in svg and 'text-anchor="middle"' in svg
    assert 'stroke-linejoin="round" stroke-linecap="butt"' in svg.split(">", 1)[0]
    assert "T &amp; co" in svg and 'id="figure_1"' not in svg and "<defs>" not in svg


def test_an_unknown_style_property_is_an_error_not_a_silent_loss():
    with pytest.raises(ValueError, match="transform-box"):
        charts.svg_without_styles('<svg viewBox="0 0 1 1"><g style="transform-box: fill-box"/></svg>', "t", "d")


def test_scree_chart_has_both_lines_and_its_numbers():
    chart = charts.scree_chart([4.1, 2.2, 1.1, 0.3, 0.1], [0.9, 0.7, 0.5, 0.4, 0.3], 3, 3, correlation="polychoric")
    svg = _check_svg(chart)
    assert "Parallel analysis (95% of resampled)" in svg and "3 extracted" in svg
    assert chart.rows[2] == (3, 1.1, 0.5, "yes") and chart.rows[3][-1] == "no"
    assert "parallel analysis suggests 3 factor(s)" in chart.description


def test_heatmap_writes_every_value_and_labels():
    chart = charts.heatmap([[0.81, -0.12], [0.05, 0.66]], ["ch1 I value craft", "es1 Status"], ["heritage", "status"],
                           title="Loadings", description="d", diverging=True, row_header="Item")
    svg = _check_svg(chart)
    for text in ("0.81", "-0.12", "0.66", "ch1 I value craft", "heritage"):
        assert text in svg
    assert chart.columns == ("Item", "heritage", "status")
    assert chart.rows[0] == ("ch1 I value craft", "0.81", "-0.12")


def test_bar_time_and_scatter_charts():
    bars = charts.bar_chart(["Invited", "Completed"], [120, 80], title="Funnel", description="d",
                            extra_columns=("Share",), extra=[("100%",), ("67%",)])
    assert "Invited" in _check_svg(bars) and bars.rows[1] == ("Completed", "80", "67%")
    lines = charts.time_chart(["2025-01", "2025-02"], {"Invited": [3, 5], "Completed": [1, 4]}, title="Time",
                              description="d")
    assert "Completed" in _check_svg(lines) and lines.rows == (("2025-01", 3, 1), ("2025-02", 5, 4))
    points = charts.scatter_map([0, 1, 2, 3], [1, 0, 1, 0], ["a", "b", "a", "b"], title="Map", description="d",
                                x_label="PC1", y_label="PC2", group_order=["b", "a", "c"])
    assert "a (2)" in _check_svg(points)
    assert points.rows == (("b", 2, 2.0, 0.0), ("a", 2, 1.0, 1.0))


def test_the_same_data_is_drawn_once():
    first = charts.bar_chart(["x"], [1.0], title="Cached", description="d")
    assert charts.bar_chart(["x"], [1.0], title="Cached", description="d") is first
    assert charts.bar_chart(["x"], [2.0], title="Cached", description="d") is not first
