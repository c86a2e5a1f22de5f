"""What is Hugo's own in a content file: shortcodes in the body, section list pages (`_index.md`),
drafts, and page bundles (`content/<section>/<name>/index.md`, whose name is the folder's)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import PurePosixPath
from typing import Any

from services.site_import.limits import NotATalk

# {{< name args >}} and {{% name args %}}, opening or closing ({{< /name >}}).
_SHORTCODE_RE = re.compile(r"\{\{([<%])\s*(?P<close>/)?\s*(?P<name>[\w./-]+)(?P<args>.*?)\s*[>%]\}\}", re.S)
_FIRST_ARG_RE = re.compile(r"""^\s*(?:(?:id|src|url|href)\s*=\s*)?["']?(?P<arg>[^\s"']+)""")
_VIDEO_SHORTCODES = {
    "youtube": "https://www.youtube.com/watch?v={}",
    "vimeo": "https://vimeo.com/{}",
}


def clean_body(body: str) -> tuple[str, list[tuple[str, str]]]:
    """The body without shortcodes, and the links they stood for (a YouTube video, a figure).

    Paired shortcodes ({{% callout %}}...{{% /callout %}}) keep what they enclose."""
    links: list[tuple[str, str]] = []

    def replace(match: re.Match[str]) -> str:
        if match["close"]:
            return ""
        name = match["name"].lower()
        arg = _FIRST_ARG_RE.match(match["args"] or "")
        value = arg["arg"] if arg else ""
        if name in _VIDEO_SHORTCODES and value:
            url = _VIDEO_SHORTCODES[name].format(value)
            links.append(("Video", url))
            return f"[Video]({url})"
        if name == "figure" and value:
            return f"![]({value})"
        if name in ("ref", "relref", "staticref") and value:
            return value if name != "staticref" else f"/{value.lstrip('/')}"
        return ""

    return _SHORTCODE_RE.sub(replace, body), links


def require_a_page(source: str, keys: Mapping[str, Any]) -> None:
    """Refuse what a Hugo site holds besides pages: section lists, drafts, headless bundles."""
    name = PurePosixPath(source.replace("\\", "/")).name.lower()
    if name.startswith("_index."):
        raise NotATalk("a section's list page (_index.md), not a talk")
    if keys.get("draft") is True:
        raise NotATalk("a draft (draft: true), not published; set draft to false to import it")
    if keys.get("headless") is True:
        raise NotATalk("a headless bundle (headless: true), not a page")
    build = keys.get("build")
    if isinstance(build, Mapping) and build.get("render") in ("never", False):
        raise NotATalk("a page that is never rendered (build.render), not a talk")
