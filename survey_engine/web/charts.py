"""Server-rendered charts for the staff pages: matplotlib figures as inline, accessible SVG.

Each chart comes back as a :class:`Chart`: the SVG (with ``<title>`` and ``<desc>``, ``role="img"``)
plus the numbers behind it as a table, which the pages show beside the picture as its text
alternative. The pages' Content-Security-Policy forbids inline styles, and matplotlib writes its
SVG with ``style`` attributes and a ``<style>`` element, so :func:`svg_without_styles` turns every
declaration into the equivalent SVG presentation attribute. matplotlib is imported lazily and used
through ``Figure`` directly (Agg-free SVG canvas, no pyplot global state), so it is thread-safe
under a threaded server and costs nothing until a chart is drawn.
"""
from __future__ import annotations

import functools
import hashlib
import io
import re
import secrets
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

from markupsafe import Markup, escape

#: Colours for categories (archetypes, relationship styles): distinguishable, print-safe.
PALETTE = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#17becf",
           "#7f7f7f", "#bcbd22")
INK = "#1d1a17"
ACCENT = "#7a5c2e"
MUTED = "#8a8076"

_STYLE_ATTR = re.compile(r'\sstyle="([^"]*)"')
_STYLE_ELEMENT = re.compile(r"<style[^>]*>(.*?)</style>", re.S)
_PRESENTATION = {
    "fill", "fill-opacity", "fill-rule", "stroke", "stroke-width", "stroke-linejoin", "stroke-linecap",
    "stroke-dasharray", "stroke-dashoffset", "stroke-miterlimit", "stroke-opacity", "opacity",
    "font-size", "font-family", "font-weight", "font-style", "text-anchor", "dominant-baseline",
    "clip-path", "mix-blend-mode", "visibility", "display", "color", "letter-spacing",
}


@dataclass(frozen=True)
class Chart:
    """An inline SVG and the data it shows (``columns`` and ``rows``), its text alternative."""

    svg: Markup
    title: str
    description: str
    columns: tuple[str, ...] = ()
    rows: tuple[tuple[Any, ...], ...] = field(default_factory=tuple)


_cache: OrderedDict[str, Chart] = OrderedDict()
_cache_lock = threading.Lock()
CACHE_SIZE = 128


def memoised(function: Callable[..., Chart]) -> Callable[..., Chart]:
    """Charts are pure functions of their data: keep the last ``CACHE_SIZE`` drawings (drawing one
    costs a few hundred milliseconds; a page of an immutable factor model is drawn once)."""

    @functools.wraps(function)
    def wrapper(*args, **kwargs) -> Chart:
        key = hashlib.sha256(repr((function.__name__, args, sorted(kwargs.items()))).encode()).hexdigest()
        with _cache_lock:
            chart = _cache.get(key)
            if chart is not None:
                _cache.move_to_end(key)
                return chart
        chart = function(*args, **kwargs)
        with _cache_lock:
            _cache[key] = chart
            while len(_cache) > CACHE_SIZE:
                _cache.popitem(last=False)
        return chart

    return wrapper


def _declarations(css: str) -> list[tuple[str, str]]:
    pairs = []
    for declaration in css.split(";"):
        name, _, value = declaration.partition(":")
        name, value = name.strip(), value.strip()
        if name and value:
            if name not in _PRESENTATION:
                raise ValueError(f"SVG style property {name!r} has no presentation attribute")
            pairs.append((name, value.replace('"', "'")))
    return pairs


