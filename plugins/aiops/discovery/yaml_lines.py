"""Line numbers of keys in a YAML document, so a problem found by running a query points at
the line a person edits (the catalog loader keeps its own copy private to its module)."""

from __future__ import annotations

from collections.abc import Sequence

import yaml


def compose_yaml(text: str) -> yaml.Node | None:
    """The YAML node tree of ``text`` (None for an empty document); raises yaml.YAMLError."""
    return yaml.compose(text, Loader=yaml.SafeLoader)


def line_of(root: yaml.Node | None, keys: Sequence[str]) -> int | None:
    """1-based line of the value at ``keys`` (the key's own line), or None if any key is missing.

    For ``services.web.signals.cpu.query`` that is the line of ``query:``, where a folded or
    block scalar starts as well.
    """
    node, line = root, None
    for key in keys:
        if not isinstance(node, yaml.MappingNode):
            return None
        match = next(((k, v) for k, v in node.value if str(k.value) == key), None)
        if match is None:
            return None
        line, node = match[0].start_mark.line + 1, match[1]
    return line


__all__ = ["compose_yaml", "line_of"]
