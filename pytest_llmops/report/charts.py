"""Small inline SVG charts for the HTML report (no JavaScript, no external resources).

Every function returns an ``<svg>`` element as a string. All text that comes from a
report (suite names, categories, labels) is escaped here with :func:`html.escape`, so the
result can be marked safe in the template.
"""

from __future__ import annotations

import math
from html import escape
from typing import Any, Iterable, Sequence

from pytest_llmops.core.stats import percentile

WIDTH = 640
LABEL_W = 210
RIGHT_PAD = 70
ROW_H = 20
TOP = 28
BOTTOM = 34
PALETTE = ("#2563eb", "#dc2626", "#16a34a", "#9333ea", "#ea580c", "#0891b2",
           "#ca8a04", "#db2777", "#4b5563", "#65a30d", "#7c3aed", "#0d9488")
MAX_ROWS = 80


def _e(text: Any) -> str:
    return escape(str(text), quote=True)


def _label(text: str, max_chars: int = 32) -> str:
    return text if len(text) <= max_chars else "\u2026" + text[-(max_chars - 1):]


def _num(value: float) -> str:
    return f"{value:.1f}"


def _whisker(a: float, b: float, mid: float) -> str:
    """An interval bar from x=a to x=b at height mid, with end caps."""
    return (f'<path d="M{_num(a)} {_num(mid)}H{_num(b)}M{_num(a)} {_num(mid - 5)}V{_num(mid + 5)}'
            f'M{_num(b)} {_num(mid - 5)}V{_num(mid + 5)}" stroke="#111827" stroke-width="1.4" fill="none"/>')


def _fmt(value: float | None, digits: int = 2) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    return f"{value:.{digits}f}"


def _svg_open(height: float, title: str, css_class: str = "chart") -> str:
    return (f'<svg class="{css_class}" role="img" viewBox="0 0 {WIDTH} {_num(height)}" width="100%" '
            f'preserveAspectRatio="xMinYMin meet" font-family="system-ui, sans-serif" font-size="11">'
            f"<title>{_e(title)}</title>")


def _empty(title: str, message: str) -> str:
    return (_svg_open(60, title) + f'<text x="10" y="20" font-weight="600">{_e(title)}</text>'
            f'<text x="10" y="44" fill="#6b7280">{_e(message)}</text></svg>')


def _x_axis(x0: float, x1: float, y: float, lo: float, hi: float, ticks: Sequence[float],
            fmt: str = "{:.1f}") -> list[str]:
    parts = [f'<line x1="{_num(x0)}" y1="{_num(y)}" x2="{_num(x1)}" y2="{_num(y)}" stroke="#9ca3af"/>']
    for t in ticks:
        x = x0 + (t - lo) / (hi - lo) * (x1 - x0) if hi > lo else x0
        parts.append(f'<line x1="{_num(x)}" y1="{_num(y)}" x2="{_num(x)}" y2="{_num(y + 4)}" stroke="#9ca3af"/>'
                     f'<text x="{_num(x)}" y="{_num(y + 15)}" text-anchor="middle" fill="#4b5563">'
                     f"{_e(fmt.format(t))}</text>")
    return parts


