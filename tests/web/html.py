"""Reads a dashboard page as a browser without JavaScript would: its tables (per asset
section), forms, inputs, labels and scripts, with the standard library's HTML parser."""

from __future__ import annotations

from dataclasses import dataclass, field
from html.parser import HTMLParser


@dataclass
class Form:
    method: str
    action: str
    inputs: list[dict[str, str]] = field(default_factory=list)
    buttons: int = 0


@dataclass
class Page:
    tables: dict[tuple[str, str], list[list[str]]] = field(default_factory=dict)  # (section, class)
    forms: list[Form] = field(default_factory=list)
    labels: set[str] = field(default_factory=set)  # the ids labels are for
    scripts: int = 0
    links: list[str] = field(default_factory=list)


class _Reader(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.page = Page()
        self.section = ""
        self.table: list[list[str]] | None = None
        self.row: list[str] | None = None
        self.cell: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "section":
            self.section = a.get("id", "").removeprefix("asset-")
        elif tag == "table":
            self.table = self.page.tables.setdefault((self.section, a.get("class", "")), [])
        elif tag == "tr" and self.table is not None:
            self.row = []
        elif tag in ("td", "th") and self.row is not None:
            self.cell = []
        elif tag == "form":
            self.page.forms.append(Form(a.get("method", "get"), a.get("action", "")))
        elif tag in ("input", "textarea") and self.page.forms:
            self.page.forms[-1].inputs.append(a if tag == "input" else a | {"type": "textarea"})
        elif tag == "button" and self.page.forms:
            self.page.forms[-1].buttons += 1
        elif tag == "label":
            self.page.labels.add(a.get("for", ""))
        elif tag == "script":
            self.page.scripts += 1
        elif tag == "a":
            self.page.links.append(a.get("href", ""))

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self.cell is not None and self.row is not None:
            self.row.append(" ".join("".join(self.cell).split()))
            self.cell = None
        elif tag == "tr" and self.row is not None and self.table is not None:
            self.table.append(self.row)
            self.row = None
        elif tag == "table":
            self.table = None
        elif tag == "section":
            self.section = ""

    def handle_data(self, data: str) -> None:
        if self.cell is not None:
            self.cell.append(data)


def read(html: str) -> Page:
    reader = _Reader()
    reader.feed(html)
    return reader.page
