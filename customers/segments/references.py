"""Segments that refer to other segments: the references of a rule, and the cycles they could form."""

from __future__ import annotations

from typing import Any

from customers.segments.language import is_id
from customers.segments.models import Segment


def segment_references(rule: Any) -> set[int]:
    """Ids of the segments a rule refers to (directly)."""
    found: set[int] = set()
    stack = [rule]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            if node.get("type") == "segment" and is_id(node.get("segment")):
                found.add(node["segment"])
            for key in ("all", "any"):
                if isinstance(node.get(key), list):
                    stack.extend(node[key])
            if "not" in node:
                stack.append(node["not"])
    return found


def find_cycle(start: int | None, refs: list[int]) -> list[int] | None:
    """A path start -> ... -> start (or any cycle reachable from refs), following stored rules."""
    edges: dict[int, set[int]] = {}

    def children(pk: int) -> set[int]:
        if pk == start:
            return set(refs)
        if pk not in edges:
            rule = Segment.objects.filter(pk=pk).values_list("rule", flat=True).first()
            edges[pk] = segment_references(rule or {})
        return edges[pk]

    root = start if start is not None else 0
    visiting: list[int] = []
    done: set[int] = set()

    def walk(pk: int) -> list[int] | None:
        if pk in visiting:
            return [*visiting[visiting.index(pk):], pk]
        if pk in done:
            return None
        visiting.append(pk)
        for child in sorted(children(pk) if pk != 0 else set(refs)):
            cycle = walk(child)
            if cycle:
                return cycle
        visiting.pop()
        done.add(pk)
        return None

    cycle = walk(root)
    if cycle and cycle[0] == 0:
        cycle = cycle[1:]
    return cycle
