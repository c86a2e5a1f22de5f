"""Front matter within bounds: YAML between `---` lines (Jekyll, Hugo), TOML between `+++`
lines and a JSON object (Hugo).

Every format is held to the same bounds (size, nesting, number of values) before it is
parsed, so a hostile file is refused with a one-line reason before it costs time or memory.
"""

from __future__ import annotations

import json
import re
import tomllib
from dataclasses import dataclass
from typing import Any

import yaml

from services.site_import.limits import MAX_FRONT_MATTER_BYTES, MAX_YAML_DEPTH, MAX_YAML_NODES, PostError
from services.site_import.text import squash_spaces


class BoundedLoader(yaml.SafeLoader):
    """PyYAML's safe loader that refuses a document too deep or too large once its aliases
    are expanded, while composing it, so a hostile document is never built or recursed into.

    Composition is where PyYAML recurses (one Python frame or more per level) and where an
    alias bomb is still a few hundred nodes; each finished node remembers how many nodes and
    levels it stands for, so an alias costs what the value it repeats would cost.
    """

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._open: list[int] = []  # for each node being composed: the tallest child so far
        self._expanded = 0  # nodes composed so far, each alias counted as its whole value
        self._extent: dict[yaml.Node, tuple[int, int]] = {}  # finished node -> (nodes, levels)

    def compose_node(self, parent: yaml.Node | None, index: Any) -> yaml.Node:
        if self.check_event(yaml.AliasEvent):
            node = super().compose_node(parent, index)
            if node not in self._extent:
                raise PostError("front matter uses a YAML alias inside the value it names")
            nodes, levels = self._extent[node]
            self._count(nodes)
            self._finish(levels)
            return node
        if len(self._open) >= MAX_YAML_DEPTH:
            raise _too_deep()
        self._open.append(0)
        before = self._expanded
        node = super().compose_node(parent, index)
        self._count(1)
        levels = self._open.pop() + 1
        self._extent[node] = (self._expanded - before, levels)
        self._finish(levels)
        return node

    def _count(self, nodes: int) -> None:
        self._expanded += nodes
        if self._expanded > MAX_YAML_NODES:
            raise PostError(f"front matter uses YAML aliases that expand too far (more than {MAX_YAML_NODES:,} values)")

    def _finish(self, levels: int) -> None:
        if len(self._open) + levels > MAX_YAML_DEPTH:
            raise _too_deep()
        if self._open:
            self._open[-1] = max(self._open[-1], levels)


def _too_deep() -> PostError:
    return PostError(f"front matter is nested more than {MAX_YAML_DEPTH} levels deep")


def load_front_matter(text: str) -> Any:
    """The YAML between the `---` lines, within the bounds above; PostError says what is wrong."""
    size = len(text.encode("utf-8"))
    if size > MAX_FRONT_MATTER_BYTES:
        raise PostError(
            f"front matter is larger than {MAX_FRONT_MATTER_BYTES // 1024} KB ({size // 1024} KB); "
            "a post's front matter is a few lines"
        )
    try:
        return yaml.load(text, Loader=BoundedLoader)  # a SafeLoader subclass: no Python objects
    except yaml.YAMLError as error:
        raise PostError(f"front matter is not valid YAML: {_yaml_problem(error)}") from None
    except (ValueError, OverflowError) as error:
        # YAML that Python cannot build: "date: 2025-13-45", an integer of 5,000 digits, ...
        problem = squash_spaces(str(error))[:120]
        raise PostError(f"front matter has a value that cannot be read ({problem})") from None


def _yaml_problem(error: yaml.YAMLError) -> str:
    problem = getattr(error, "problem", None) or str(error).splitlines()[0]
    mark = getattr(error, "problem_mark", None)
    # +2: the mark is 0-based and counts from the line after the opening "---".
    return f"{problem} (line {mark.line + 2})" if mark is not None else problem


# ---------------------------------------------------------------------------------------
# Any format: which one the delimiters say, the data within bounds, and the body after it

_YAML_RE = re.compile(r"\A\ufeff?---[ \t]*\n(.*?)^(?:---|\.\.\.)[ \t]*(?:\n|\Z)", re.S | re.M)
_TOML_RE = re.compile(r"\A\ufeff?\+\+\+[ \t]*\n(.*?)^\+\+\+[ \t]*(?:\n|\Z)", re.S | re.M)


