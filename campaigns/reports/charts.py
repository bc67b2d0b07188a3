"""Tiny server-side charts (inline SVG): no JavaScript, no CDN, nothing fetched from outside."""

from __future__ import annotations

from django.utils.html import escape, format_html
from django.utils.safestring import SafeString, mark_safe

PALETTE = ["#417690", "#e07b39", "#5b9e4d", "#b04a6f", "#8c6bb1"]


def bar_chart(rows: list[tuple[str, int | float]], *, width: int = 640, bar_height: int = 22) -> SafeString:
    """Horizontal bars, one per (label, value), scaled to the largest value."""
    label_w = 220
    top = max((v for _, v in rows), default=0) or 1
    height = bar_height * len(rows) + 4
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" role="img" class="scrm-chart">']
    for i, (label, value) in enumerate(rows):
        y = i * bar_height + 2
        w = (width - label_w - 70) * (value / top)
        parts.append(
            f'<text x="{label_w - 6}" y="{y + bar_height * 0.7:.1f}" text-anchor="end" font-size="12">{escape(label)}</text>'
            f'<rect x="{label_w}" y="{y + 2}" width="{w:.1f}" height="{bar_height - 6}" fill="{PALETTE[0]}"><title>{escape(label)}: {value}</title></rect>'
            f'<text x="{label_w + w + 4:.1f}" y="{y + bar_height * 0.7:.1f}" font-size="12">{value}</text>'
        )
    parts.append("</svg>")
    return mark_safe("".join(parts))  # noqa: S308 - every interpolated label is escaped above


def line_chart(labels: list[str], series: dict[str, list[float]], *, width: int = 720, height: int = 220) -> SafeString:
    """One polyline per series over shared x labels, with a legend."""
    pad_l, pad_b, pad_t = 40, 24, 10
    n = max(len(labels), 2)
    top = max((max(values, default=0) for values in series.values()), default=0) or 1
    plot_w, plot_h = width - pad_l - 10, height - pad_b - pad_t
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height + 20}" role="img" class="scrm-chart">']
    parts.append(f'<line x1="{pad_l}" y1="{pad_t + plot_h}" x2="{pad_l + plot_w}" y2="{pad_t + plot_h}" stroke="#999"/>')
    parts.append(f'<text x="{pad_l - 4}" y="{pad_t + 10}" text-anchor="end" font-size="11">{top:g}</text>')
    for i, label in enumerate(labels):
        if i % max(1, len(labels) // 7) == 0:
            x = pad_l + plot_w * i / (n - 1)
            parts.append(f'<text x="{x:.1f}" y="{height - 6}" text-anchor="middle" font-size="10">{escape(label)}</text>')
    for k, (name, values) in enumerate(series.items()):
        color = PALETTE[k % len(PALETTE)]
        points = " ".join(f"{pad_l + plot_w * i / (n - 1):.1f},{pad_t + plot_h * (1 - v / top):.1f}" for i, v in enumerate(values))
        parts.append(f'<polyline fill="none" stroke="{color}" stroke-width="2" points="{points}"/>')
        parts.append(f'<rect x="{pad_l + k * 110}" y="{height + 6}" width="10" height="10" fill="{color}"/>')
        parts.append(f'<text x="{pad_l + k * 110 + 14}" y="{height + 15}" font-size="11">{escape(name)}</text>')
    parts.append("</svg>")
    return mark_safe("".join(parts))  # noqa: S308 - labels escaped, numbers formatted


def percent(value: float | None) -> str:
    return "–" if value is None else format_html("{}%", f"{value * 100:.2f}")
