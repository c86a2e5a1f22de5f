"""One entry for every format: tell the file's dialect, hand it to that dialect's reader.

The group's own Jekyll posts go to `services.jekyll.parse_post`; Jekyll collections, other
Jekyll posts, Hugo pages and Wowchemy events to `pages.read_page`. Each file also gets a key
that names it across imports (its file name when dated, else its folder and name).
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import PurePosixPath

from services import jekyll
from services.site_import.detect import JEKYLL_POST, dialect_of
from services.site_import.files import FILE_DATE_RE, require_markdown, source_key_of
from services.site_import.front_fields import normalise_keys
from services.site_import.front_matter import split_front_matter
from services.site_import.limits import NotATalk, normalise_newlines, require_plain_text
from services.site_import.pages import ReadContext, read_page
from services.site_import.talk_info import PostInfo

_BUNDLE_INDEXES = {"index.md", "index.markdown", "_index.md"}


def read_post(text: str, *, source: str, site_path: str, key: str, hint: str | None, ctx: ReadContext) -> PostInfo:
    """Read one file as whichever dialect it is written in. `source` is the path as given (for
    the report), `site_path` its path inside the site (for what folders say), `key` its key."""
    require_markdown(PurePosixPath(site_path).name)
    require_plain_text(text)
    front = split_front_matter(normalise_newlines(text))
    hint = hint if hint and hint != "auto" else None
    dialect = dialect_of(site_path, front.format, normalise_keys(front.data), hint, ctx.site.generator)
    path = PurePosixPath(site_path)
    loose = "_posts" not in path.parts and not FILE_DATE_RE.match(path.name)
    if dialect == JEKYLL_POST and ctx.site.generator == "jekyll" and loose and hint is None:
        # Jekyll itself makes a page of a file outside _posts and the collections.
        raise NotATalk("a page of the site (outside _posts and the collections), not a talk")
    if dialect == JEKYLL_POST and front.format == "yaml":
        post = jekyll.parse_post(
            text,
            source=source,
            tz=ctx.tz,
            default_minutes=ctx.default_minutes,
            site_url=ctx.site_url,
            resolve_link=ctx.resolve_link,
            known_rooms=ctx.known_rooms,
            site=ctx.site,
        )
        post.source_key = key
        return post
    return read_page(text, source=source, site_path=site_path, key=key, dialect=dialect, ctx=ctx)


def page_key(site_path: str, depth: int = 1) -> str:
    """The key of a page: its file name when the name is dated or it is a Jekyll post (how the
    group's posts have always been keyed), else its name with `depth` folders above it, a
    bundle (`jane-doe/index.md`) named by its folder: "talks/jane-doe.md"."""
    path = PurePosixPath(site_path.replace("\\", "/"))
    name = source_key_of(path.name)
    if FILE_DATE_RE.match(name) or ("_posts" in path.parts and depth == 1):
        return name
    parts = list(path.parts[:-1])
    if name.lower() in _BUNDLE_INDEXES and parts:
        name = parts.pop() + PurePosixPath(name).suffix
    folders = [p for p in parts if p not in ("/", "")][-depth:] if depth else []
    return "/".join([*folders, name])


def assign_keys(site_paths: Iterable[str]) -> dict[str, str]:
    """A key for each page, unique within the import: a key two pages would share takes one
    more folder until they differ."""
    paths = list(site_paths)
    depth = dict.fromkeys(paths, 1)
    for _ in range(8):
        keys = {path: page_key(path, depth[path]) for path in paths}
        seen: dict[str, list[str]] = {}
        for path, key in keys.items():
            seen.setdefault(key, []).append(path)
        clashes = [path for group in seen.values() if len(group) > 1 for path in group]
        if not clashes:
            return keys
        for path in clashes:
            depth[path] += 1
    return {path: page_key(path, depth[path]) for path in paths}
