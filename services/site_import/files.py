"""What a file's path says: its key, the date in its name, the semester of its folder."""

from __future__ import annotations

import re
from datetime import date
from pathlib import PurePosixPath
from typing import Any

from services.site_import.limits import NotATalk
from services.site_import.talk_info import START, warn
from services.site_import.text import as_list

COMMIT_SUFFIX_RE = re.compile(r"@[0-9a-fA-F]{4,40}(?=\.[^.]*$|$)")
FILE_DATE_RE = re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})(?!\d)")
SEMESTER_RE = re.compile(r"^(winter|spring|summer|fall|autumn)[-_ ]?(\d{4})$", re.I)
MARKDOWN_SUFFIXES = {".md", ".markdown", ".mdown", ".mkd"}
_IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".gif", ".svg", ".webp", ".bmp", ".tif", ".tiff"}


def source_key_of(source: str) -> str:
    """The post's key: its file name without folders or a "@commit" suffix.

    "_history/.../2024-05-20-tianbao-xie@b688258.md" -> "2024-05-20-tianbao-xie.md"; the
    importer uses it to match a post with its `{% link %}`s and its earlier versions.
    """
    name = PurePosixPath(source.replace("\\", "/")).name
    return COMMIT_SUFFIX_RE.sub("", name)


def require_markdown(file_name: str) -> None:
    suffix = PurePosixPath(file_name).suffix.lower()
    if suffix in MARKDOWN_SUFFIXES:
        return
    if suffix in _IMAGE_SUFFIXES:
        raise NotATalk("not a Markdown post (image)")
    kind = f"{suffix[1:]} file" if suffix else "no file extension"
    raise NotATalk(f"not a Markdown post ({kind})")


def file_name_date(file_name: str, warnings: list[str]) -> date | None:
    match = FILE_DATE_RE.match(file_name)
    if match is None:
        return None
    try:
        return date(int(match[1]), int(match[2]), int(match[3]))
    except ValueError:
        warn(warnings, START, f"file name date {match[0]} is not a real date; ignored")
        return None


def semester_slug(value: str) -> str | None:
    match = SEMESTER_RE.match(value.strip())
    return f"{match[1].lower()}-{match[2]}" if match else None


def semester_from_categories(front: dict[str, Any]) -> str | None:
    for category in as_list(front.get("categories")):
        if slug := semester_slug(str(category)):
            return slug
    return None


def semester_from_folder(source: str) -> str | None:
    parent = PurePosixPath(source.replace("\\", "/")).parent.name
    return semester_slug(parent) if parent else None
