"""Server-rendered SVG: a model's state machine and the activity-per-day chart.

The state machine drawing is derived from `transition_specs` (the FSM decorators), so it can never
show a state or an arrow the code does not have.
"""

import math
from collections import Counter
from dataclasses import dataclass
from datetime import date

from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString, mark_safe

from core.transitions import state_field, transition_specs

BOX_W, BOX_H = 124, 40
COL_GAP, ROW_GAP = 84, 70
MARGIN = 14


def _n(value: float) -> str:
    """format_html escapes its arguments to text first, so numbers are formatted here."""
    return f"{value:.1f}"


@dataclass(frozen=True)
class Edge:
    name: str
    source: str
    target: str


def machine_of(model) -> tuple[list[str], list[Edge], str]:
    """(states in a stable order, edges, initial state), all read from the model's FSM."""
    initial = str(state_field(model).default)
    edges = [
        Edge(spec.name, source, spec.target)
        for spec in transition_specs(model).values()
        for source in spec.sources
        if source != "*"
    ]
    states = [initial]
    for edge in edges:
        for state in (edge.source, edge.target):
            if state not in states:
                states.append(state)
    return states, edges, initial


def _levels(states: list[str], edges: list[Edge], initial: str) -> dict[str, int]:
    """Breadth-first distance from the initial state: one row of the drawing per level."""
    level = {initial: 0}
    frontier = [initial]
    while frontier:
        following = []
        for state in frontier:
            for edge in edges:
                if edge.source == state and edge.target not in level:
                    level[edge.target] = level[state] + 1
                    following.append(edge.target)
        frontier = following
    deepest = max(level.values(), default=0)
    for state in states:  # unreachable states (none today) still get drawn, below the rest
        level.setdefault(state, deepest + 1)
    return level


def _layout(states, edges, initial) -> tuple[dict[str, tuple[float, float]], int, int]:
    level = _levels(states, edges, initial)
    rows: dict[int, list[str]] = {}
    for state in states:
        rows.setdefault(level[state], []).append(state)
    widest = max(len(row) for row in rows.values())
    width = 2 * MARGIN + widest * BOX_W + (widest - 1) * COL_GAP
    centres = {}
    for index, row in sorted(rows.items()):
        row_width = len(row) * BOX_W + (len(row) - 1) * COL_GAP
        left = (width - row_width) / 2
        for position, state in enumerate(row):
            centres[state] = (
                left + position * (BOX_W + COL_GAP) + BOX_W / 2,
                MARGIN + index * (BOX_H + ROW_GAP) + BOX_H / 2,
            )
    height = 2 * MARGIN + len(rows) * BOX_H + (len(rows) - 1) * ROW_GAP
    return centres, width, height


def _clip(centre, towards) -> tuple[float, float]:
    """Where the line from `centre` to `towards` leaves the state's box."""
    dx, dy = towards[0] - centre[0], towards[1] - centre[1]
    if dx == 0 and dy == 0:
        return centre
    scale = min((BOX_W / 2 + 3) / abs(dx) if dx else math.inf, (BOX_H / 2 + 3) / abs(dy) if dy else math.inf)
    return centre[0] + dx * scale, centre[1] + dy * scale


def _edge_svg(edge: Edge, centres, pairs: set[tuple[str, str]], reachable_by: set[str]) -> SafeString:
    start, end = centres[edge.source], centres[edge.target]
    # Two arrows between the same pair of states (pause / resume) are drawn side by side.
    offset = 7 if (edge.target, edge.source) in pairs else 0
    length = math.hypot(end[0] - start[0], end[1] - start[1]) or 1
    nx, ny = -(end[1] - start[1]) / length * offset, (end[0] - start[0]) / length * offset
    start, end = (start[0] + nx, start[1] + ny), (end[0] + nx, end[1] + ny)
    x1, y1 = _clip(start, end)
    x2, y2 = _clip(end, start)
    lx, ly, anchor = _label_position(x1, y1, x2, y2)
    css = "edge edge-available" if edge.name in reachable_by else "edge"
    return format_html(
        '<g class="{}"><line x1="{}" y1="{}" x2="{}" y2="{}" marker-end="url(#arrow)"/>'
        '<text x="{}" y="{}" text-anchor="{}" class="edge-label">{}</text></g>',
        css, _n(x1), _n(y1), _n(x2), _n(y2), _n(lx), _n(ly), anchor, edge.name,
    )


def _label_position(x1, y1, x2, y2) -> tuple[float, float, str]:
    """Beside the arrow, on its left-hand side, so that a label never sits on a line.

    Labels sit nearer the source, so crossing arrows do not stack their names, and the two arrows of a
    back-and-forth pair (pause / resume) put theirs on opposite sides.
    """
    length = math.hypot(x2 - x1, y2 - y1) or 1
    nx, ny = (y1 - y2) / length, (x2 - x1) / length
    px, py = x1 + (x2 - x1) * 0.42, y1 + (y2 - y1) * 0.42
    if abs(nx) < 0.3:  # a mostly horizontal arrow: the label goes above or below it, centred
        return px, py + ny * 9 + (9 if ny > 0 else -1), "middle"
    return px + nx * 6, py + ny * 6 + 4, "start" if nx > 0 else "end"


