"""Line charts drawn on the server as SVG: a pure function from points to markup, so a page
shows its curves without JavaScript and the live updates send the same markup again.

The SVG carries its own title and a description naming every point (what a screen reader
reads); colours are presentation attributes, not inline styles, which the dashboard's
Content-Security-Policy forbids. Every text is escaped; every point lies in the viewBox
(values too large to place, or not finite, are left out and the description says so)."""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from html import escape as _escape

WIDTH, HEIGHT = 480, 240
LEFT, RIGHT, TOP, BOTTOM = 64, 16, 16, 48  # room for the tick labels and axis names
LIMIT = 1e15  # larger magnitudes are left out: their differences lose all precision
COLOURS = ("#1f5fa8", "#b3541e", "#2e7d32", "#6a3d9a")  # one per series, in order
TICKS = 5  # about this many on each axis
NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
Place = Callable[[float, float], tuple[float, float]]  # data to SVG coordinates


@dataclass(frozen=True)
class Series:
    """One line: a name for the legend and (x, y) points, drawn in order of x."""

    name: str
    points: Sequence[tuple[float, float]]


def line_chart(
    series: Sequence[Series], *, title: str, x_label: str, y_label: str, ident: str = "chart",
    width: int = WIDTH, height: int = HEIGHT, integer_x: bool = True,
) -> str:  # fmt: skip
    """The SVG of `series` on shared axes with ticks and names. `ident` keeps the ids of
    two charts on one page apart; `integer_x` puts x ticks on whole numbers (rounds)."""
    drawn = [Series(s.name, sorted(p for p in s.points if _placeable(p))) for s in series]
    points = [p for s in drawn for p in s.points]
    left_out = sum(len(s.points) for s in series) - len(points)
    xs, ys = _axis([p[0] for p in points], integer_x), _axis([p[1] for p in points], False)
    plot = (LEFT, TOP, width - RIGHT, height - BOTTOM)

    def place(x: float, y: float) -> tuple[float, float]:
        return (_scale(x, xs, plot[0], plot[2]), _scale(y, ys, plot[3], plot[1]))

    tid, did = escape(f"{ident}-title"), escape(f"{ident}-desc")
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
        f'width="{width}" height="{height}" role="img" aria-labelledby="{tid} {did}" '
        f'class="chart" font-family="sans-serif" font-size="12">',
        f'<title id="{tid}">{escape(title)}</title>',
        f'<desc id="{did}">{escape(_describe(drawn, x_label, y_label, left_out))}</desc>',
        f'<g class="axes" stroke="#555" fill="none"><path d="M{plot[0]} {plot[1]}V{plot[3]}'
        f'H{plot[2]}"/></g>',
    ]
    out += _ticks(xs, ys, plot, integer_x)
    out.append(f'<text x="{(plot[0] + plot[2]) / 2:g}" y="{height - 8}" text-anchor="middle" '
               f'fill="#222">{escape(x_label)}</text>')  # fmt: skip
    middle = (plot[1] + plot[3]) / 2
    out.append(f'<text x="14" y="{middle:g}" text-anchor="middle" fill="#222" '
               f'transform="rotate(-90 14 {middle:g})">{escape(y_label)}</text>')  # fmt: skip
    if not points:
        out.append(f'<text x="{(plot[0] + plot[2]) / 2:g}" y="{middle:g}" text-anchor="middle" '
                   'fill="#555">No points yet.</text>')  # fmt: skip
    for number, line in enumerate(drawn):
        out += _line(line, COLOURS[number % len(COLOURS)], place, number, plot, len(drawn))
    out.append("</svg>")
    return "\n".join(out)


def escape(text: str) -> str:
    """Text as SVG may carry it: markup escaped, characters XML cannot hold left out."""
    return _escape(NOT_XML.sub("", text))


def _placeable(point: tuple[float, float]) -> bool:
    return all(math.isfinite(v) and abs(v) <= LIMIT for v in point)


