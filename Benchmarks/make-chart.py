#!/usr/bin/env python3
"""Draws docs/benchmarks.svg from the "Chart data" table in BENCHMARKS.md.

    Benchmarks/make-chart.py

The table has rows `| benchmark | implementation | value | unit |`; each benchmark becomes a group of
horizontal bars (lower is better: CPU time per request), AsyncIO's bar highlighted. No dependencies.
"""
import html
import os
import re

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def read_rows():
    text = open(os.path.join(ROOT, "BENCHMARKS.md"), encoding="utf-8").read()
    section = text.split("## Chart data", 1)[1]
    rows = []
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 4 and re.match(r"^[0-9.]+$", cells[2]):
            rows.append((cells[0], cells[1], float(cells[2]), cells[3]))
        elif rows and not line.strip():
            break
    return rows


def main():
    rows = read_rows()
    groups = {}
    for bench, impl, value, unit in rows:
        groups.setdefault((bench, unit), []).append((impl, value))
    width, label_w, bar_h, gap = 860, 210, 18, 6
    y = 56
    parts = []
    for (bench, unit), items in groups.items():
        items.sort(key=lambda item: item[1])
        top = max(v for _, v in items)
        parts.append(f'<text x="16" y="{y}" class="group">{html.escape(bench)} '
                     f'<tspan class="unit">({html.escape(unit)}, lower is better)</tspan></text>')
        y += 10
        for impl, value in items:
            bar = (width - label_w - 90) * value / top
            ours = impl == "AsyncIO"
            parts.append(f'<text x="{label_w - 8}" y="{y + bar_h - 5}" class="label{" ours" if ours else ""}" '
                         f'text-anchor="end">{html.escape(impl)}</text>')
            parts.append(f'<rect x="{label_w}" y="{y}" width="{bar:.1f}" height="{bar_h}" rx="3" '
                         f'class="{"bar-ours" if ours else "bar"}"/>')
            parts.append(f'<text x="{label_w + bar + 6:.1f}" y="{y + bar_h - 5}" class="value">{value:g}</text>')
            y += bar_h + gap
        y += 22
    height = y
    svg = f'''<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}">
<style>
  text {{ font: 13px system-ui, -apple-system, "Segoe UI", sans-serif; fill: #1d2330; }}
  .title {{ font-size: 17px; font-weight: 600; }}
  .group {{ font-size: 14px; font-weight: 600; }}
  .unit {{ font-weight: 400; fill: #5b6475; }}
  .label.ours {{ font-weight: 700; }}
  .value {{ fill: #5b6475; }}
  .bar {{ fill: #b8c2d6; }}
  .bar-ours {{ fill: #e8590c; }}
</style>
<rect width="100%" height="100%" fill="#ffffff"/>
<text x="16" y="28" class="title">AsyncIO against its peers: CPU time per request (BENCHMARKS.md)</text>
{chr(10).join(parts)}
</svg>
'''
    path = os.path.join(ROOT, "docs", "benchmarks.svg")
    os.makedirs(os.path.dirname(path), exist_ok=True)
    open(path, "w", encoding="utf-8").write(svg)
    print(f"wrote {path} ({len(rows)} bars)")


if __name__ == "__main__":
    main()
