"""Front matter within bounds: the YAML between `---` lines."""

from __future__ import annotations

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
