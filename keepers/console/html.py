"""HTML for the console: an escaping builder, the page layout and the tiers chart (inline SVG,
drawn on the server: no chart library).

Every value goes through :func:`h` (``html.escape`` with quotes) unless it is :class:`Markup`
built here; a token symbol, a note or a reason with markup in it is shown as text."""

from __future__ import annotations

import html
import json
from collections.abc import Iterable, Sequence
from typing import Any

from keepers.core.amounts import format_amount


class Markup(str):
    """HTML made by this module (already escaped): :func:`h` leaves it as it is; adding text
    to it escapes the text."""

    def __add__(self, other: Any) -> Markup:
        return Markup(str.__add__(self, h(other)))

    def __radd__(self, other: Any) -> Markup:
        return Markup(str.__add__(h(other), self))


def h(value: Any) -> Markup:
    """``value`` as HTML text (escaped), or itself when it is already :class:`Markup`."""
    if isinstance(value, Markup):
        return value
    return Markup(html.escape("" if value is None else str(value), quote=True))


def join(parts: Iterable[Any], sep: str = "") -> Markup:
    return Markup(h(sep).join(h(p) for p in parts))


VOID = {"input", "meta", "br", "img"}


def tag(element: str, /, *children: Any, **attrs: Any) -> Markup:
    """``<element attrs>children</element>``; attribute ``class_`` is ``class``, ``data_x``
    is ``data-x``; None drops one."""
    rendered = "".join(
        f' {k.rstrip("_").replace("_", "-")}="{h(v)}"' for k, v in attrs.items() if v is not None
    )
    if element in VOID:
        return Markup(f"<{element}{rendered}>")
    return Markup(f"<{element}{rendered}>{join(children)}</{element}>")


def post_form(action: str, csrf: str, *fields: Any, **attrs: Any) -> Markup:
    """A POST form to ``action`` whose first field is the session's CSRF token (every form the
    console serves posts with it; the framework refuses a post without it)."""
    token = tag("input", type="hidden", name="csrf", value=csrf)
    return tag("form", token, *fields, method="post", action=action, **attrs)


def json_script(element_id: str, data: Any, nonce: str) -> Markup:
    """Data for the page's script: JSON inside a non-executed script element; ``<``, ``>``
    and ``&`` escaped as JSON unicode escapes so no value can close the element."""
    text = (
        json.dumps(data, sort_keys=True)
        .replace("<", "\\u003c")
        .replace(">", "\\u003e")
        .replace("&", "\\u0026")
    )
    return Markup(
        f'<script type="application/json" id="{h(element_id)}" nonce="{h(nonce)}">{text}</script>'
    )


def table(headers: Sequence[str], rows: Iterable[Sequence[Any]], **attrs: Any) -> Markup:
    head = tag("tr", *(tag("th", x) for x in headers))
    body = [tag("tr", *(tag("td", c) for c in r)) for r in rows]
    return tag("table", tag("thead", head), tag("tbody", *body), **attrs)


def amount(value: int | str | None, decimals: int) -> str:
    if value is None:
        return "-"
    return format_amount(int(value), decimals, places=2)


def pct(bps: int | None) -> str:
    return "-" if bps is None else f"{int(bps) / 100:.2f}%"


STYLE = """
body{font:14px/1.45 system-ui,sans-serif;margin:0;color:#1b1f24;background:#f6f7f9}
header{background:#1f2d3d;color:#fff;padding:.6em 1.2em;display:flex;gap:1.5em;align-items:center}
header a{color:#d6e4f0;text-decoration:none}header b{font-size:1.1em}
main{padding:1em 1.5em;max-width:1100px}
section{background:#fff;border:1px solid #dde1e6;border-radius:6px;padding:.8em 1.1em;margin:0 0 1em}
h1{font-size:1.35em;margin:.2em 0 .6em}h2{font-size:1.1em;margin:.2em 0 .5em}
table{border-collapse:collapse;width:100%}th,td{text-align:left;padding:.25em .6em;border-bottom:1px solid #eef0f2;vertical-align:top}
td.n,th.n{text-align:right}table.kv th{width:16em}code,.hash{font-family:ui-monospace,monospace;font-size:.92em;word-break:break-all}
code.call{word-break:normal;white-space:nowrap}
.ok{color:#137333}.bad{color:#b3261e}.warn{color:#9a6700}.muted{color:#667}
.pill{display:inline-block;padding:0 .5em;border-radius:9px;background:#e8eef5;font-size:.9em}
button,input[type=submit]{font:inherit;padding:.35em .9em;border-radius:5px;border:1px solid #1f5fa8;background:#1f5fa8;color:#fff;cursor:pointer}
input[type=text],input[type=password],textarea{font:inherit;width:100%;box-sizing:border-box;padding:.3em}
#sign-status{margin-top:.5em;font-weight:600}
.flash{padding:.5em .8em;border-radius:5px;margin-bottom:1em}.flash.ok{background:#e6f4ea}.flash.bad{background:#fce8e6}
"""


