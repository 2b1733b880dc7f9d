"""The publication path diagram: constructs (with their labels and R-squared) as ellipses,
second-order constructs above their dimensions, items as boxes under the construct they measure,
structural paths with standardised estimates (stars from p for ML fits, the interval for Bayesian
ones), dashed grey where the interval includes 0. Written as SVG, PDF and 300-dpi PNG."""

from __future__ import annotations

import textwrap
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.patches import Ellipse, FancyArrowPatch, Rectangle  # noqa: E402

from bayeslead.atomic import atomic_path  # noqa: E402
from bayeslead.report.numbers import number, stars  # noqa: E402

MAX_ITEMS = 30  # the measurement part is drawn by default up to this many items
ITEM_W, ITEM_H, ITEM_GAP = 0.72, 0.36, 0.1
CONSTRUCT_W, CONSTRUCT_H = 1.7, 0.95
DIM_W, DIM_H = 1.3, 0.8
COLUMN_GAP, ROW_GAP, LEVEL_DROP = 1.3, 1.0, 1.5
DIM_GAP = 0.3
FONT_UNITS = 0.28  # construct labels are this many layout units tall (items: 0.8 of it)


def _boundary(center, toward, half_width: float, half_height: float) -> np.ndarray:
    """Point where the ray from an ellipse's centre toward `toward` leaves the ellipse."""
    center = np.asarray(center, dtype=float)
    d = np.asarray(toward, dtype=float) - center
    angle = np.arctan2(d[1], d[0])
    radius = (
        half_width * half_height / np.hypot(half_height * np.cos(angle), half_width * np.sin(angle))
    )
    return center + radius * np.array([np.cos(angle), np.sin(angle)])


def _group_labels(table: pd.DataFrame) -> list[str]:
    """The groups of a multi-group fit's table, in order (empty for other fits)."""
    if "group" not in table:
        return []
    groups = table["group"].astype(object).where(table["group"].notna(), "").astype(str)
    return [g for g in dict.fromkeys(groups) if g and not g.startswith("(")]


def _text(column: pd.Series) -> pd.Series:
    return column.astype(object).where(column.notna(), "").astype(str)


class _Layout:
    """Positions of constructs, dimensions and items: structural columns by path depth, each
    construct's measurement block (dimensions, items) under it."""

    def __init__(self, spec, items: bool, gap: float = COLUMN_GAP):
        second = {f.name: f for f in spec.second_order}
        dims = {m for f in spec.second_order for m in f.indicators}
        structural = list(spec.structural_variables()) or [
            f.name for f in spec.factors if f.name not in dims
        ]
        depth = {n: 0 for n in structural}
        for name in structural:
            for r in spec.regressions:
                if r.outcome == name and r.predictor in depth:
                    depth[name] = max(depth[name], depth[r.predictor] + 1)
        if not spec.regressions:
            depth = {n: k for k, n in enumerate(structural)}
        self.depth = depth
        self.items_of = {f.name: list(f.indicators) if items else [] for f in spec.first_order} | {
            o: [] for o in spec.observed
        }
        self.pos: dict[str, np.ndarray] = {}
        self.size: dict[str, tuple[float, float]] = {}
        self.kind: dict[str, str] = {}
        columns: dict[int, list[str]] = {}
        for name in structural:
            columns.setdefault(depth[name], []).append(name)
        x = 0.0
        for level in sorted(columns):
            names = columns[level]
            width = max(self._block(n, second)[0] for n in names)
            heights = [self._block(n, second)[1] for n in names]
            y = (sum(heights) + ROW_GAP * (len(names) - 1)) / 2
            for name, h in zip(names, heights, strict=True):
                self._place(name, second, x + width / 2, y)
                y -= h + ROW_GAP
            x += width + gap

    def _items_width(self, name: str) -> float:
        n = len(self.items_of.get(name, []))
        return n * ITEM_W + max(n - 1, 0) * ITEM_GAP

    def _block(self, name: str, second) -> tuple[float, float]:
        """Width and height of a construct with everything drawn under it."""
        if name in second:
            widths = [max(DIM_W * 2, self._items_width(d)) for d in second[name].indicators]
            below = max(1.0 if self.items_of.get(d) else 0.0 for d in second[name].indicators)
            width = sum(widths) + DIM_GAP * (len(widths) - 1)
            return max(width, CONSTRUCT_W * 2), CONSTRUCT_H * 2 + LEVEL_DROP + below * 1.3
        below = 1.3 if self.items_of.get(name) else 0.0
        return max(CONSTRUCT_W * 2, self._items_width(name)), CONSTRUCT_H * 2 + below

    def _place(self, name, second, cx, top) -> None:
        center = np.array([cx, top - CONSTRUCT_H])
        self.pos[name], self.size[name], self.kind[name] = center, (CONSTRUCT_W, CONSTRUCT_H), "c"
        if name in second:
            members = second[name].indicators
            widths = [max(DIM_W * 2, self._items_width(d)) for d in members]
            left = cx - (sum(widths) + DIM_GAP * (len(widths) - 1)) / 2
            for member, w in zip(members, widths, strict=True):
                dim_center = np.array([left + w / 2, center[1] - CONSTRUCT_H - LEVEL_DROP])
                self.pos[member], self.size[member], self.kind[member] = (
                    dim_center,
                    (DIM_W, DIM_H),
                    "d",
                )
                self._place_items(member, dim_center, DIM_H)
                left += w + DIM_GAP
        else:
            self._place_items(name, center, CONSTRUCT_H)

    def _place_items(self, name: str, center: np.ndarray, half_height: float) -> None:
        items = self.items_of.get(name, [])
        left = center[0] - self._items_width(name) / 2 + ITEM_W / 2
        for k, item in enumerate(items):
            self.pos[item] = np.array(
                [left + k * (ITEM_W + ITEM_GAP), center[1] - half_height - 1.1]
            )
            self.size[item], self.kind[item] = (ITEM_W / 2, ITEM_H / 2), "i"


