"""The drift report as one self-contained HTML page: per model version, the output and every feature (worst first)
as an inline SVG histogram of its training vs live shares side by side, with its PSI and status. No script, no
external style sheet, font or CDN: the page opens from a file, offline, and can be mailed as it is."""

from __future__ import annotations

from html import escape
from typing import Any

WIDTH, HEIGHT = 380, 190
LEFT, RIGHT, TOP, BOTTOM = 36, 8, 22, 46
TRAINING_COLOUR = "#9aa5b1"
STATUS_COLOURS = {"ok": "#2f855a", "watch": "#b7791f", "drift": "#c53030", "too_few": "#4a5568"}
LABEL_CHARS = 12

STYLE = """
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; margin: 1.5rem; color: #1a202c; }
h1 { font-size: 1.4rem; margin-bottom: .2rem; } h2 { font-size: 1.1rem; margin: 1.6rem 0 .4rem; }
.meta { color: #4a5568; margin: .2rem 0; }
.cards { display: flex; flex-wrap: wrap; gap: .8rem; }
figure.card { margin: 0; padding: .4rem .5rem; border: 1px solid #e2e8f0; border-radius: 6px; }
figure.card figcaption { font-size: .9rem; margin-bottom: .2rem; }
.status { font-weight: 600; padding: 0 .35rem; border-radius: 4px; color: #fff; }
.status-ok { background: #2f855a; } .status-watch { background: #b7791f; } .status-drift { background: #c53030; }
.status-too_few { background: #4a5568; }
table { border-collapse: collapse; font-size: .9rem; } td, th { padding: .15rem .6rem; text-align: left; }
th { border-bottom: 1px solid #cbd5e0; } td.num { text-align: right; font-variant-numeric: tabular-nums; }
"""


def _status(s: str) -> str:
    return f'<span class="status status-{escape(s)}">{escape(s)}</span>'


def _label(text: str) -> str:
    return text if len(text) <= LABEL_CHARS else text[:LABEL_CHARS - 1] + "\u2026"


def histogram(item: dict[str, Any], title: str) -> str:
    """An SVG of ``item``'s bins (``{"bin", "training", "live"}``): per bin a training and a live bar."""
    bins = item["bins"]
    colour = STATUS_COLOURS.get(item["status"], STATUS_COLOURS["ok"])
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    top = max([0.01, *(b["training"] for b in bins), *(b["live"] for b in bins)])
    group = plot_w / max(1, len(bins))
    bar = max(1.0, group * 0.38)
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" '
             f'viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-label="{escape(title)}">',
             f"<title>{escape(title)}</title>",
             f'<rect x="{LEFT}" y="4" width="10" height="10" fill="{TRAINING_COLOUR}"/>'
             f'<text x="{LEFT + 14}" y="13" font-size="11">training</text>'
             f'<rect x="{LEFT + 80}" y="4" width="10" height="10" fill="{colour}"/>'
             f'<text x="{LEFT + 94}" y="13" font-size="11">live</text>',
             f'<line x1="{LEFT}" y1="{TOP + plot_h}" x2="{WIDTH - RIGHT}" y2="{TOP + plot_h}" stroke="#718096"/>',
             f'<text x="{LEFT - 4}" y="{TOP + 8}" font-size="10" text-anchor="end">{100 * top:.0f}%</text>',
             f'<text x="{LEFT - 4}" y="{TOP + plot_h}" font-size="10" text-anchor="end">0</text>']
    rotate = len(bins) > 4
    for i, b in enumerate(bins):
        x0 = LEFT + i * group + (group - 2 * bar) / 2
        for k, (share, fill) in enumerate(((b["training"], TRAINING_COLOUR), (b["live"], colour))):
            h = plot_h * share / top
            parts.append(f'<rect x="{x0 + k * bar:.1f}" y="{TOP + plot_h - h:.1f}" width="{bar:.1f}" '
                         f'height="{h:.1f}" fill="{fill}"><title>{escape(b["bin"])}: '
                         f'{"training" if k == 0 else "live"} {100 * share:.1f}%</title></rect>')
        cx, cy = LEFT + (i + 0.5) * group, TOP + plot_h + 12
        transform = f' transform="rotate(-35 {cx:.1f} {cy})"' if rotate else ""
        parts.append(f'<text x="{cx:.1f}" y="{cy}" font-size="9" text-anchor="{"end" if rotate else "middle"}"'
                     f"{transform}>{escape(_label(b['bin']))}</text>")
    parts.append("</svg>")
    return "".join(parts)


def _card(name: str, item: dict[str, Any]) -> str:
    title = f"{name}: PSI {item['psi']:.3f}, {item['status']}"
    extra = ""
    if "missing_rate" in item:
        extra = (f"<br><small>missing {100 * item['missing_rate']:.1f}% (training "
                 f"{100 * item['training_missing_rate']:.1f}%), unseen {item['unseen']}</small>")
    return (f'<figure class="card"><figcaption><b>{escape(name)}</b> PSI {item["psi"]:.3f} {_status(item["status"])}'
            f"{extra}</figcaption>{histogram(item, title)}</figure>")


def _model(m: dict[str, Any], min_rows: int) -> str:
    few = f" (fewer than {min_rows} rows: no verdict)" if m["rows"] < min_rows else ""
    head = (f'<section class="model"><h2>model {escape(m["model"])} version <code>{escape(m["version"][:12])}</code> '
            f'{_status(m["status"])}</h2><p class="meta">{m["rows"]} rows in {m["lines"]} requests{few}; '
            f'{escape("/".join(m["arms"]))}{"; " + escape(", ".join(m["clouds"])) if m["clouds"] else ""}; '
            f"profile <code>{escape(m['profile'])}</code></p>")
    rows = "".join(f'<tr><td>{escape(f["name"])}</td><td class="num">{f["psi"]:.3f}</td><td>{_status(f["status"])}'
                   f'</td><td class="num">{100 * f["missing_rate"]:.1f}%</td><td class="num">{f["unseen"]}</td></tr>'
                   for f in m["features"])
    table = (f"<table><thead><tr><th>feature</th><th>PSI</th><th>status</th><th>missing</th><th>unseen</th></tr>"
             f"</thead><tbody>{rows}</tbody></table>")
    cards = "".join([_card("output", m["output"]), *(_card(f["name"], f) for f in m["features"])])
    return f'{head}{table}<div class="cards">{cards}</div></section>'


def render_html(report: dict[str, Any], heading: str, notes: list[str]) -> str:
    """The whole page for a report (smodels.drift.report.build_report) and the notes said beside it."""
    body = "".join(_model(m, report["min_rows"]) for m in report["models"]) or "<p>No model version to show.</p>"
    note_list = "".join(f"<li>{escape(n)}</li>" for n in notes)
    return ("<!DOCTYPE html>\n"
            f'<html lang="en"><head><meta charset="utf-8"><title>Drift: endpoint {escape(report["endpoint"])}</title>'
            f"<style>{STYLE}</style></head><body>"
            f'<h1>Drift of endpoint {escape(report["endpoint"])}</h1><p class="meta">{escape(heading)}</p>'
            f'<p class="meta">PSI of the live inputs and outputs against the training profile: below 0.1 ok, 0.1 to '
            f"0.25 watch, 0.25 and above drift; below {report['min_rows']} rows too_few. Bars: share of rows per "
            f"bin, training (grey) and live.</p>{body}"
            + (f'<section class="notes"><h2>Notes</h2><ul>{note_list}</ul></section>' if notes else "")
            + "</body></html>\n")
