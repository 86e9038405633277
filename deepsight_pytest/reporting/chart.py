"""Geometry of the card's inline SVG chart: panels of horizontal bars with 95% interval whiskers.

No plotting library: the card must open offline and under a strict CSP, so the chart is plain
SVG elements whose positions are computed here and drawn by the template (text autoescaped).
One row per benchmark x category; one panel per measure (harm, over-refusal); one bar per series
(the run, or runs A and B on the compare card).
"""
from __future__ import annotations

from dataclasses import dataclass

from deepsight_pytest.reporting.aggregate import Rate

LABEL_W = 250
PANEL_W = 330
BAR_SPAN = 230  # the rest of a panel holds the value text
GAP = 24
BAR_H = 11
ROW_PAD = 7
TOP = 40
LABEL_CHARS = 38


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    css: str  # colour class
    text: str  # value shown beside the bar
    text_x: float
    title: str  # tooltip
    ci: tuple[float, float] | None  # whisker x positions


@dataclass(frozen=True)
class Panel:
    title: str
    x: float
    ticks: tuple[tuple[float, str], ...]


@dataclass(frozen=True)
class Label:
    y: float
    text: str
    title: str


@dataclass(frozen=True)
class Chart:
    width: float
    height: float
    panels: tuple[Panel, ...]
    labels: tuple[Label, ...]
    bars: tuple[Bar, ...]
    bands: tuple[tuple[float, float], ...]  # (y, height) of every other row, for readability
    axis_bottom: float


def build_chart(labels: list[str], panels: list[tuple[str, str, list[list[Rate | None]]]],
                series: list[str]) -> Chart:
    """``panels`` holds (title, css, rates[row][series]); None draws "n/a" (no such cases)."""
    row_h = ROW_PAD * 2 + BAR_H * len(series)
    out_panels, bars, out_labels, bands = [], [], [], []
    for p, (title, css, rates) in enumerate(panels):
        x0 = LABEL_W + p * (PANEL_W + GAP)
        ticks = tuple((x0 + BAR_SPAN * t / 4, f"{25 * t}%") for t in range(5))
        out_panels.append(Panel(title, x0, ticks))
        for r, row in enumerate(rates):
            for s, rate in enumerate(row):
                y = TOP + r * row_h + ROW_PAD + s * BAR_H
                colour = f"{css} s{s}" + (" only" if len(series) == 1 else "")
                bars.append(_bar(x0, y, rate, colour, series[s], title, labels[r]))
    for r, label in enumerate(labels):
        y = TOP + r * row_h
        text = label if len(label) <= LABEL_CHARS else label[: LABEL_CHARS - 1] + "…"
        out_labels.append(Label(y + row_h / 2 + 4, text, label))
        if r % 2 == 0:
            bands.append((y, row_h))
    height = TOP + len(labels) * row_h
    width = LABEL_W + len(panels) * (PANEL_W + GAP)
    return Chart(width, height + 8, tuple(out_panels), tuple(out_labels), tuple(bars), tuple(bands), height)


def _bar(x0: float, y: float, rate: Rate | None, css: str, series: str, panel: str, label: str) -> Bar:
    who = f"{label}: {panel}" + (f" ({series})" if series else "")
    if rate is None or rate.share is None:
        return Bar(x0, y + 1, 0.0, BAR_H - 2, css, "n/a", x0 + 4, f"{who}: no such cases", None)
    low, high = rate.interval
    return Bar(x0, y + 1, max(BAR_SPAN * rate.share, 1.0), BAR_H - 2, css,
               f"{100 * rate.share:.0f}% ({rate.count}/{rate.n})", x0 + BAR_SPAN + 6,
               f"{who}: {rate.count}/{rate.n} = {100 * rate.share:.1f}%, 95% CI [{100 * low:.1f}%, {100 * high:.1f}%]",
               (x0 + BAR_SPAN * low, x0 + BAR_SPAN * high))
