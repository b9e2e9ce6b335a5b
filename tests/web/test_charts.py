"""`dain.web.charts`: whatever the points, the SVG is well-formed XML, names itself, and
puts every drawn point inside its viewBox; text is escaped; no points, one point and a
constant line still draw axes with ticks."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from hypothesis import given, settings
from hypothesis import strategies as st

from dain.web.charts import LIMIT, NOT_XML, Series, line_chart

SVG = "{http://www.w3.org/2000/svg}"
values = st.floats(allow_nan=True, allow_infinity=True) | st.floats(-1e6, 1e6)
points = st.lists(st.tuples(values, values), max_size=30)
names = st.text(max_size=30)


def _drawn(svg: ET.Element) -> list[tuple[float, float]]:
    return [
        (float(c.get("cx", "nan")), float(c.get("cy", "nan"))) for c in svg.iter(f"{SVG}circle")
    ]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(names, points), max_size=4), names, names, st.booleans())
def test_any_points_give_well_formed_svg_with_every_point_in_the_view(
    lines: list[tuple[str, list[tuple[float, float]]]], title: str, label: str, integer: bool
) -> None:
    markup = line_chart([Series(n, p) for n, p in lines], title=title, x_label=label,
                        y_label=label, integer_x=integer)  # fmt: skip

    svg = ET.fromstring(markup)  # well-formed, or this raises

    _, _, width, height = (float(v) for v in svg.get("viewBox", "").split())
    placeable = [
        p for _, ps in lines for p in ps if all(abs(v) <= LIMIT for v in p)
    ]  # fmt: skip (NaN compares False)
    drawn = _drawn(svg)
    assert len(drawn) == len(placeable)
    assert all(0 <= x <= width and 0 <= y <= height for x, y in drawn)
    kept = NOT_XML.sub("", title).replace("\r\n", "\n").replace("\r", "\n")  # as XML reads it
    assert (svg.find(f"{SVG}title").text or "") == kept
    assert svg.get("role") == "img" and svg.get("aria-labelledby")


def test_text_is_escaped_not_markup() -> None:
    evil = '</title><script>alert(1)</script>&"'

    markup = line_chart([Series(evil, [(1, 0.5)])], title=evil, x_label=evil, y_label=evil)

    svg = ET.fromstring(markup)
    assert svg.find(f"{SVG}title").text == evil
    assert "<script" not in markup and not list(svg.iter(f"{SVG}script"))


def test_no_point_one_point_and_a_constant_draw_axes_and_ticks() -> None:
    for given_points, drawn in (([], 0), ([(1, 0.8)], 1), ([(1, 2.0), (2, 2.0), (3, 2.0)], 3)):
        svg = ET.fromstring(line_chart([Series("s", given_points)], title="t", x_label="round",
                                       y_label="y"))  # fmt: skip
        ticks = [t.text for t in svg.iter(f"{SVG}text")]

        assert len(_drawn(svg)) == drawn
        assert "round" in ticks and "y" in ticks and len(ticks) >= 6
        if not given_points:
            assert "No points yet." in ticks
    ends = _drawn(ET.fromstring(line_chart([Series("s", [(1, 0.0), (3, 1.0)])], title="t",
                                           x_label="x", y_label="y")))  # fmt: skip
    assert ends[0][0] < ends[1][0] and ends[0][1] > ends[1][1]  # right is later, up is more


def test_the_description_names_every_point() -> None:
    svg = ET.fromstring(line_chart([Series("accuracy", [(1, 0.5), (2, 0.75)])], title="t",
                                   x_label="round", y_label="accuracy"))  # fmt: skip

    assert svg.find(f"{SVG}desc").text == "accuracy (round: accuracy): 1: 0.5; 2: 0.75."