def interval_bars(title: str, rows: Iterable[dict[str, Any]], *, domain: tuple[float, float] = (0.0, 1.0),
                  color: str = "#2563eb", value_digits: int = 2, max_rows: int = MAX_ROWS) -> str:
    """Horizontal bars with 95% interval whiskers.

    ``rows``: dicts with ``label``, ``value`` (or ``None``), ``ci95`` (``[lo, hi]`` or
    ``None``) and optionally ``n`` and ``color``.
    """
    rows = list(rows)
    if not rows:
        return _empty(title, "no data")
    shown = rows[:max_rows]
    lo_d, hi_d = domain
    x0, x1 = LABEL_W, WIDTH - RIGHT_PAD
    height = TOP + ROW_H * len(shown) + BOTTOM + (14 if len(rows) > len(shown) else 0)
    parts = [_svg_open(height, title), f'<text x="6" y="16" font-weight="600" font-size="12">{_e(title)}</text>']

    def sx(v: float) -> float:
        v = min(max(v, lo_d), hi_d)
        return x0 + (v - lo_d) / (hi_d - lo_d) * (x1 - x0)

    ticks = [lo_d + (hi_d - lo_d) * i / 4 for i in range(5)]
    for t in ticks:
        parts.append(f'<line x1="{_num(sx(t))}" y1="{TOP - 4}" x2="{_num(sx(t))}" '
                     f'y2="{_num(TOP + ROW_H * len(shown))}" stroke="#e5e7eb"/>')
    for i, row in enumerate(shown):
        y = TOP + i * ROW_H
        label = str(row.get("label", ""))
        value = row.get("value")
        ci = row.get("ci95")
        tip = f"{label}: {_fmt(value, 3)}" + (f" [{_fmt(ci[0], 3)}, {_fmt(ci[1], 3)}]" if ci else "")
        if row.get("n") is not None:
            tip += f" (n={row['n']})"
        parts.append(f"<g><title>{_e(tip)}</title>"
                     f'<text x="{LABEL_W - 6}" y="{_num(y + 14)}" text-anchor="end" fill="#111827">'
                     f"{_e(_label(label))}</text>")
        if value is None:
            parts.append(f'<text x="{x0 + 4}" y="{_num(y + 14)}" fill="#6b7280">n/a</text></g>')
            continue
        bar_color = row.get("color") or color
        parts.append(f'<rect x="{_num(x0)}" y="{_num(y + 4)}" width="{_num(max(sx(value) - x0, 0.5))}" '
                     f'height="{ROW_H - 8}" fill="{_e(bar_color)}" fill-opacity="0.75"/>')
        if ci and ci[0] is not None and ci[1] is not None:
            parts.append(_whisker(sx(ci[0]), sx(ci[1]), y + ROW_H / 2))
        parts.append(f'<text x="{x1 + 6}" y="{_num(y + 14)}" fill="#111827">{_e(_fmt(value, value_digits))}</text></g>')
    axis_y = TOP + ROW_H * len(shown) + 2
    parts += _x_axis(x0, x1, axis_y, lo_d, hi_d, ticks, "{:.2f}" if hi_d - lo_d <= 2 else "{:.0f}")
    if len(rows) > len(shown):
        parts.append(f'<text x="6" y="{_num(height - 6)}" fill="#6b7280">showing {len(shown)} of {len(rows)}</text>')
    parts.append("</svg>")
    return "".join(parts)


def headline_chart(rows: Iterable[dict[str, Any]]) -> str:
    """Each suite's headline rate with 95% whiskers; bars coloured by how good the value is
    (a row with ``lower_is_better`` is good when small)."""
    coloured = []
    for row in rows:
        v = row.get("value")
        good = None if v is None else (1 - v if row.get("lower_is_better") else v)
        color = "#9ca3af" if good is None else ("#16a34a" if good >= 0.9 else "#d97706" if good >= 0.7 else "#dc2626")
        coloured.append({**row, "color": color})
    return interval_bars("Key metric per suite (95% interval)", coloured)