@dataclass
class FrontMatter:
    format: str  # "yaml", "toml", "json" or "none"
    data: dict[str, Any]
    body: str


def split_front_matter(text: str) -> FrontMatter:
    """The front matter (in whichever format its delimiters say) and the body after it.

    A file without front matter gives format "none" and empty data; PostError says what is
    wrong with one that has front matter that cannot be read.
    """
    if match := _YAML_RE.match(text):
        return FrontMatter("yaml", _as_mapping(load_front_matter(match[1])), text[match.end() :])
    if match := _TOML_RE.match(text):
        return FrontMatter("toml", load_toml_front_matter(match[1]), text[match.end() :])
    stripped = text.lstrip("\ufeff")
    if stripped.startswith("{"):
        data, end = load_json_front_matter(stripped)
        return FrontMatter("json", data, stripped[end:].lstrip(" \t").removeprefix("\n"))
    return FrontMatter("none", {}, text)


def _as_mapping(data: Any) -> dict[str, Any]:
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise PostError("front matter is not a set of key: value lines")
    return data


def _require_small(text: str) -> None:
    size = len(text.encode("utf-8"))
    if size > MAX_FRONT_MATTER_BYTES:
        raise PostError(
            f"front matter is larger than {MAX_FRONT_MATTER_BYTES // 1024} KB ({size // 1024} KB); "
            "a post's front matter is a few lines"
        )


def load_toml_front_matter(text: str) -> dict[str, Any]:
    """The TOML between the `+++` lines, within the same bounds as YAML front matter."""
    _require_small(text)
    _require_shallow(text, toml=True)
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise PostError(f"front matter is not valid TOML: {squash_spaces(str(error))[:160]}") from None
    except (ValueError, OverflowError) as error:
        raise PostError(f"front matter has a value that cannot be read ({squash_spaces(str(error))[:120]})") from None
    _require_within_bounds(data)
    return data


def load_json_front_matter(text: str) -> tuple[dict[str, Any], int]:
    """The JSON object that opens the file, within the same bounds, and where it ends."""
    end = _require_shallow(text, toml=False)
    if end is None:
        raise PostError("front matter is not valid JSON: the opening { is never closed")
    _require_small(text[:end])
    try:
        data = json.loads(text[:end])
    except ValueError as error:
        raise PostError(f"front matter is not valid JSON: {squash_spaces(str(error))[:160]}") from None
    _require_within_bounds(data)
    return _as_mapping(data), end


def _require_shallow(text: str, *, toml: bool) -> int | None:
    """Refuse brackets nested deeper than the bound before a recursive parser sees them.

    Counts [ and { outside strings (and, in TOML, comments). For JSON, returns where the
    opening object closes (None if it never does); the scan stops there.
    """
    depth = 0
    index = 0
    length = len(text)
    while index < length:
        char = text[index]
        if char in "\"'" and (toml or char == '"'):
            index = _string_end(text, index, toml=toml)
            continue
        if char == "#" and toml:
            newline = text.find("\n", index)
            index = length if newline < 0 else newline
            continue
        if char in "[{":
            depth += 1
            if depth > MAX_YAML_DEPTH:
                raise _too_deep()
        elif char in "]}":
            depth -= 1
            if depth == 0 and not toml:
                return index + 1
        index += 1
    return None


def _string_end(text: str, start: int, *, toml: bool) -> int:
    """The index just past the string that opens at `start` (or the end of the text)."""
    quote = text[start]
    if toml and text.startswith(quote * 3, start):
        end = text.find(quote * 3, start + 3)
        return len(text) if end < 0 else end + 3
    index = start + 1
    while index < len(text):
        char = text[index]
        if char == "\\" and quote == '"':
            index += 2
            continue
        if char == quote or char == "\n":
            return index + 1
        index += 1
    return index


def _require_within_bounds(data: Any) -> None:
    """No deeper than the bound and no more values than the bound, counted without recursion."""
    stack: list[tuple[Any, int]] = [(data, 1)]
    nodes = 0
    while stack:
        value, level = stack.pop()
        nodes += 1
        if nodes > MAX_YAML_NODES:
            raise PostError(f"front matter holds too many values (more than {MAX_YAML_NODES:,})")
        if level > MAX_YAML_DEPTH:
            raise _too_deep()
        if isinstance(value, dict):
            stack.extend((v, level + 1) for v in value.values())
        elif isinstance(value, list):
            stack.extend((v, level + 1) for v in value)
