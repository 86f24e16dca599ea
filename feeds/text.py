"""Turning the HTML and escaped text that feeds carry into plain text."""

from __future__ import annotations

import html
import re

import lxml.html
from lxml import etree

_BLOCK_TAGS = {
    "p",
    "div",
    "br",
    "li",
    "ul",
    "ol",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "tr",
    "table",
    "section",
    "article",
    "blockquote",
    "pre",
    "hr",
    "dd",
    "dt",
}
_LOOKS_LIKE_HTML = re.compile(r"<(?:[a-zA-Z][a-zA-Z0-9]*)(?:\s[^<>]*)?/?>|&(?:[a-z]+|#\d+);")
_SPACES = re.compile(r"[ \t\u00a0]+")
_BLANK_LINES = re.compile(r"\n\s*\n\s*(\n\s*)+")


def plain_text(value: str | None) -> str:
    """Return ``value`` as plain text: HTML tags dropped, entities decoded, blank runs squeezed.

    >>> plain_text("<p>Intro to <b>eBPF</b></p><p>Doors&nbsp;6pm<br>Talk 6:30</p>")
    'Intro to eBPF\\n\\nDoors 6pm\\nTalk 6:30'
    >>> plain_text("Plain text stays: 3 < 4")
    'Plain text stays: 3 < 4'
    """
    if not value:
        return ""
    text = value.replace("\r\n", "\n").replace("\r", "\n")
    if _LOOKS_LIKE_HTML.search(text):
        text = _html_to_text(text)
    lines = [_SPACES.sub(" ", line).strip() for line in text.split("\n")]
    return _BLANK_LINES.sub("\n\n", "\n".join(lines)).strip()


def _html_to_text(markup: str) -> str:
    try:
        root = lxml.html.fragment_fromstring(markup, create_parent="div")
    except (etree.ParserError, ValueError):
        return html.unescape(re.sub(r"<[^>]+>", " ", markup))
    for bad in root.iter("script", "style"):
        bad.drop_tree() if bad.getparent() is not None else None
    parts: list[str] = []

    def walk(node: etree._Element) -> None:
        tag = node.tag if isinstance(node.tag, str) else ""
        if tag == "br":
            parts.append("\n")
        elif tag in _BLOCK_TAGS:
            parts.append("\n\n" if tag == "p" else "\n")
        if tag == "li":
            parts.append("- ")
        if node.text and tag not in ("script", "style"):
            parts.append(node.text)
        for child in node:
            walk(child)
        if tag in _BLOCK_TAGS and tag != "br":
            parts.append("\n\n" if tag == "p" else "\n")
        if node.tail:
            parts.append(node.tail)

    walk(root)
    return "".join(parts).replace("\n\n\n", "\n\n")