def svg_without_styles(svg: str, title: str, description: str) -> str:
    """matplotlib's SVG made fit for a strict CSP page: no XML prolog, no metadata, no ``style``
    attribute or element, no fixed size (it scales to its container), and an accessible name."""
    svg = svg[svg.index("<svg"):]
    svg = re.sub(r"\s*<metadata>.*?</metadata>", "", svg, flags=re.S)
    defaults = ""
    match = _STYLE_ELEMENT.search(svg)
    if match:
        rule = re.search(r"\*\s*\{([^}]*)\}", match.group(1))
        if rule:
            defaults = "".join(f' {name}="{value}"' for name, value in _declarations(rule.group(1)))
        svg = svg[:match.start()] + svg[match.end():]
    svg = re.sub(r"\s*<defs>\s*</defs>", "", svg)
    # group ids (figure_1, axes_1, ...) are never referenced and would repeat across charts on a page
    svg = re.sub(r'(<g)\s+id="[^"]*"', r"\1", svg)
    svg = _STYLE_ATTR.sub(lambda m: "".join(f' {n}="{v}"' for n, v in _declarations(m.group(1))), svg)
    uid = "chart-" + secrets.token_hex(4)
    root_end = svg.index(">")
    root = svg[:root_end]
    root = re.sub(r'\s(width|height)="[^"]*"', "", root)
    root += (f' role="img" aria-labelledby="{uid}-title {uid}-desc" focusable="false"'
             f' preserveAspectRatio="xMidYMid meet"{defaults}')
    accessible = f'<title id="{uid}-title">{escape(title)}</title><desc id="{uid}-desc">{escape(description)}</desc>'
    return root + ">" + accessible + svg[root_end + 1:]


def _figure(width: float, height: float):
    from matplotlib.figure import Figure

    figure = Figure(figsize=(width, height), dpi=72, layout="constrained")
    return figure


def _render(figure, title: str, description: str) -> Markup:
    import matplotlib

    buffer = io.StringIO()
    with matplotlib.rc_context({"svg.fonttype": "none", "font.size": 11, "axes.edgecolor": MUTED,
                                "axes.labelcolor": INK, "xtick.color": INK, "ytick.color": INK,
                                "axes.spines.top": False, "axes.spines.right": False}):
        figure.savefig(buffer, format="svg", metadata={"Date": None, "Creator": None})
    return Markup(svg_without_styles(buffer.getvalue(), title, description))


def _style_axes(ax) -> None:
    ax.spines["top"].set_visible(False)
    ax.spines["right"].set_visible(False)
    ax.grid(axis="both", color="#e7e1d8", linewidth=0.8)
    ax.set_axisbelow(True)


@memoised
def scree_chart(eigenvalues: Sequence[float], simulated: Sequence[float], suggested: int, extracted: int,
                *, quantile: float = 0.95, correlation: str = "") -> Chart:
    """Observed reduced-matrix eigenvalues against the parallel-analysis threshold (Horn 1965)."""
    n = len(eigenvalues)
    x = list(range(1, n + 1))
    figure = _figure(7.5, 3.6)
    ax = figure.add_subplot()
    _style_axes(ax)
    ax.plot(x, eigenvalues, marker="o", color=ACCENT, linewidth=2, label="Observed (reduced correlation)")
    ax.plot(x, simulated, linestyle="--", color=MUTED, linewidth=1.6,
            label=f"Parallel analysis ({quantile:.0%} of resampled)")
    ax.axvline(extracted + 0.5, color="#b7791f", linewidth=1, linestyle=":")
    ax.text(extracted + 0.6, max(eigenvalues) * 0.92, f"{extracted} extracted", color="#8a5a12", fontsize=10)
    ax.set_xlabel("Factor")
    ax.set_ylabel("Eigenvalue")
    ax.set_xticks(x if n <= 20 else x[::2])
    ax.legend(frameon=False, loc="upper right")
    title = "Scree plot with parallel analysis"
    description = (f"Eigenvalues of the {correlation} correlation matrix for {n} items; {suggested} lie above "
                   f"the parallel-analysis line, so parallel analysis suggests {suggested} factor(s); "
                   f"{extracted} were extracted.")
    rows = tuple((i, round(e, 3), round(s, 3), "yes" if e > s else "no")
                 for i, e, s in zip(x, eigenvalues, simulated))
    return Chart(_render(figure, title, description), title, description,
                 ("Factor", "Observed eigenvalue", "Parallel-analysis threshold", "Above"), rows)