def page(title: str, body: Any, nonce: str, *, scripts: Any = "", flash: Any = None) -> str:
    """A whole page: header navigation, optional flash line, ``body``, then ``scripts``."""
    nav = tag(
        "header",
        tag("b", "Ballast console"),
        tag("a", "Approvals", href="/approvals"),
        tag("a", "Fund", href="/fund"),
        tag("a", "Plans", href="/plans"),
    )
    note = ""
    if flash is not None:
        ok, text = flash
        note = tag("div", text, class_="flash " + ("ok" if ok else "bad"), id="flash")
    return (
        "<!doctype html><html lang=en><head><meta charset=utf-8>"
        '<meta name=viewport content="width=device-width,initial-scale=1">'
        '<link rel=icon href="data:,">'
        f'<title>{h(title)} - Ballast</title><style nonce="{h(nonce)}">{STYLE}</style></head>'
        f"<body>{nav}<main>{note}<h1>{h(title)}</h1>{h(body)}</main>{h(scripts)}</body></html>"
    )


# ---------------------------------------------------------------------------- the tiers chart

_SERIES = (("before", "#8a94a6"), ("expected", "#1f5fa8"), ("actual", "#137333"))


def tiers_chart(tiers: dict[str, list[dict[str, Any]]]) -> Markup:
    """Each tier's share before, as planned (expected) and after (actual, once executed), as
    horizontal bars over its band (min..max, shaded) and its target (a line); 0-100% wide.
    ``tiers`` maps a series name of _SERIES to the report's tier rows."""
    series = [(name, colour) for name, colour in _SERIES if tiers.get(name)]
    base = tiers[series[0][0]] if series else []
    left, width, row_h, bar_h = 60, 520, 18 + 14 * len(series), 12
    height = 30 + row_h * len(base)

    def x(bps: int) -> float:
        return left + width * max(0, min(10_000, int(bps))) / 10_000

    parts: list[str] = []
    for k in range(0, 10_001, 2_500):
        parts.append(
            f'<line x1="{x(k):.1f}" y1="16" x2="{x(k):.1f}" y2="{height - 8}" stroke="#eef0f2"/>'
            f'<text x="{x(k):.1f}" y="12" font-size="10" text-anchor="middle" '
            f'fill="#667">{k // 100}%</text>'
        )
    for i, t in enumerate(base):
        y0 = 22 + i * row_h
        tier = h(t["tier"])
        lo, hi, target = int(t["min_bps"]), int(t["max_bps"]), int(t["target_bps"])
        parts.append(
            f'<g class="tier" data-tier="{tier}" data-min-bps="{lo}" data-max-bps="{hi}" '
            f'data-target-bps="{target}">'
            f'<text x="4" y="{y0 + row_h / 2:.1f}" font-size="12" fill="#1b1f24">{tier}</text>'
            f'<rect class="band" x="{x(lo):.1f}" y="{y0}" width="{x(hi) - x(lo):.1f}" '
            f'height="{row_h - 6}" fill="#e3f1e6"/>'
            f'<line class="target" x1="{x(target):.1f}" y1="{y0}" x2="{x(target):.1f}" '
            f'y2="{y0 + row_h - 6}" stroke="#137333" stroke-dasharray="3,2"/>'
        )
        for j, (name, colour) in enumerate(series):
            row = tiers[name][i]
            ratio = int(row["ratio_bps"])
            y = y0 + 3 + j * 14
            parts.append(
                f'<rect class="bar {name}" data-ratio-bps="{ratio}" x="{left}" y="{y}" '
                f'width="{x(ratio) - left:.1f}" height="{bar_h}" fill="{colour}">'
                f"<title>{tier} {name} {pct(ratio)}</title></rect>"
                f'<text x="{x(ratio) + 4:.1f}" y="{y + 10}" font-size="10" fill="#1b1f24">'
                f"{pct(ratio)}</text>"
            )
        parts.append("</g>")
    legend = "".join(
        f'<rect x="{left + 110 * j}" y="{height - 6}" width="10" height="10" fill="{c}"/>'
        f'<text x="{left + 14 + 110 * j}" y="{height + 3}" font-size="11">{n}</text>'
        for j, (n, c) in enumerate(series)
    )
    legend += (
        f'<rect x="{left + 110 * len(series)}" y="{height - 6}" width="10" height="10" '
        f'fill="#e3f1e6"/><text x="{left + 14 + 110 * len(series)}" y="{height + 3}" '
        'font-size="11">band (target dashed)</text>'
    )
    return Markup(
        f'<svg id="tiers-chart" role="img" aria-label="tiers against their bands" '
        f'viewBox="0 0 {left + width + 60} {height + 10}" width="{left + width + 60}" '
        f'height="{height + 10}" xmlns="http://www.w3.org/2000/svg">{"".join(parts)}{legend}</svg>'
    )
