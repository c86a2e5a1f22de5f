"""Which format a file is written in, told from the file itself and where it sits, and what the
site around it says (its generator, its time zone, its author profiles).

Dialects:
- "jekyll-post": a Jekyll post (`_posts/`, or a dated file name such as 2029-03-05-jane-doe.md);
- "jekyll-collection": an item of a Jekyll collection (`_talks/`, `_past/`, any `_<name>/` folder);
- "hugo": a Hugo page, plain (`content/talks/jane-doe.md`) or a bundle (`.../jane-doe/index.md`),
  with YAML, TOML or JSON front matter;
- "wowchemy-event": the Hugo Academic / Wowchemy event type (its own front matter keys).

A `hint` ("jekyll", "hugo", "wowchemy") only settles what the file leaves open; "auto" or None
leaves it all to the file.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

import yaml

from services.site_import import wowchemy
from services.site_import.files import FILE_DATE_RE
from services.site_import.front_matter import load_front_matter, split_front_matter
from services.site_import.limits import MAX_POST_BYTES, NotATalk, PostError, normalise_newlines
from services.site_import.speakers import affiliation_text
from services.site_import.talk_info import SpeakerInfo
from services.site_import.text import text_value

JEKYLL_POST, JEKYLL_COLLECTION, HUGO, WOWCHEMY_EVENT = "jekyll-post", "jekyll-collection", "hugo", "wowchemy-event"
DIALECT_NAMES = {
    JEKYLL_POST: "Jekyll post",
    JEKYLL_COLLECTION: "Jekyll collection",
    HUGO: "Hugo page",
    WOWCHEMY_EVENT: "Wowchemy event",
}
HINTS = ("auto", "jekyll", "hugo", "wowchemy")
# Jekyll's own folders: never a collection of talks.
_JEKYLL_FOLDERS = {"_posts", "_drafts", "_pages", "_data", "_includes", "_layouts", "_sass", "_site", "_history"}
_HUGO_CONFIGS = ("hugo.toml", "hugo.yaml", "hugo.yml", "hugo.json", "config.toml", "config.yaml", "config.yml")
MAX_PROFILES = 500


def dialect_of(
    source: str, front_format: str, keys: Mapping[str, Any], hint: str | None = None, generator: str | None = None
) -> str:
    """The dialect a file is written in: from its front matter's keys and format, then its path.
    `hint` (the organizer's) settles it; `generator` (the site's configuration) only breaks a tie."""
    parts = PurePosixPath(source.replace("\\", "/")).parts
    folders, name = parts[:-1], (parts[-1] if parts else "")
    event_folder = any(f in ("event", "talk") for f in folders)
    collection = any(f.startswith("_") and f not in _JEKYLL_FOLDERS for f in folders)
    if hint == "jekyll":
        return JEKYLL_COLLECTION if collection and "_posts" not in folders else JEKYLL_POST
    if hint in ("hugo", "wowchemy"):
        return WOWCHEMY_EVENT if hint == "wowchemy" or wowchemy.is_event(keys) or event_folder else HUGO
    if wowchemy.is_event(keys):
        return WOWCHEMY_EVENT
    if "_posts" in folders and front_format == "yaml":
        return JEKYLL_POST
    if collection and front_format == "yaml":
        return JEKYLL_COLLECTION
    hugo_like = (
        front_format in ("toml", "json")
        or "content" in folders
        or name.lower() in ("index.md", "index.markdown", "_index.md")
        or generator == "hugo"
    )
    if hugo_like:
        return WOWCHEMY_EVENT if event_folder else HUGO
    return JEKYLL_POST if front_format == "yaml" or FILE_DATE_RE.match(name) else HUGO


def is_dated(name: str) -> bool:
    return FILE_DATE_RE.match(name) is not None


# ---------------------------------------------------------------------------------------
# The site around the files


@dataclass
class SiteInfo:
    """What the site says about itself: read once per import, from the folder imported."""

    root: Path | None = None
    generator: str | None = None  # "jekyll", "hugo" or None
    timezone: str | None = None  # the site's configured zone, when it names one
    profiles: dict[str, SpeakerInfo] = field(default_factory=dict)  # author profiles by slug

    def describe(self) -> str:
        parts = [f"a {self.generator.capitalize()} site" if self.generator else "a folder of pages"]
        if self.timezone:
            parts.append(f"time zone {self.timezone}")
        if self.profiles:
            parts.append(f"{len(self.profiles)} author profiles")
        return ", ".join(parts)


def describe_site(path: Path) -> SiteInfo:
    """The site a folder (or a file) belongs to: its root, generator and time zone from its
    configuration, and the author profiles of a Hugo site (content/authors/<slug>/_index.md)."""
    start = path if path.is_dir() else path.parent
    info = SiteInfo()
    for folder in [start, *start.parents][:4]:
        generator, timezone = _config_at(folder)
        if generator:
            info.root, info.generator, info.timezone = folder, generator, timezone
            break
    authors_roots = [(info.root or start) / "content" / "authors", start / "authors", start / "content" / "authors"]
    for folder in [start, *start.parents][:4]:
        authors_roots.append(folder / "content" / "authors")
    for authors in dict.fromkeys(authors_roots):
        if authors.is_dir():
            info.profiles = read_profiles(authors)
            if info.generator is None:
                info.generator = "hugo"
            break
    return info


def _config_at(folder: Path) -> tuple[str | None, str | None]:
    jekyll = folder / "_config.yml"
    if jekyll.is_file():
        data = _small_yaml(jekyll)
        return "jekyll", text_value(data.get("timezone")) if isinstance(data, dict) else None
    for name in _HUGO_CONFIGS:
        config = folder / name
        # "config.yaml" is a common name: it is Hugo's only beside a content folder.
        if config.is_file() and (name.startswith("hugo.") or (folder / "content").is_dir()):
            data = _small_toml(config) if name.endswith(".toml") else _small_yaml(config)
            zone = data.get("timeZone") or data.get("timezone") if isinstance(data, dict) else None
            return "hugo", text_value(zone)
    if (folder / "config" / "_default").is_dir() and (folder / "content").is_dir():
        return "hugo", None
    return None, None


def _small_yaml(path: Path) -> Any:
    try:
        return load_front_matter(_read_small(path))
    except (PostError, OSError, UnicodeDecodeError, yaml.YAMLError):
        return None


def _small_toml(path: Path) -> Any:
    try:
        text = _read_small(path)
        if len(text) > 64 * 1024:
            return None
        return tomllib.loads(text)
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError, ValueError):
        return None


def _read_small(path: Path) -> str:
    with path.open("rb") as file:
        raw = file.read(MAX_POST_BYTES + 1)
    if len(raw) > MAX_POST_BYTES:
        raise PostError("configuration file too large")
    return raw.decode("utf-8-sig")


def read_profiles(authors: Path) -> dict[str, SpeakerInfo]:
    """Author profiles by slug: the name (`title` or `name`), the first organization, the bio."""
    profiles: dict[str, SpeakerInfo] = {}
    for index, folder in enumerate(sorted(p for p in authors.iterdir() if p.is_dir())):
        if index >= MAX_PROFILES:
            break
        page = next((folder / n for n in ("_index.md", "index.md") if (folder / n).is_file()), None)
        if page is None:
            continue
        try:
            front = split_front_matter(normalise_newlines(_read_small(page))).data
        except (PostError, NotATalk, OSError, UnicodeDecodeError):
            continue
        name = text_value(front.get("title")) or text_value(front.get("name"))
        if not name:
            continue
        organizations = front.get("organizations") or front.get("affiliation") or front.get("organization")
        if isinstance(organizations, list) and organizations:
            organizations = organizations[:1]
        profiles[folder.name] = SpeakerInfo(
            name=name,
            affiliation=affiliation_text(organizations),
            bio_md=text_value(front.get("bio")),
        )
    return profiles