@memoised
def heatmap(matrix: Sequence[Sequence[float]], row_labels: Sequence[str], column_labels: Sequence[str], *,
            title: str, description: str, diverging: bool = False, value_format: str = "{:.2f}",
            row_header: str = "", highlight: float | None = None) -> Chart:
    """A labelled heatmap with the value in every cell (loadings, cross-tabulations)."""
    import numpy as np

    values = np.asarray(matrix, dtype=float)
    n_rows, n_cols = values.shape
    longest = max((len(label) for label in row_labels), default=4)
    figure = _figure(min(3.2 + 0.07 * longest + 0.95 * n_cols, 13), 1.2 + 0.34 * n_rows)
    ax = figure.add_subplot()
    if diverging:
        cmap, vmin, vmax = "RdBu_r", -1.0, 1.0
    else:
        cmap, vmin, vmax = "YlOrBr", 0.0, float(np.nanmax(values)) if values.size and np.nanmax(values) > 0 else 1.0
    mesh = ax.pcolormesh(values, cmap=cmap, vmin=vmin, vmax=vmax, edgecolors="#ffffff", linewidth=0.6)
    ax.invert_yaxis()
    ax.xaxis.tick_top()
    ax.set_xticks([i + 0.5 for i in range(n_cols)], labels=list(column_labels), rotation=30, ha="left")
    ax.set_yticks([i + 0.5 for i in range(n_rows)], labels=list(row_labels))
    ax.tick_params(length=0)
    for side in ax.spines.values():
        side.set_visible(False)
    for i in range(n_rows):
        for j in range(n_cols):
            value = values[i, j]
            if np.isnan(value):
                continue
            strong = abs(value) >= (highlight if highlight is not None else 0.7 * max(abs(vmin), abs(vmax)))
            dark = abs(value - (0 if diverging else vmin)) > 0.6 * (vmax - (0 if diverging else vmin))
            ax.text(j + 0.5, i + 0.5, value_format.format(value), ha="center", va="center", fontsize=9,
                    color="#ffffff" if dark else INK, fontweight="bold" if strong else "normal")
    figure.colorbar(mesh, ax=ax, shrink=0.6, pad=0.02)
    rows = tuple((label, *(value_format.format(v) for v in row)) for label, row in zip(row_labels, values))
    return Chart(_render(figure, title, description), title, description,
                 (row_header, *column_labels), rows)


@memoised
def bar_chart(labels: Sequence[str], values: Sequence[float], *, title: str, description: str,
              value_label: str = "Count", value_format: str = "{:,.0f}", colors: Sequence[str] | None = None,
              extra_columns: tuple[str, ...] = (), extra: Sequence[Sequence[Any]] = ()) -> Chart:
    """Horizontal bars, one per label, with the value written at the end of each bar."""
    n = len(labels)
    figure = _figure(7.5, 0.9 + 0.42 * max(n, 1))
    ax = figure.add_subplot()
    _style_axes(ax)
    ax.grid(axis="y", visible=False)
    positions = list(range(n))
    ax.barh(positions, values, color=list(colors) if colors else ACCENT, height=0.65)
    ax.set_yticks(positions, labels=list(labels))
    ax.invert_yaxis()
    ax.set_xlabel(value_label)
    top = max(values) if n and max(values) > 0 else 1
    ax.set_xlim(0, top * 1.18)
    for position, value in zip(positions, values):
        ax.text(value + top * 0.01, position, value_format.format(value), va="center", fontsize=10, color=INK)
    rows = tuple((label, value_format.format(value), *(extra[i] if extra else ()))
                 for i, (label, value) in enumerate(zip(labels, values)))
    return Chart(_render(figure, title, description), title, description, ("", value_label, *extra_columns), rows)


