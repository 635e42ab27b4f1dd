"""Charts as SVG drawn on the server: a report reads and prints without any JavaScript.

Each chart is a plain `<svg>` with a title for screen readers; colours come from the report's
stylesheet through class names, so the print stylesheet can change them.
"""

from collections.abc import Sequence
from dataclasses import dataclass

from markupsafe import Markup, escape

WIDTH = 640
LABEL_WIDTH = 170
VALUE_WIDTH = 90
BAR_HEIGHT = 16
BAR_GAP = 6
LINE_HEIGHT = 180
LINE_MARGIN = 36


@dataclass(frozen=True)
class Bar:
    label: str
    value: float
    shown: str


@dataclass(frozen=True)
class Pair:
    label: str
    first: float
    second: float
    shown: str


def _svg(height: int, title: str, body: list[str]) -> Markup:
    head = (
        f'<svg class="chart" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {height}" '
        f'width="{WIDTH}" height="{height}" role="img" aria-label="{escape(title)}">'
        f"<title>{escape(title)}</title>"
    )
    return Markup(head + "".join(body) + "</svg>")


def _text(x: float, y: float, text: str, css: str = "label", anchor: str = "start") -> str:
    return (
        f'<text class="{css}" x="{x:.1f}" y="{y:.1f}" text-anchor="{anchor}">{escape(text)}</text>'
    )


def bars(rows: Sequence[Bar], title: str, *, top: float | None = None) -> Markup:
    """Horizontal bars, one a row, scaled to the largest value (or `top`)."""
    largest = top if top is not None else max((row.value for row in rows), default=0.0)
    span = WIDTH - LABEL_WIDTH - VALUE_WIDTH
    body = []
    for index, row in enumerate(rows):
        y = index * (BAR_HEIGHT + BAR_GAP)
        length = span * row.value / largest if largest > 0 else 0.0
        body.append(_text(0, y + BAR_HEIGHT - 4, row.label[:28]))
        body.append(
            f'<rect class="bar" x="{LABEL_WIDTH}" y="{y}" width="{length:.1f}" '
            f'height="{BAR_HEIGHT}"/>'
        )
        body.append(_text(LABEL_WIDTH + length + 4, y + BAR_HEIGHT - 4, row.shown, "value"))
    return _svg(max(1, len(rows)) * (BAR_HEIGHT + BAR_GAP), title, body)


def pairs(rows: Sequence[Pair], title: str, first: str, second: str) -> Markup:
    """Two bars a row on one scale of 0 to 1 (shares): `first` above, `second` below."""
    span = WIDTH - LABEL_WIDTH - VALUE_WIDTH
    row_height = 2 * BAR_HEIGHT + BAR_GAP + 4
    legend = 22
    body = [
        '<rect class="bar" x="0" y="2" width="12" height="12"/>',
        _text(16, 12, first),
        f'<rect class="bar second" x="{WIDTH // 2}" y="2" width="12" height="12"/>',
        _text(WIDTH // 2 + 16, 12, second),
    ]
    for index, row in enumerate(rows):
        y = legend + index * row_height
        body.append(_text(0, y + BAR_HEIGHT + 2, row.label[:28]))
        for offset, value, css in ((0, row.first, "bar"), (BAR_HEIGHT, row.second, "bar second")):
            body.append(
                f'<rect class="{css}" x="{LABEL_WIDTH}" y="{y + offset}" '
                f'width="{span * max(0.0, min(1.0, value)):.1f}" height="{BAR_HEIGHT - 2}"/>'
            )
        body.append(_text(WIDTH - VALUE_WIDTH + 4, y + BAR_HEIGHT + 2, row.shown, "value"))
    return _svg(legend + max(1, len(rows)) * row_height, title, body)


def lines(
    points: Sequence[tuple[str, float, float]], title: str, first: str, second: str
) -> Markup:
    """Two series on a scale of 0 to 1 over time: each point is (time label, first, second)."""
    left, right, top, bottom = LINE_MARGIN, WIDTH - 10, 24, LINE_HEIGHT - 24
    body = [
        f'<line class="axis" x1="{left}" y1="{bottom}" x2="{right}" y2="{bottom}"/>',
        f'<line class="axis" x1="{left}" y1="{top}" x2="{left}" y2="{bottom}"/>',
        _text(left - 4, top + 4, "1", "value", "end"),
        _text(left - 4, bottom, "0", "value", "end"),
        f'<rect class="bar" x="{left}" y="4" width="12" height="4"/>',
        _text(left + 16, 10, first),
        f'<rect class="bar second" x="{WIDTH // 2}" y="4" width="12" height="4"/>',
        _text(WIDTH // 2 + 16, 10, second),
    ]
    count = len(points)

    def x(index: int) -> float:
        return left + (right - left) * (index / (count - 1) if count > 1 else 0.5)

    def y(value: float) -> float:
        return bottom - (bottom - top) * max(0.0, min(1.0, value))

    for values, css in (
        ([p[1] for p in points], "series"),
        ([p[2] for p in points], "series second"),
    ):
        path = " ".join(f"{x(i):.1f},{y(value):.1f}" for i, value in enumerate(values))
        if path:
            body.append(f'<polyline class="{css}" points="{path}"/>')
    for index in sorted({0, count // 2, count - 1}) if count else []:
        body.append(_text(x(index), LINE_HEIGHT - 8, points[index][0], "value", "middle"))
    return _svg(LINE_HEIGHT, title, body)