def _axis(values: list[float], integer: bool) -> tuple[float, float, float]:
    """(low, high, tick step) of an axis holding `values`: whole steps of 1, 2 or 5 times a
    power of ten, widened so no value sits outside, and never empty."""
    low, high = (min(values), max(values)) if values else (0.0, 1.0)
    if not high - low > 1e-9 * max(1.0, abs(low), abs(high)):  # one point, a constant
        pad = max(abs(low) * 0.1, 1.0 if integer else 0.05)
        low, high = low - pad, high + pad
    raw = (high - low) / (TICKS - 1)
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 5, 10) if m * power >= raw)
    if integer:
        step = max(1.0, math.ceil(step))
    low, high = math.floor(low / step) * step, math.ceil(high / step) * step
    return low, (high if high > low else low + step), step


def _scale(value: float, axis: tuple[float, float, float], start: float, end: float) -> float:
    low, high, _ = axis
    return round(start + (value - low) / (high - low) * (end - start), 2)


def _ticks(xs: tuple[float, float, float], ys: tuple[float, float, float],
           plot: tuple[int, int, int, int], integer_x: bool) -> list[str]:  # fmt: skip
    out = ['<g class="ticks" fill="#222" stroke="none">']
    for value in _tick_values(xs):
        x = _scale(value, xs, plot[0], plot[2])
        label = f"{value:.0f}" if integer_x else _number(value)
        out.append(f'<path d="M{x} {plot[3]}v4" stroke="#555"/><text x="{x}" '
                   f'y="{plot[3] + 16}" text-anchor="middle">{escape(label)}</text>')  # fmt: skip
    for value in _tick_values(ys):
        y = _scale(value, ys, plot[3], plot[1])
        out.append(f'<path d="M{plot[0] - 4} {y}h4" stroke="#555"/><text x="{plot[0] - 6}" '
                   f'y="{y + 4}" text-anchor="end">{escape(_number(value))}</text>')  # fmt: skip
    out.append("</g>")
    return out


def _tick_values(axis: tuple[float, float, float]) -> list[float]:
    low, high, step = axis
    count = min(round((high - low) / step), 4 * TICKS)  # a float step never runs away
    return [low + i * (high - low) / count for i in range(count + 1)] if count else [low]


def _number(value: float) -> str:
    text = f"{value:.4g}"
    return "0" if text == "-0" else text


def _line(line: Series, colour: str, place: Place, number: int,
          plot: tuple[int, int, int, int], lines: int) -> list[str]:  # fmt: skip
    spots = [(place(x, y), (x, y)) for x, y in line.points]
    out = [f'<g class="series series-{number}" stroke="{colour}" fill="{colour}">']
    if len(spots) > 1:
        path = " ".join(f"{sx},{sy}" for (sx, sy), _ in spots)
        out.append(f'<polyline points="{path}" fill="none" stroke-width="2"/>')
    for (sx, sy), (x, y) in spots:
        out.append(f'<circle cx="{sx}" cy="{sy}" r="3"><title>{escape(line.name)}: '
                   f"{escape(_number(x))}, {escape(_number(y))}</title></circle>")  # fmt: skip
    if lines > 1:  # a legend along the top, inside the plot
        x = plot[0] + 8 + number * 150
        out.append(f'<text x="{x}" y="{plot[1] + 12}" stroke="none">'
                   f"{escape(line.name[:24])}</text>")  # fmt: skip
    out.append("</g>")
    return out


def _describe(lines: list[Series], x_label: str, y_label: str, left_out: int) -> str:
    parts = []
    for line in lines:
        shown = "; ".join(f"{_number(x)}: {_number(y)}" for x, y in line.points)
        parts.append(f"{line.name} ({x_label}: {y_label}): {shown or 'no points'}.")
    if left_out:
        parts.append(f"{left_out} point(s) too large or not a number, not drawn.")
    return " ".join(parts) or "No points yet."