def delta_chart(title: str, rows: Iterable[dict[str, Any]], max_rows: int = MAX_ROWS) -> str:
    """Deltas around zero with 95% interval whiskers (``label``, ``value``, ``ci95``)."""
    rows = [r for r in rows if r.get("value") is not None]
    if not rows:
        return _empty(title, "no data")
    shown = rows[:max_rows]
    extent = 0.0
    for r in shown:
        extent = max(extent, abs(r["value"]))
        if r.get("ci95"):
            extent = max(extent, *(abs(c) for c in r["ci95"] if c is not None))
    extent = extent or 1.0
    x0, x1 = LABEL_W, WIDTH - RIGHT_PAD
    height = TOP + ROW_H * len(shown) + BOTTOM

    def sx(v: float) -> float:
        return x0 + (v + extent) / (2 * extent) * (x1 - x0)

    parts = [_svg_open(height, title), f'<text x="6" y="16" font-weight="600" font-size="12">{_e(title)}</text>',
             f'<line x1="{_num(sx(0))}" y1="{TOP - 4}" x2="{_num(sx(0))}" y2="{_num(TOP + ROW_H * len(shown))}" '
             f'stroke="#6b7280"/>']
    for i, row in enumerate(shown):
        y = TOP + i * ROW_H
        value = row["value"]
        ci = row.get("ci95")
        label = str(row.get("label", ""))
        a, b = sorted((sx(0), sx(value)))
        color = row.get("color") or ("#16a34a" if value >= 0 else "#dc2626")
        tip = f"{label}: {value:+.4g}" + (f" [{_fmt(ci[0], 4)}, {_fmt(ci[1], 4)}]" if ci else "")
        parts.append(f"<g><title>{_e(tip)}</title>"
                     f'<text x="{LABEL_W - 6}" y="{_num(y + 14)}" text-anchor="end">{_e(_label(label))}</text>'
                     f'<rect x="{_num(a)}" y="{_num(y + 4)}" width="{_num(max(b - a, 0.5))}" height="{ROW_H - 8}" '
                     f'fill="{_e(color)}" fill-opacity="0.75"/>')
        if ci and ci[0] is not None and ci[1] is not None:
            parts.append(_whisker(sx(ci[0]), sx(ci[1]), y + ROW_H / 2))
        parts.append(f'<text x="{x1 + 6}" y="{_num(y + 14)}">{_e(f"{value:+.3g}")}</text></g>')
    axis_y = TOP + ROW_H * len(shown) + 2
    parts += _x_axis(x0, x1, axis_y, -extent, extent, [-extent, -extent / 2, 0.0, extent / 2, extent], "{:+.3g}")
    parts.append("</svg>")
    return "".join(parts)


def _nice_max(v: float) -> float:
    if v <= 0:
        return 1.0
    exp = 10 ** math.floor(math.log10(v))
    for m in (1, 2, 2.5, 5, 10):
        if v <= m * exp:
            return m * exp
    return 10 * exp


