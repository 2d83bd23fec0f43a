"""Helpers for the fuzz tests: every path into a parsed YAML/JSON tree, and a copy with one node replaced."""

from __future__ import annotations

from typing import Any


def tree_paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every path (keys and indexes) from the root of ``node`` to one of its nodes, the root included."""
    out = [prefix]
    if isinstance(node, dict):
        for key, value in node.items():
            out.extend(tree_paths(value, prefix + (key,)))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            out.extend(tree_paths(value, prefix + (index,)))
    return out


def replaced(node: Any, path: tuple[Any, ...], value: Any) -> Any:
    """A copy of ``node`` with the node at ``path`` replaced by ``value`` (``node`` is left as it was)."""
    if not path:
        return value
    head, rest = path[0], path[1:]
    if isinstance(node, dict):
        return {**node, head: replaced(node[head], rest, value)}
    copy = list(node)
    copy[head] = replaced(node[head], rest, value)
    return copy
