"""Where a key stands in a YAML document, so every problem with a file people edit (the
catalog's validation, a query that fails against a live Prometheus) names its line."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import yaml


def compose_yaml(text: str) -> yaml.Node | None:
    """The YAML node tree of ``text`` (None for an empty document); raises yaml.YAMLError."""
    return yaml.compose(text, Loader=yaml.SafeLoader)


def _walk(root: yaml.Node, loc: Sequence[Any]) -> tuple[int, int]:
    """(line of the deepest node on loc that exists, how many parts of loc were found)."""
    node, line, found = root, root.start_mark.line + 1, 0
    for part in loc:
        if isinstance(node, yaml.MappingNode):
            match = next(((k, v) for k, v in node.value if str(k.value) == str(part)), None)
            if match is None:
                break
            line, node = match[0].start_mark.line + 1, match[1]
        elif (
            isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value)
        ):
            node = node.value[part]
            line = node.start_mark.line + 1
        else:
            break
        found += 1
    return line, found


def deepest_line(root: yaml.Node, loc: Sequence[Any]) -> int:
    """1-based line of the deepest node on ``loc`` that exists (a missing key's parent)."""
    return _walk(root, loc)[0]


def line_of(root: yaml.Node | None, keys: Sequence[str]) -> int | None:
    """1-based line of the key at ``keys``, or None when any of them is missing. For
    ``services.web.signals.cpu.query`` that is the line of ``query:``, where a folded or
    block scalar starts as well."""
    if root is None:
        return None
    line, found = _walk(root, keys)
    return line if found == len(keys) else None


def duplicate_key(node: yaml.Node, path: tuple[str, ...] = ()) -> tuple[int, str] | None:
    """(line, dotted key) of the first key repeated within one mapping, None if there is none:
    YAML loaders keep the last silently, so a repeated service would vanish unseen."""
    if isinstance(node, yaml.MappingNode):
        seen: set[str] = set()
        for key, value in node.value:
            name = str(key.value)
            if name in seen:
                return key.start_mark.line + 1, ".".join((*path, name))
            seen.add(name)
            found = duplicate_key(value, (*path, name))
            if found:
                return found
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            found = duplicate_key(item, (*path, str(i)))
            if found:
                return found
    return None


__all__ = ["compose_yaml", "deepest_line", "duplicate_key", "line_of"]
