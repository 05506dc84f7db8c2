"""Tiny inline-SVG plots for the offline audit report.

Every function returns one self-contained ``<svg>`` element as a string: no scripts,
no external fonts or images, a ``<title>`` (accessible name and tooltip) first, and
every piece of text escaped, so labels taken from logs (account ids, user agents)
cannot break out of the markup. Fonts and colours of text come from the page's CSS.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from html import escape

__all__ = [
    "Edge",
    "Node",
    "bar_chart",
    "circle_graph",
    "fmt_num",
    "histogram",
    "hour_profile",
    "timeline",
]

SVG_NS = "http://www.w3.org/2000/svg"
AXIS = "#6b7280"
BAR = "#3b82c4"
OVERLAY = "#b3261e"

# (node id, label, fill colour); the id is what edges refer to and what the tooltip shows.
Node = tuple[str, str, str]
# (node id a, node id b, weight in [0, 1], tooltip text)
Edge = tuple[str, str, float, str]


def _esc(text: object) -> str:
    return escape(str(text), quote=True)


def fmt_num(value: float) -> str:
    """Compact human number: ``950``, ``1.2k``, ``3.4M``, ``0.25``.

    Parameters
    ----------
    value : float
        Number to print.

    Returns
    -------
    str
    """
    if not math.isfinite(value):
        return "–"
    a = abs(value)
    if a >= 1e6:
        return f"{value / 1e6:.1f}M"
    if a >= 1e4:
        return f"{value / 1e3:.0f}k"
    if a >= 1e3:
        return f"{value / 1e3:.1f}k"
    if value == int(value):
        return str(int(value))
    return f"{value:.2g}" if a < 1 else f"{value:.1f}"


def _open(width: int, height: int, title: str, desc: str = "", cls: str = "chart") -> list[str]:
    parts = [
        f'<svg xmlns="{SVG_NS}" class="{cls}" viewBox="0 0 {width} {height}" '
        f'width="{width}" height="{height}" role="img" aria-label="{_esc(title)}">',
        f"<title>{_esc(title)}</title>",
    ]
    if desc:
        parts.append(f"<desc>{_esc(desc)}</desc>")
    return parts


def _text(x: float, y: float, text: object, anchor: str = "start", cls: str = "") -> str:
    c = f' class="{cls}"' if cls else ""
    return f'<text x="{x:.1f}" y="{y:.1f}" text-anchor="{anchor}"{c}>{_esc(text)}</text>'


def _rect(x: float, y: float, w: float, h: float, fill: str, tip: str = "") -> str:
    inner = f"<title>{_esc(tip)}</title>" if tip else ""
    return (
        f'<rect x="{x:.1f}" y="{y:.1f}" width="{max(w, 0):.1f}" height="{max(h, 0):.1f}" '
        f'fill="{_esc(fill)}">{inner}</rect>'
    )


def _scale(value: float, top: float, log: bool) -> float:
    """Value as a fraction of the plot height (log1p scale when ``log``)."""
    if top <= 0 or value <= 0:
        return 0.0
    if log:
        return math.log1p(value) / math.log1p(top)
    return value / top


def histogram(
    counts: Sequence[float],
    edges: Sequence[float],
    *,
    title: str,
    x_label: str,
    y_label: str = "accounts",
    log_y: bool = False,
    colors: Sequence[str] | None = None,
    width: int = 560,
    height: int = 220,
) -> str:
    """Vertical-bar histogram of pre-binned counts, each bar labelled with its count.

    Parameters
    ----------
    counts : sequence of float
        Count per bin.
    edges : sequence of float
        Bin edges, ``len(counts) + 1`` of them.
    title : str
        Accessible title (also the tooltip of the whole chart).
    x_label, y_label : str
        Axis captions.
    log_y : bool
        Scale bar heights by ``log1p`` so small bins next to a huge one stay visible.
    colors : sequence of str, optional
        Fill per bin (default one colour).
    width, height : int
        Size in pixels.

    Returns
    -------
    str
        An ``<svg>`` element.
    """
    left, right, top, bottom = 44, 10, 16, 38
    pw, ph = width - left - right, height - top - bottom
    n = max(len(counts), 1)
    peak = max(counts, default=0)
    scale_note = " (log scale)" if log_y else ""
    parts = _open(width, height, title, f"{y_label}{scale_note} per bin of {x_label}")
    parts.append(f'<g class="axis" stroke="{AXIS}" stroke-width="1">')
    parts.append(f'<line x1="{left}" y1="{top + ph}" x2="{left + pw}" y2="{top + ph}"/>')
    parts.append(f'<line x1="{left}" y1="{top}" x2="{left}" y2="{top + ph}"/></g>')
    bw = pw / n
    for i, c in enumerate(counts):
        h = ph * _scale(c, peak, log_y)
        x = left + i * bw
        fill = colors[i] if colors else BAR
        tip = f"{x_label} {fmt_num(edges[i])}–{fmt_num(edges[i + 1])}: {fmt_num(c)} {y_label}"
        parts.append(_rect(x + 1, top + ph - h, bw - 2, h, fill, tip))
        if c > 0:
            parts.append(_text(x + bw / 2, top + ph - h - 3, fmt_num(c), "middle", "val"))
    step = max(1, math.ceil(n / 10))
    for i in range(0, n + 1, step):
        x = left + i * bw
        parts.append(_text(x, top + ph + 13, fmt_num(edges[i]), "middle", "tick"))
    parts.append(_text(left + pw / 2, height - 6, x_label, "middle", "cap"))
    parts.append(
        f'<text class="cap" text-anchor="middle" transform="translate(11 {top + ph / 2:.1f}) '
        f'rotate(-90)">{_esc(y_label + scale_note)}</text>'
    )
    parts.append("</svg>")
    return "".join(parts)


def bar_chart(
    items: Sequence[tuple[str, float, str]],
    *,
    title: str,
    unit: str = "",
    width: int = 560,
    bar_height: int = 22,
    label_width: int = 110,
) -> str:
    """Horizontal bars, each with its label and value written out (not colour alone).

    Parameters
    ----------
    items : sequence of (label, value, colour)
        One bar each, drawn top to bottom.
    title : str
        Accessible title.
    unit : str
        Appended to each value label.
    width, bar_height, label_width : int
        Geometry in pixels.

    Returns
    -------
    str
        An ``<svg>`` element.
    """
    pad = 6
    height = max(len(items), 1) * (bar_height + pad) + pad
    value_w = 110
    pw = width - label_width - value_w
    peak = max((v for _, v, _ in items), default=0)
    parts = _open(width, height, title)
    for i, (label, value, color) in enumerate(items):
        y = pad + i * (bar_height + pad)
        w = pw * (value / peak) if peak > 0 else 0
        mid = y + bar_height / 2 + 4
        parts.append(_text(label_width - 6, mid, label, "end", "lab"))
        parts.append(
            _rect(
                label_width,
                y,
                max(w, 1 if value > 0 else 0),
                bar_height,
                color,
                f"{label}: {fmt_num(value)} {unit}".strip(),
            )
        )
        parts.append(
            _text(label_width + w + 5, mid, f"{fmt_num(value)} {unit}".strip(), "start", "val")
        )
    parts.append("</svg>")
    return "".join(parts)


def _path(values: Sequence[float], x0: float, y0: float, w: float, h: float, peak: float) -> str:
    """Step path across ``w`` pixels; baseline at ``y0 + h``."""
    n = max(len(values), 1)
    dx = w / n
    base = y0 + h
    pts = [f"M{x0:.1f},{base:.1f}"]
    for i, v in enumerate(values):
        y = base - h * (v / peak if peak > 0 else 0)
        pts.append(f"L{x0 + i * dx:.1f},{y:.1f}L{x0 + (i + 1) * dx:.1f},{y:.1f}")
    pts.append(f"L{x0 + w:.1f},{base:.1f}")
    return "".join(pts)


def timeline(
    values: Sequence[float],
    *,
    title: str,
    start_label: str,
    end_label: str,
    overlay: Sequence[float] | None = None,
    overlay_label: str = "",
    unit: str = "requests",
    width: int = 560,
    height: int = 86,
) -> str:
    """Activity over time: a filled step area, optionally with a dashed overlay line.

    Parameters
    ----------
    values : sequence of float
        One value per time bucket, oldest first.
    title : str
        Accessible title.
    start_label, end_label : str
        Captions of the first and last bucket (e.g. UTC timestamps).
    overlay : sequence of float, optional
        A second series on the same scale (e.g. chain-of-thought requests).
    overlay_label : str
        Legend text of the overlay.
    unit : str
        What the values count (for the legend and peak label).
    width, height : int
        Size in pixels.

    Returns
    -------
    str
        An ``<svg>`` element.
    """
    left, right, top, bottom = 6, 6, 16, 16
    pw, ph = width - left - right, height - top - bottom
    peak = max(max(values, default=0), max(overlay or [0], default=0))
    parts = _open(width, height, title)
    parts.append(
        f'<line x1="{left}" y1="{top + ph}" x2="{left + pw}" y2="{top + ph}" stroke="{AXIS}"/>'
    )
    if peak > 0:
        area = _path(values, left, top, pw, ph, peak) + "Z"
        parts.append(f'<path d="{area}" fill="{BAR}" fill-opacity="0.45" stroke="{BAR}"/>')
        if overlay is not None and any(v > 0 for v in overlay):
            line = _path(overlay, left, top, pw, ph, peak)
            parts.append(
                f'<path d="{line}" fill="none" stroke="{OVERLAY}" stroke-width="1.5" '
                f'stroke-dasharray="4 2"/>'
            )
    legend = f"peak {fmt_num(peak)} {unit}"
    parts.append(_text(left, 11, legend, "start", "tick"))
    if overlay is not None and overlay_label:
        lx = width - right - 8 * len(overlay_label) - 22
        parts.append(
            f'<line x1="{lx:.1f}" y1="7" x2="{lx + 18:.1f}" y2="7" stroke="{OVERLAY}" '
            f'stroke-width="1.5" stroke-dasharray="4 2"/>'
        )
        parts.append(_text(lx + 22, 11, overlay_label, "start", "tick"))
    parts.append(_text(left, height - 3, start_label, "start", "tick"))
    parts.append(_text(width - right, height - 3, end_label, "end", "tick"))
    parts.append("</svg>")
    return "".join(parts)


def hour_profile(counts: Sequence[float], *, title: str, width: int = 400, height: int = 90) -> str:
    """24 bars, one per UTC hour of the day.

    Parameters
    ----------
    counts : sequence of float
        24 counts, hour 0 first.
    title : str
        Accessible title.
    width, height : int
        Size in pixels.

    Returns
    -------
    str
        An ``<svg>`` element.
    """
    left, right, top, bottom = 4, 4, 6, 16
    pw, ph = width - left - right, height - top - bottom
    peak = max(counts, default=0)
    bw = pw / 24
    parts = _open(width, height, title)
    for h in range(24):
        c = counts[h] if h < len(counts) else 0
        bh = ph * _scale(c, peak, False)
        parts.append(
            _rect(left + h * bw + 0.5, top + ph - bh, bw - 1, bh, BAR, f"{h:02d}:00 UTC: {c:g}")
        )
    parts.append(
        f'<line x1="{left}" y1="{top + ph}" x2="{left + pw}" y2="{top + ph}" stroke="{AXIS}"/>'
    )
    for h in (0, 6, 12, 18):
        parts.append(_text(left + h * bw + bw / 2, height - 3, f"{h:02d}h", "middle", "tick"))
    parts.append(_text(width - right, height - 3, "UTC", "end", "tick"))
    parts.append("</svg>")
    return "".join(parts)


def _short(label: str, limit: int = 16) -> str:
    return label if len(label) <= limit else label[: limit - 1] + "…"


def _node_label(x: float, y: float, angle: float, label: str, n: int) -> str:
    """Label outside its node: horizontal for small graphs, radial for crowded ones."""
    cos, sin = math.cos(angle), math.sin(angle)
    lx, ly = x + 12 * cos, y + 12 * sin
    if n <= 1:
        return _text(x, y - 12, _short(label), "middle", "lab")
    if n <= 8:
        anchor = "middle" if abs(cos) < 0.3 else ("start" if cos > 0 else "end")
        return _text(lx, ly + 4 + 6 * sin, _short(label), anchor, "lab")
    deg = math.degrees(angle)
    anchor = "start"
    if cos < 0:  # keep text upright on the left half
        deg += 180
        anchor = "end"
    return (
        f'<text x="{lx:.1f}" y="{ly + 4:.1f}" text-anchor="{anchor}" class="lab" '
        f'transform="rotate({deg:.1f} {lx:.1f} {ly:.1f})">{_esc(_short(label, 14))}</text>'
    )


def _legend(items: Sequence[tuple[str, str]], y: float) -> list[str]:
    parts, x = [], 8.0
    for label, color in items:
        parts.append(_rect(x, y - 9, 10, 10, color))
        parts.append(_text(x + 14, y, label, "start", "tick"))
        x += 22 + 6.5 * len(label)
    return parts


def circle_graph(
    nodes: Sequence[Node],
    edges: Sequence[Edge],
    *,
    title: str,
    size: int = 340,
    legend: Sequence[tuple[str, str]] = (),
) -> str:
    """Nodes on a circle, edges as lines whose width follows the weight.

    Deterministic and force-free: node ``i`` of ``n`` sits at angle ``2 pi i / n``.
    Each node and edge carries a ``<title>`` tooltip (full id, link evidence).

    Parameters
    ----------
    nodes : sequence of (id, label, colour)
        Graph nodes in drawing order.
    edges : sequence of (id a, id b, weight, tooltip)
        Links; edges naming an unknown node are skipped.
    title : str
        Accessible title.
    size : int
        Diameter of the drawing area in pixels (labels get a margin around it).
    legend : sequence of (label, colour)
        Colour key drawn under the graph.

    Returns
    -------
    str
        An ``<svg>`` element.
    """
    margin = 95
    width, height = size + 2 * margin, size + 2 * margin + (20 if legend else 0)
    cx, cy = width / 2, margin + size / 2
    n = len(nodes)
    radius = 0.0 if n <= 1 else size / 2 - 10
    pos: dict[str, tuple[float, float, float]] = {}
    for i, (node_id, _, _) in enumerate(nodes):
        angle = 2 * math.pi * i / max(n, 1) - math.pi / 2
        pos[node_id] = (cx + radius * math.cos(angle), cy + radius * math.sin(angle), angle)
    desc = f"{n} accounts, {len(edges)} links"
    parts = _open(width, height, title, desc, cls="chart graph")
    opacity = 0.7 if len(edges) <= 2 * max(n, 1) else 0.45
    parts.append(f'<g class="edges" stroke="#475569" stroke-opacity="{opacity}">')
    for a, b, weight, tip in edges:
        if a not in pos or b not in pos:
            continue
        (x1, y1, _), (x2, y2, _) = pos[a], pos[b]
        sw = 0.8 + 4.2 * min(max(weight, 0.0), 1.0)
        parts.append(
            f'<line x1="{x1:.1f}" y1="{y1:.1f}" x2="{x2:.1f}" y2="{y2:.1f}" '
            f'stroke-width="{sw:.1f}"><title>{_esc(tip)}</title></line>'
        )
    parts.append("</g>")
    for node_id, label, color in nodes:
        x, y, angle = pos[node_id]
        parts.append(
            f'<circle cx="{x:.1f}" cy="{y:.1f}" r="7" fill="{_esc(color)}" stroke="#1f2937">'
            f"<title>{_esc(node_id)}</title></circle>"
        )
        parts.append(_node_label(x, y, angle, label, n))
    parts += _legend(legend, height - 8)
    parts.append("</svg>")
    return "".join(parts)
