"""Markdown to safe HTML for talk descriptions, bios and imported posts."""

from __future__ import annotations

from functools import lru_cache

import nh3
from markdown_it import MarkdownIt
from mdit_py_plugins.footnote import footnote_plugin

ALLOWED_TAGS = {
    "a", "abbr", "b", "blockquote", "br", "code", "del", "div", "em", "figcaption", "figure",
    "h2", "h3", "h4", "h5", "h6", "hr", "i", "img", "li", "ol", "p", "pre", "section", "span",
    "strong", "sub", "sup", "table", "tbody", "td", "th", "thead", "tr", "ul",
}  # fmt: skip
ALLOWED_ATTRIBUTES = {
    "a": {"href", "title", "id"},
    "img": {"src", "alt", "title", "width", "height"},
    "li": {"id"},
    "sup": {"id"},
    "section": {"class"},
    "ol": {"start", "class"},
    "td": {"style"},
    "th": {"style"},
    "hr": {"class"},
}
# Only alignment survives from table cells' style attributes.
ALLOWED_STYLES = {"text-align"}


@lru_cache(maxsize=1)
def _parser() -> MarkdownIt:
    # Posts mix Markdown with bits of HTML (<br>, <img>); nh3 removes anything unsafe after.
    return MarkdownIt("commonmark", {"html": True}).enable("table").enable("strikethrough").use(footnote_plugin)


def render(source: str | None) -> str:
    """Render Markdown to HTML that is safe to put into a page as is."""
    if not source:
        return ""
    html = _parser().render(source)
    return nh3.clean(
        html,
        tags=ALLOWED_TAGS,
        attributes=ALLOWED_ATTRIBUTES,
        filter_style_properties=ALLOWED_STYLES,
        url_schemes={"http", "https", "mailto"},
        link_rel="noopener noreferrer",
    )


def shift_headings(html: str, levels: int = 1) -> str:
    """Demote headings so a post's own "#" sits below the page's title."""
    for level in range(6 - levels, 0, -1):
        html = html.replace(f"<h{level}>", f"<h{level + levels}>").replace(f"</h{level}>", f"</h{level + levels}>")
    return html
