"""A pipeline's steps as a server-rendered SVG graph (pure: steps and statuses in, markup out).

Columns are the longest path from a step without dependencies (so every edge points right), rows
keep the definition's order. Each step is a ``<g data-step data-status>`` box coloured by its status
(the same classes as the status badges), linking to the job it ran when there is one; edges are
drawn from each dependency to its dependant, and one that skips columns runs in the gaps between
the boxes. A step that has not started has no status.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from markupsafe import Markup, escape

from emulator.console.render import status_class

BOX_W, BOX_H = 190, 50
GAP_X, GAP_Y = 56, 18
PAD = 12
NAME_CHARS = 24


@dataclass
class Node:
    name: str
    type: str
    depends: set[str] = field(default_factory=set)
    status: str = ""
    href: str = ""
    note: str = ""          # e.g. "cache hit", "outcome: true"


def columns(nodes: list[Node]) -> dict[str, int]:
    """Each step's column: 0 without dependencies, else one more than its furthest dependency."""
    by_name = {node.name: node for node in nodes}
    column: dict[str, int] = {}

    def depth(name: str, seen: frozenset[str]) -> int:
        if name in column:
            return column[name]
        if name in seen:          # a cycle cannot be created; guard anyway
            return 0
        deps = [d for d in by_name[name].depends if d in by_name]
        column[name] = 1 + max((depth(d, seen | {name}) for d in deps), default=-1)
        return column[name]

    for node in nodes:
        depth(node.name, frozenset())
    return column


def _short(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[:limit - 1] + "…"


def _edge(sx: float, sy: float, ex: float, ey: float, lanes: list[float]) -> str:
    """A curve between neighbouring columns; an edge that skips columns runs in the gaps instead (right
    into the gap after its source's column, along the free lane between two rows nearest to both ends,
    then into its target's column), so it never crosses the boxes of the columns in between."""
    if ex - sx <= GAP_X + 1:
        mid = (sx + ex) / 2
        return f"M{sx:.0f},{sy:.0f} C{mid:.0f},{sy:.0f} {mid:.0f},{ey:.0f} {ex:.0f},{ey:.0f}"
    lane = min(lanes, key=lambda y: abs(y - sy) + abs(y - ey))
    gx1, gx2 = sx + GAP_X / 2, ex - GAP_X / 2
    return (f"M{sx:.0f},{sy:.0f} L{gx1:.0f},{sy:.0f} L{gx1:.0f},{lane:.0f} L{gx2:.0f},{lane:.0f} "
            f"L{gx2:.0f},{ey:.0f} L{ex:.0f},{ey:.0f}")


def render(nodes: list[Node]) -> Markup:
    if not nodes:
        return Markup("")
    column = columns(nodes)
    rows: dict[int, int] = {}
    place: dict[str, tuple[float, float]] = {}
    for node in nodes:
        col = column[node.name]
        row = rows.get(col, 0)
        rows[col] = row + 1
        place[node.name] = (PAD + col * (BOX_W + GAP_X), PAD + row * (BOX_H + GAP_Y))
    width = PAD * 2 + (max(column.values()) + 1) * (BOX_W + GAP_X) - GAP_X
    height = PAD * 2 + max(rows.values()) * (BOX_H + GAP_Y) - GAP_Y
    lanes = [PAD + row * (BOX_H + GAP_Y) - GAP_Y / 2 for row in range(max(rows.values()) + 1)]
    parts = [f'<svg class="dag" viewBox="0 0 {width} {height}" width="{width}" height="{height}" role="img" '
             f'aria-label="Pipeline graph: {len(nodes)} steps" data-steps="{len(nodes)}">']
    for node in nodes:
        x2, y2 = place[node.name]
        for dep in sorted(node.depends):
            if dep not in place:
                continue
            x1, y1 = place[dep]
            path = _edge(x1 + BOX_W, y1 + BOX_H / 2, x2, y2 + BOX_H / 2, lanes)
            parts.append(f'<path class="edge" data-from="{escape(dep)}" data-to="{escape(node.name)}" d="{path}"/>')
    for node in nodes:
        x, y = place[node.name]
        css = status_class(node.status) or "idle"
        label = f"{node.type} · {node.status or 'not started'}" + (f" · {node.note}" if node.note else "")
        box = (f'<g class="step {css}" data-step="{escape(node.name)}" data-status="{escape(node.status)}" '
               f'data-type="{escape(node.type)}"><title>{escape(node.name)}: {escape(label)}</title>'
               f'<rect x="{x:.0f}" y="{y:.0f}" width="{BOX_W}" height="{BOX_H}" rx="8"/>'
               f'<text class="step-name" x="{x + 10:.0f}" y="{y + 20:.0f}">'
               f'{escape(_short(node.name, NAME_CHARS))}</text>'
               f'<text class="step-meta" x="{x + 10:.0f}" y="{y + 38:.0f}">{escape(_short(label, 30))}</text></g>')
        parts.append(f'<a href="{escape(node.href)}">{box}</a>' if node.href else box)
    parts.append("</svg>")
    return Markup("".join(parts))
