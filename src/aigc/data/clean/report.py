"""The HTML report of a cleaning run: a summary per kind, then every dropped item with its reason
(and a thumbnail for images). One self-contained file (thumbnails inline as data URIs)."""

from __future__ import annotations

import base64
import html
from collections.abc import Sequence
from pathlib import Path

from aigc.core.atomic import atomic_write_bytes
from aigc.data.clean.common import KindReport

__all__ = ["write_report"]

_STYLE = ("body{font-family:system-ui,sans-serif;margin:2em;max-width:70em}table{border-collapse:collapse}"
          "td,th{border:1px solid #ccc;padding:4px 8px;text-align:left;vertical-align:middle}"
          "img{image-rendering:pixelated;width:64px}")


def _summary(reports: Sequence[KindReport]) -> str:
    rows = "".join(
        f"<tr><td>{html.escape(r.kind)}</td><td>{r.scanned}</td><td>{r.kept}</td>"
        f"<td>{html.escape(', '.join(f'{k}: {v}' for k, v in r.counts().items()) or '-')}</td>"
        f"<td>{html.escape(', '.join(f'{k}: {v}' for k, v in r.repaired.items()) or '-')}</td></tr>"
        for r in reports)
    return ("<table><tr><th>kind</th><th>scanned</th><th>kept</th><th>dropped (reason: count)</th>"
            f"<th>repaired (files)</th></tr>{rows}</table>")


def _drops(report: KindReport) -> str:
    if not report.drops:
        return "<p>nothing dropped</p>"
    rows = []
    for d in report.drops:
        thumb = (f'<img alt="" src="data:image/png;base64,{base64.b64encode(d.thumbnail).decode()}">'
                 if d.thumbnail else "")
        rows.append(f"<tr><td>{thumb}</td><td>{html.escape(d.item)}</td><td>{html.escape(d.reason)}</td>"
                    f"<td>{html.escape(d.detail)}</td></tr>")
    return "<table><tr><th></th><th>item</th><th>reason</th><th>detail</th></tr>" + "".join(rows) + "</table>"


def write_report(path: str | Path, src: str, out: str, reports: Sequence[KindReport], method: str) -> Path:
    """Write the report to ``path`` atomically and return it."""
    notes = "".join(f"<li>{html.escape(n)}</li>" for r in reports for n in r.notes)
    body = [(f"<h1>aigc data clean</h1><p>source <code>{html.escape(src)}</code> (unchanged) &rarr; "
            f"<code>{html.escape(out)}</code>; kept files are {html.escape(method)}.</p>"),
            _summary(reports), f"<ul>{notes}</ul>" if notes else ""]
    for r in reports:
        body.append(f"<h2>{html.escape(r.kind)}: {len(r.drops)} dropped</h2>{_drops(r)}")
    doc = (f"<!doctype html><html><head><meta charset='utf-8'><title>aigc data clean</title>"
           f"<style>{_STYLE}</style></head><body>{''.join(body)}</body></html>\n")
    atomic_write_bytes(path, doc.encode("utf-8"))
    return Path(path)