def _state_svg(state: str, centre, *, current: bool, reachable: bool, terminal: bool) -> SafeString:
    classes = ["state"]
    if current:
        classes.append("state-current")
    elif reachable:
        classes.append("state-reachable")
    if terminal:
        classes.append("state-terminal")
    label = state + (" (current)" if current else " (reachable)" if reachable else "")
    x, y = centre[0] - BOX_W / 2, centre[1] - BOX_H / 2
    return format_html(
        '<g class="{}" data-state="{}"><title>{}</title>'
        '<rect x="{}" y="{}" width="{}" height="{}" rx="8"/>'
        '<text x="{}" y="{}">{}</text></g>',
        " ".join(classes), state, label, _n(x), _n(y), BOX_W, BOX_H, _n(centre[0]), _n(centre[1] + 5), state,
    )


def state_machine_svg(model, *, current: str, allowed: list[str] = ()) -> SafeString:
    """The FSM of `model` with `current` marked and the targets of `allowed` transitions highlighted."""
    states, edges, initial = machine_of(model)
    centres, width, height = _layout(states, edges, initial)
    specs = transition_specs(model)
    usable = {name for name in allowed if current in specs[name].sources}
    reachable = {specs[name].target for name in usable}
    has_exit = {edge.source for edge in edges}
    pairs = {(edge.source, edge.target) for edge in edges}
    available_edges = {edge.name for edge in edges if edge.source == current and edge.name in usable}
    drawn_edges = format_html_join(
        "", "{}", ((_edge_svg(e, centres, pairs, available_edges if e.source == current else set()),) for e in edges)
    )
    drawn_states = format_html_join(
        "",
        "{}",
        (
            (_state_svg(s, centres[s], current=s == current, reachable=s in reachable, terminal=s not in has_exit),)
            for s in states
        ),
    )
    name = model._meta.verbose_name
    return format_html(
        '<svg class="machine" viewBox="0 0 {} {}" role="img" aria-labelledby="machine-title" '
        'xmlns="http://www.w3.org/2000/svg"><title id="machine-title">{} state machine; current state: {}</title>'
        '<defs><marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="9" markerHeight="9" markerUnits="userSpaceOnUse" '
        'orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z"/></marker></defs>{}{}</svg>',
        _n(width), _n(height), name, current, drawn_edges, drawn_states,
    )


# --- Activity per day -----------------------------------------------------------------------------

CHART_W, CHART_H = 600, 180
PLOT_LEFT, PLOT_BOTTOM, PLOT_TOP = 34, 24, 10


def _nice_ceiling(value: int) -> int:
    if value <= 4:
        return max(value, 1)
    magnitude = 10 ** int(math.log10(value))
    for step in (1, 2, 5, 10):
        if value <= step * magnitude:
            return step * magnitude
    return value  # pragma: no cover - the loop always returns


def activity_chart_svg(days: list[tuple[date, int, int]]) -> SafeString:
    """Stacked bars per day: successful events and refused ones. `days` is oldest first."""
    if not days:
        return mark_safe("")
    top = _nice_ceiling(max(ok + denied for _, ok, denied in days))
    plot_w = CHART_W - PLOT_LEFT - 6
    plot_h = CHART_H - PLOT_BOTTOM - PLOT_TOP
    slot = plot_w / len(days)
    bar_w = max(slot * 0.7, 1)
    label_every = max(1, math.ceil(len(days) / 7))
    parts = []
    for index, (day, ok, denied) in enumerate(days):
        x = PLOT_LEFT + index * slot + (slot - bar_w) / 2
        ok_h, denied_h = plot_h * ok / top, plot_h * denied / top
        base = PLOT_TOP + plot_h
        parts.append(
            format_html(
                '<g class="bar"><title>{}: {} ok, {} refused</title>'
                '<rect class="bar-ok" x="{}" y="{}" width="{}" height="{}"/>'
                '<rect class="bar-denied" x="{}" y="{}" width="{}" height="{}"/></g>',
                day.isoformat(), ok, denied,
                _n(x), _n(base - ok_h), _n(bar_w), _n(ok_h),
                _n(x), _n(base - ok_h - denied_h), _n(bar_w), _n(denied_h),
            )
        )
        # Counted from the newest day, so that today always has its label and none collide.
        if (len(days) - 1 - index) % label_every == 0:
            parts.append(format_html(
                '<text class="axis-label" x="{}" y="{}">{}</text>',
                _n(x + bar_w / 2), CHART_H - 6, day.strftime("%d %b"),
            ))
    totals = Counter()
    for _, ok, denied in days:
        totals["ok"] += ok
        totals["denied"] += denied
    return format_html(
        '<svg class="chart" viewBox="0 0 {} {}" role="img" aria-labelledby="chart-title" '
        'xmlns="http://www.w3.org/2000/svg"><title id="chart-title">Activity per day over {} days: '
        '{} events, {} refused</title>'
        '<line class="axis" x1="{}" y1="{}" x2="{}" y2="{}"/>'
        '<text class="axis-label axis-max" x="{}" y="{}">{}</text>'
        '<text class="axis-label axis-max" x="{}" y="{}">0</text>{}</svg>',
        CHART_W, CHART_H, len(days), totals["ok"] + totals["denied"], totals["denied"],
        PLOT_LEFT, PLOT_TOP + plot_h, CHART_W - 6, PLOT_TOP + plot_h,
        PLOT_LEFT - 6, PLOT_TOP + 8, top,
        PLOT_LEFT - 6, PLOT_TOP + plot_h,
        format_html_join("", "{}", ((part,) for part in parts)),
    )
