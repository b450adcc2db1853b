"""A report's sections as one self-contained HTML page: pictures inlined as data URIs, the style
inline, no script, and a Content-Security-Policy that lets the page load nothing from anywhere,
so it reads the same offline and as a mail attachment. Every text is escaped here, and only
here."""

from __future__ import annotations

import base64
from html import escape

from nnctl.training.sections import Block, Code, Note, Picture, Section, Table

POLICY = "default-src 'none'; img-src data:; style-src 'unsafe-inline'"
STYLE = """
body { font: 15px/1.45 system-ui, sans-serif; color: #222; margin: 0; background: #fafafa; }
main { max-width: 1100px; margin: 0 auto; padding: 1.5em 2em 4em; background: #fff; }
h1 { margin-bottom: 0.2em; } h2 { border-bottom: 1px solid #ddd; margin-top: 2em; }
nav a { margin-right: 1em; } .lead { color: #555; }
table { border-collapse: collapse; margin: 0.8em 0; font-variant-numeric: tabular-nums; }
th, td { border: 1px solid #ddd; padding: 0.25em 0.6em; text-align: left; vertical-align: top; }
th { background: #f2f2f2; } td.number { text-align: right; }
caption { caption-side: bottom; color: #666; font-size: 0.9em; text-align: left; }
figure { margin: 1em 0; } figcaption { color: #666; font-size: 0.9em; }
img { max-width: 100%; height: auto; border: 1px solid #eee; }
pre { background: #f6f6f6; padding: 0.8em; overflow-x: auto; font-size: 13px; line-height: 1.35; }
.origin { color: #888; } .set { color: #b3261e; font-weight: 600; } .note { color: #555; }
"""


def page(title: str, lead: str, sections: list[Section]) -> str:
    """The whole document."""
    anchors = [f"s{number}" for number in range(len(sections))]
    nav = " ".join(
        f'<a href="#{anchor}">{escape(s.title)}</a>'
        for anchor, s in zip(anchors, sections, strict=True)
    )
    body = "\n".join(
        _section(section, anchor) for section, anchor in zip(sections, anchors, strict=True)
    )
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f'<meta http-equiv="Content-Security-Policy" content="{POLICY}">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{escape(title)}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n<main>\n"
        f'<h1>{escape(title)}</h1>\n<p class="lead">{escape(lead)}</p>\n<nav>{nav}</nav>\n'
        f"{body}\n</main>\n</body>\n</html>\n"
    )


def _section(section: Section, anchor: str) -> str:
    blocks = "\n".join(_block(block) for block in section.blocks)
    return f'<section id="{anchor}">\n<h2>{escape(section.title)}</h2>\n{blocks}\n</section>'


def _block(block: Block) -> str:
    if isinstance(block, Table):
        return _table(block)
    if isinstance(block, Picture):
        data = base64.b64encode(block.png).decode("ascii")
        caption = f"<figcaption>{escape(block.caption)}</figcaption>" if block.caption else ""
        return (
            f'<figure><img src="data:image/png;base64,{data}" alt="{escape(block.alt)}">'
            f"{caption}</figure>"
        )
    if isinstance(block, Note):
        return f'<p class="note">{escape(block.text)}</p>'
    if isinstance(block, Code):
        return _annotated(block.text)
    raise TypeError(f"not a report block: {block!r}")


def _table(table: Table) -> str:
    head = "".join(f"<th>{escape(column)}</th>" for column in table.columns)
    rows = "\n".join(
        "<tr>" + "".join(_cell(value) for value in row) + "</tr>" for row in table.rows
    )
    caption = f"<caption>{escape(table.caption)}</caption>" if table.caption else ""
    return f"<table>{caption}<thead><tr>{head}</tr></thead>\n<tbody>\n{rows}\n</tbody></table>"


def _cell(value: str) -> str:
    number = value.replace(",", "").replace(".", "", 1).lstrip("-").isdigit()
    return f'<td class="number">{escape(value)}</td>' if number else f"<td>{escape(value)}</td>"


def _annotated(text: str) -> str:
    """YAML whose lines end in ``  # origin``: the origins dimmed, ``--set`` ones marked."""
    lines = []
    for line in text.splitlines():
        value, mark, where = line.rpartition("  # ")
        if not mark:
            lines.append(escape(line))
            continue
        kind = "set" if where.startswith("--set") else "origin"
        lines.append(f'{escape(value)}  <span class="{kind}"># {escape(where)}</span>')
    return "<pre>" + "\n".join(lines) + "</pre>"