def _estimate_text(row, bayesian: bool) -> tuple[str, bool]:
    """The label of an arrow and whether its interval excludes 0."""
    if row is None:
        return "", True
    credible = bool(row.ci_lower > 0 or row.ci_upper < 0) if row.se > 0 else True
    text = number(row.std_est, 2, bounded=True)
    if bayesian:
        lower, upper = getattr(row, "std_ci_lower", np.nan), getattr(row, "std_ci_upper", np.nan)
        if np.isfinite(lower) and np.isfinite(upper) and row.se > 0:
            text += f"\n[{number(lower, 2, True)}, {number(upper, 2, True)}]"
    else:
        text += stars(getattr(row, "pvalue", np.nan))
    return text, credible


def path_diagram(
    spec,
    estimates: pd.DataFrame,
    labels: dict[str, str] | None = None,
    items: bool | None = None,
    bayesian: bool = False,
) -> Figure:
    """The model with standardised estimates (see the module docstring); `labels` maps ids to
    what the reader sees; `items` draws the measurement part (default: up to 30 items)."""
    labels = {**spec.labels, **(labels or {})}
    items = len(spec.items) <= MAX_ITEMS if items is None else items
    layout = _Layout(spec, items, COLUMN_GAP * (1.8 if bayesian else 1.0))  # room for intervals
    levels = _text(estimates["level"]) if "level" in estimates else pd.Series("", estimates.index)
    groups = _group_labels(estimates)
    column = _text(estimates["group"]) if groups else pd.Series("", index=estimates.index)
    shown = levels.isin(["", "within"]) & column.isin(["", *groups[:1]])
    rows = estimates[shown].drop_duplicates(["lhs", "op", "rhs"]).set_index(["lhs", "op", "rhs"])
    others = [
        estimates[levels == "between"].set_index(["lhs", "op", "rhs"]),
        *[estimates[column == g].set_index(["lhs", "op", "rhs"]) for g in groups[1:]],
    ]
    xs = [p[0] for p in layout.pos.values()]
    ys = [p[1] for p in layout.pos.values()]
    span = (max(xs) - min(xs) + 2 * CONSTRUCT_W + 1, max(ys) - min(ys) + 2 * CONSTRUCT_H + 1.6)
    scale = min(0.55, 16 / span[0])  # inches per layout unit: at most 16 inches wide
    fig, ax = plt.subplots(figsize=(max(6.0, span[0] * scale), max(3.5, span[1] * scale + 1.2)))
    font = FONT_UNITS * 72 * scale
    marks: list[float] = []

    def row_of(key):
        return rows.loc[key] if key in rows.index else None

    def arrow(a_name, b_name, key, rad=0.0, small=False):
        a, b = layout.pos[a_name], layout.pos[b_name]
        control = (a + b) / 2 + rad * np.array([b[1] - a[1], a[0] - b[0]])
        start = _boundary(a, control if rad else b, *layout.size[a_name])
        end = _boundary(b, control if rad else a, *layout.size[b_name])
        text, credible = _estimate_text(row_of(key), bayesian and not small)
        if small:  # item loadings: the value only (dashed grey still marks an interval with 0)
            text = text.rstrip("*")
        for other in others:
            if key in other.index and text:
                text += f" / {number(other.loc[key].std_est, 2, True)}"
        color = "black" if credible else "#8a8a8a"
        ax.add_patch(
            FancyArrowPatch(
                start,
                end,
                arrowstyle="-|>",
                mutation_scale=10 if small else 14,
                color=color,
                lw=0.8 if small else 1.4,
                ls="-" if credible else "--",
                connectionstyle=f"arc3,rad={rad}",
            )
        )
        middle = (start + end) / 2 + rad / 2 * np.array([end[1] - start[1], start[0] - end[0]])
        if small:
            middle = start + 0.62 * (end - start)
        marks.append(middle[1])
        ax.text(
            *middle,
            text,
            ha="center",
            va="center",
            fontsize=font * (0.8 if small else 1.0),
            color=color,
            bbox=dict(fc="white", ec="none", pad=0.5),
        )

    for r in spec.regressions:
        if r.outcome in layout.pos and r.predictor in layout.pos:
            gap = layout.depth.get(r.outcome, 0) - layout.depth.get(r.predictor, 0)
            rad = -0.25 if gap > 1 else 0.0
            arrow(r.predictor, r.outcome, (r.outcome, "~", r.predictor), rad)
    for f in spec.factors:
        for member in f.indicators:
            if member in layout.pos and f.name in layout.pos:
                arrow(f.name, member, (f.name, "=~", member), small=layout.kind[member] == "i")
    r2 = estimates[shown & (estimates.op == "r2")].drop_duplicates("lhs").set_index("lhs").est
    for name, center in layout.pos.items():
        kind = layout.kind[name]
        w, h = layout.size[name]
        if kind == "i":
            ax.add_patch(Rectangle(center - [w, h], 2 * w, 2 * h, fc="white", ec="#1f4e79", lw=0.9))
            ax.text(*center, name, ha="center", va="center", fontsize=font * 0.8)
            continue
        ax.add_patch(
            Ellipse(center, 2 * w, 2 * h, fc="#eaf1f8" if kind == "c" else "#f5f5f5", ec="#1f4e79")
        )
        width = 18 if kind == "c" else 15
        text = "\n".join(
            textwrap.wrap(
                labels.get(name) or name, width, break_on_hyphens=False, break_long_words=False
            )
        )
        if name in r2.index and spec.is_endogenous(name):
            text += f"\nR\u00b2 = {number(r2[name], 2, bounded=True)}"
        ax.text(
            *center,
            text,
            ha="center",
            va="center",
            fontsize=font * (1.0 if kind == "c" else 0.88),
            weight="bold" if kind == "c" else "normal",
            linespacing=1.15,
            gid=f"construct-{name}",  # the SVG group of the label's lines
        )
    ax.set_xlim(min(xs) - CONSTRUCT_W - 0.3, max(xs) + CONSTRUCT_W + 0.3)
    ax.set_ylim(min(ys) - CONSTRUCT_H - 0.3, max([*ys, *marks]) + CONSTRUCT_H + 0.3)
    ax.set_aspect("equal")
    ax.axis("off")
    how = "95% interval" if bayesian else "* p < .05, ** p < .01, *** p < .001"
    title = f"Standardised estimates ({how}; dashed grey: interval includes 0)"
    if groups:
        title = f"Standardised estimates, {' / '.join(groups)} (dashed grey: interval of {groups[0]} includes 0)"
    elif len(others[0]):
        title = "Standardised estimates, within / between clusters (dashed grey: within interval includes 0)"
    ax.set_title(title, fontsize=font)
    fig.tight_layout()
    return fig


def save_diagram(fig: Figure, png_path: Path | str) -> list[Path]:
    """Write the diagram as SVG (text kept as text), PDF and 300-dpi PNG beside `png_path`."""
    png_path = Path(png_path)
    written = []
    with plt.rc_context({"svg.fonttype": "none", "pdf.fonttype": 42}):
        for suffix, dpi in ((".svg", None), (".pdf", None), (".png", 300)):
            target = png_path.with_suffix(suffix)
            with atomic_path(target) as tmp:
                fig.savefig(tmp, format=suffix[1:], dpi=dpi or "figure", bbox_inches="tight")
            written.append(target)
    plt.close(fig)
    return written