def cdf_chart(title: str, series: Iterable[tuple[str, Sequence[float]]], unit: str = "ms",
              max_points: int = 200, max_series: int = len(PALETTE)) -> str:
    """Empirical CDFs (one line per series) of latency samples, with p50/p95 in the legend."""
    data = []
    for label, samples in series:
        values = sorted(float(v) for v in samples if isinstance(v, (int, float)) and math.isfinite(v))
        if values:
            data.append((str(label), values))
    if not data:
        return _empty(title, "no samples")
    omitted = max(0, len(data) - max_series)
    data = data[:max_series]
    hi = _nice_max(max(v[-1] for _, v in data))
    x0, x1, top, plot_h = 56, WIDTH - 16, TOP, 180
    legend_y = top + plot_h + 48
    height = legend_y + 16 * len(data) + (16 if omitted else 0) + 4

    def sx(v: float) -> float:
        return x0 + v / hi * (x1 - x0)

    def sy(p: float) -> float:
        return top + (1 - p) * plot_h

    parts = [_svg_open(height, title), f'<text x="6" y="16" font-weight="600" font-size="12">{_e(title)}</text>']
    for p in (0, 0.25, 0.5, 0.75, 1.0):
        parts.append(f'<line x1="{x0}" y1="{_num(sy(p))}" x2="{x1}" y2="{_num(sy(p))}" stroke="#e5e7eb"/>'
                     f'<text x="{x0 - 6}" y="{_num(sy(p) + 4)}" text-anchor="end" fill="#4b5563">{p:.2f}</text>')
    parts += _x_axis(x0, x1, top + plot_h, 0.0, hi, [hi * i / 4 for i in range(5)], "{:.4g}")
    parts.append(f'<text x="{_num((x0 + x1) / 2)}" y="{_num(top + plot_h + 28)}" text-anchor="middle" '
                 f'fill="#4b5563">{_e(unit)}</text>')
    for k, (label, values) in enumerate(data):
        color = PALETTE[k % len(PALETTE)]
        n = len(values)
        step = max(1, n // max_points)
        idx = list(range(0, n, step))
        if idx[-1] != n - 1:
            idx.append(n - 1)
        d = [f"M{_num(sx(values[0]))} {_num(sy(0))}"]
        for i in idx:
            d.append(f"L{_num(sx(values[i]))} {_num(sy((i + 1) / n))}")
        p50, p95 = percentile(values, 0.5), percentile(values, 0.95)
        parts.append(f'<path d="{"".join(d)}" stroke="{color}" stroke-width="1.8" fill="none"/>')
        ly = legend_y + 16 * k
        parts.append(f'<rect x="{x0}" y="{ly - 9}" width="12" height="4" fill="{color}"/>'
                     f'<text x="{x0 + 18}" y="{ly}">{_e(_label(label, 60))}: n={n}, p50={p50:.4g}, '
                     f"p95={p95:.4g} {_e(unit)}</text>")
    if omitted:
        parts.append(f'<text x="{x0}" y="{legend_y + 16 * len(data)}" fill="#6b7280">'
                     f"{omitted} more series not shown</text>")
    parts.append("</svg>")
    return "".join(parts)


def trend_chart(title: str, runs: Sequence[str], series: Iterable[tuple[str, Sequence[float | None]]],
                max_series: int = len(PALETTE), low: float = 0.0, high: float = 1.0) -> str:
    """Lines of a value across runs on a ``low..high`` axis (0..1 for rates); ``None`` leaves a gap."""
    span = (high - low) or 1.0
    data = [(str(label), list(values)) for label, values in series]
    data = [(label, values) for label, values in data if any(v is not None for v in values)]
    if not data or len(runs) < 1:
        return _empty(title, "no history")
    omitted = max(0, len(data) - max_series)
    data = data[:max_series]
    x0, x1, top, plot_h = 46, WIDTH - 16, TOP, 170
    legend_y = top + plot_h + 36
    height = legend_y + 16 * len(data) + (16 if omitted else 0) + 4
    count = len(runs)

    def sx(i: int) -> float:
        return (x0 + x1) / 2 if count == 1 else x0 + i / (count - 1) * (x1 - x0)

    def sy(v: float) -> float:
        return top + (1 - min(max((v - low) / span, 0.0), 1.0)) * plot_h

    parts = [_svg_open(height, title), f'<text x="6" y="16" font-weight="600" font-size="12">{_e(title)}</text>']
    for p in (low + span * k / 4 for k in range(5)):
        parts.append(f'<line x1="{x0}" y1="{_num(sy(p))}" x2="{x1}" y2="{_num(sy(p))}" stroke="#e5e7eb"/>'
                     f'<text x="{x0 - 6}" y="{_num(sy(p) + 4)}" text-anchor="end" fill="#4b5563">'
                     f'{f"{p:.2f}" if (low, high) == (0.0, 1.0) else f"{p:.3g}"}</text>')
    label_every = max(1, math.ceil(count / 8))
    for i, run in enumerate(runs):
        if i % label_every == 0 or i == count - 1:
            parts.append(f'<text x="{_num(sx(i))}" y="{_num(top + plot_h + 16)}" text-anchor="middle" '
                         f'fill="#4b5563">{_e(_label(str(run), 16))}</text>')
    for k, (label, values) in enumerate(data):
        color = PALETTE[k % len(PALETTE)]
        d, pen = [], False
        for i, v in enumerate(values[:count]):
            if v is None:
                pen = False
                continue
            d.append(f"{'L' if pen else 'M'}{_num(sx(i))} {_num(sy(v))}")
            pen = True
            parts.append(f'<circle cx="{_num(sx(i))}" cy="{_num(sy(v))}" r="2.5" fill="{color}">'
                         f"<title>{_e(f'{label} @ {runs[i]}: {v:.3f}')}</title></circle>")
        parts.append(f'<path d="{"".join(d)}" stroke="{color}" stroke-width="1.6" fill="none"/>')
        ly = legend_y + 16 * k
        parts.append(f'<rect x="{x0}" y="{ly - 9}" width="12" height="4" fill="{color}"/>'
                     f'<text x="{x0 + 18}" y="{ly}">{_e(_label(label, 70))}</text>')
    if omitted:
        parts.append(f'<text x="{x0}" y="{legend_y + 16 * len(data)}" fill="#6b7280">'
                     f"{omitted} more suites not shown</text>")
    parts.append("</svg>")
    return "".join(parts)


__all__ = ["interval_bars", "headline_chart", "delta_chart", "cdf_chart", "trend_chart"]