@memoised
def time_chart(periods: Sequence[str], series: dict[str, Sequence[float]], *, title: str, description: str,
               value_label: str = "Count") -> Chart:
    """Lines over time periods (weeks or months, given as labels)."""
    n = len(periods)
    figure = _figure(11, 3.6)
    ax = figure.add_subplot()
    _style_axes(ax)
    x = list(range(n))
    for k, (name, values) in enumerate(series.items()):
        ax.plot(x, values, marker="o" if n <= 40 else None, markersize=3, linewidth=1.8,
                color=PALETTE[k % len(PALETTE)], label=name)
    step = max(1, n // 10)
    ax.set_xticks(x[::step], labels=list(periods)[::step], rotation=30, ha="right")
    ax.set_ylabel(value_label)
    ax.set_ylim(bottom=0)
    ax.legend(frameon=False, loc="upper left", ncols=min(len(series), 4))
    rows = tuple((period, *(series[name][i] for name in series)) for i, period in enumerate(periods))
    return Chart(_render(figure, title, description), title, description, ("Period", *series), rows)


@memoised
def scatter_map(x: Sequence[float], y: Sequence[float], groups: Sequence[str], *, title: str, description: str,
                x_label: str, y_label: str, group_order: Sequence[str] | None = None) -> Chart:
    """Points in two dimensions coloured by group, with a legend; the table gives group sizes and centres."""
    import numpy as np

    xs, ys, gs = np.asarray(x, dtype=float), np.asarray(y, dtype=float), np.asarray(groups, dtype=object)
    order = list(group_order) if group_order else sorted(set(gs))
    figure = _figure(11, 5.2)
    ax = figure.add_subplot()
    _style_axes(ax)
    rows = []
    markers = "osD^vP*Xh<>p"
    for k, group in enumerate(order):
        mask = gs == group
        if not mask.any():
            continue
        ax.scatter(xs[mask], ys[mask], s=18, alpha=0.8, color=PALETTE[k % len(PALETTE)],
                   marker=markers[k % len(markers)], label=f"{group} ({int(mask.sum())})", linewidths=0)
        rows.append((group, int(mask.sum()), round(float(xs[mask].mean()), 2), round(float(ys[mask].mean()), 2)))
    ax.set_xlabel(x_label)
    ax.set_ylabel(y_label)
    ax.legend(frameon=False, loc="center left", bbox_to_anchor=(1.0, 0.5), fontsize=9)
    return Chart(_render(figure, title, description), title, description,
                 ("Group", "Respondents", f"Mean {x_label}", f"Mean {y_label}"), tuple(rows))


@memoised
def signed_bars(labels: Sequence[str], values: Sequence[float], *, title: str, description: str,
                value_label: str = "Score", value_format: str = "{:+.2f}") -> Chart:
    """Horizontal bars around zero (factor scores, contributions): above average to the right."""
    n = len(labels)
    figure = _figure(7.5, 0.9 + 0.4 * max(n, 1))
    ax = figure.add_subplot()
    _style_axes(ax)
    ax.grid(axis="y", visible=False)
    positions = list(range(n))
    ax.barh(positions, values, height=0.6, color=[ACCENT if v >= 0 else "#4a6d8c" for v in values])
    ax.axvline(0, color=INK, linewidth=1)
    ax.set_yticks(positions, labels=list(labels))
    ax.invert_yaxis()
    ax.set_xlabel(value_label)
    reach = max([abs(v) for v in values] + [0.5]) * 1.3
    ax.set_xlim(-reach, reach)
    for position, value in zip(positions, values):
        ax.text(value + (reach * 0.02 if value >= 0 else -reach * 0.02), position, value_format.format(value),
                va="center", ha="left" if value >= 0 else "right", fontsize=10, color=INK)
    rows = tuple((label, value_format.format(value)) for label, value in zip(labels, values))
    return Chart(_render(figure, title, description), title, description, ("", value_label), rows)
