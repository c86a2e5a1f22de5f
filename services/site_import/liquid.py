"""Jekyll's Liquid in a page's body, and site-relative addresses."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from services.site_import.text import text_value

LinkResolver = Callable[[str], str]

LIQUID_OUTPUT_RE = re.compile(r"\{\{-?\s*(?P<expr>.*?)\s*-?\}\}", re.S)
LIQUID_TAG_RE = re.compile(r"\{%-?\s*(?P<tag>\w+)\s*(?P<args>.*?)\s*-?%\}", re.S)
PUBLICATION_INCLUDE = "display-publication-links.html"
# Lines the Jekyll layout needs but a Lectern page shows by itself (names, venue, links).
_NOISE_LINE_RE = re.compile(
    r"^[ \t]*[*_]*[ \t]*(?:\{\{-?\s*page\.(?:names|venue|title|author)\s*-?\}\}"
    r"|\{%-?\s*include\s+" + re.escape(PUBLICATION_INCLUDE) + r"[^%]*%\})[ \t]*[*_]*[ \t]*$",
    re.M,
)
_SITE_RELATIVE_RE = re.compile(
    r"""(?P<lead>\b(?:src|href)\s*=\s*["']|\]\(\s*<?|^[ \t]*\[[^\]\n]+\]:[ \t]*)/(?!/)""", re.M
)
_IMAGE_RE = re.compile(
    r"""!\[[^\]]*\]\(\s*<?(?P<md>[^)\s>]+)|<img\b[^>]*?\bsrc\s*=\s*["'](?P<html>[^"']+)["']""",
    re.I,
)
# (front matter key, label) in the order the Jekyll include renders them.
PUBLICATION_KEYS = (
    ("link", "Paper"),
    ("code", "Code"),
    ("webpage", "Page"),
    ("twitter", "Tweet"),
    ("video", "Video"),
    ("demo", "Demo"),
)


def drop_jekyll_noise(body: str) -> str:
    return _NOISE_LINE_RE.sub("", body)


def resolve_liquid(
    body: str,
    front: dict[str, Any],
    site_url: str | None,
    resolve_link: LinkResolver,
    warnings: list[str],
) -> str:
    def output(match: re.Match[str]) -> str:
        # Filters ("page.names | upcase") change only the presentation: ignore them.
        expr = match["expr"].split("|")[0].strip()
        scope, _, key = expr.partition(".")
        if scope == "page" and key:
            value = front.get(key)
            if isinstance(value, list):
                return ", ".join(str(v) for v in value)
            return "" if value is None else str(value).strip()
        if expr in ("site.url", "site.baseurl"):
            return (site_url or "").rstrip("/") if expr == "site.url" else ""
        warnings.append(f"unknown Liquid value {{{{ {expr} }}}} dropped")
        return ""

    def tag(match: re.Match[str]) -> str:
        name, args = match["tag"], match["args"]
        if name == "link":
            return resolve_link(args.strip())
        if name == "include" and args.split()[:1] == [PUBLICATION_INCLUDE]:
            return ""
        warnings.append(f"unsupported Liquid tag {{% {name} %}} dropped")
        return ""

    return LIQUID_TAG_RE.sub(tag, LIQUID_OUTPUT_RE.sub(output, body))


def resolve_site_urls(text: str, site_url: str | None) -> str:
    if not site_url:
        return text
    base = site_url.rstrip("/")
    return _SITE_RELATIVE_RE.sub(lambda m: f"{m['lead']}{base}/", text)


def resolve_site_url(url: str, site_url: str | None) -> str:
    if site_url and url.startswith("/") and not url.startswith("//"):
        return site_url.rstrip("/") + url
    return url


def image_urls(body: str) -> list[str]:
    return [m["md"] or m["html"] for m in _IMAGE_RE.finditer(body)]


def publication_links(front: dict[str, Any], site_url: str | None) -> list[tuple[str, str]]:
    links = []
    for key, label in PUBLICATION_KEYS:
        if url := text_value(front.get(key)):
            links.append((label, resolve_site_url(url, site_url)))
    return links
