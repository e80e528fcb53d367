"""Every layer entry names a known layer kind: an op, a construct (repeat, residual) or a block.

Checked per file as it is read, so a typo gets its did-you-mean over every kind the file can see,
beside the file's other errors.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from archspec.errors import Diagnostic, DiagnosticCollector, SourceLocation, did_you_mean
from archspec.ops.registry import registered_ops
from archspec.spec.located_yaml import LocatedMapping, LocatedSequence
from archspec.spec.model import ENTRY_META_KEYS, STRUCTURE_KEYS


def iter_entries(body: Any, location: SourceLocation | None = None) -> Iterator[tuple[Any, Any, SourceLocation | None]]:
    """Every layer entry in a body, nested bodies included: (entry, container, location)."""
    if isinstance(body, LocatedSequence):
        for item, item_location in zip(body, body.item_locations, strict=True):
            yield item, body, item_location
            if isinstance(item, LocatedMapping) and "body" in item:
                yield from iter_entries_in_body(item)
    elif isinstance(body, (LocatedMapping, str)):
        yield body, None, getattr(body, "location", location)
        if isinstance(body, LocatedMapping) and "body" in body:
            yield from iter_entries_in_body(body)


def iter_entries_in_body(entry: LocatedMapping) -> Iterator[tuple[Any, Any, SourceLocation | None]]:
    body = entry["body"]
    if isinstance(body, LocatedSequence):
        yield from iter_entries(body)
    else:
        yield body, entry, entry.value_locations["body"]
        if isinstance(body, LocatedMapping) and "body" in body:
            yield from iter_entries_in_body(body)
        elif isinstance(body, LocatedMapping):
            pass


def entry_key(entry: Any) -> str | None:
    """The layer kind an entry names (op, construct or block), or None if it names none."""
    if isinstance(entry, str):
        return entry
    if isinstance(entry, dict):
        keys = [k for k in entry if k not in ENTRY_META_KEYS and k not in ("body", "index")]
        if len(keys) == 1 and isinstance(keys[0], str):
            return keys[0]
        for structure in STRUCTURE_KEYS:
            if structure in entry:
                return structure
    return None


def check_layer_kinds(data: LocatedMapping, collector: DiagnosticCollector | None = None,
                       only_local: bool = False) -> None:
    """Every entry names a known op, construct or block, with did-you-mean over all of them."""
    own = collector is None
    collector = collector or DiagnosticCollector()
    blocks = data.get("blocks") if isinstance(data.get("blocks"), dict) else {}
    ops = registered_ops()
    known = set(ops) | set(blocks or {}) | set(STRUCTURE_KEYS)
    bodies: list[tuple[Any, SourceLocation | None]] = []
    if isinstance(data.get("layers"), LocatedSequence):
        bodies.append((data["layers"], data.value_locations["layers"]))
    for block in (blocks or {}).values():
        if isinstance(block, LocatedMapping) and "body" in block:
            bodies.append((block["body"], block.value_locations["body"]))
    for body, body_location in bodies:
        for entry, _, location in iter_entries(body, body_location):
            key = entry_key(entry)
            if key is None or key in known or not isinstance(key, str) or key.startswith("$"):
                continue
            if only_local and data.get("extends") is not None:
                continue  # the block may come from the file this one extends
            key_location = location
            if isinstance(entry, LocatedMapping):
                key_location = entry.key_locations.get(key, location)
            hint = did_you_mean(key, known)
            plugin_hint = _plugin_hint(key, data)
            collector.add(Diagnostic(f"unknown layer kind '{key}'", key_location, hint or plugin_hint))
    if own:
        collector.raise_if_any()


def _plugin_hint(key: str, data: LocatedMapping) -> str | None:
    listed = data.get("plugins")
    plugins = [str(p) for p in listed] if isinstance(listed, list) else []
    if plugins:
        names = ", ".join(plugins)
        return f"this spec needs the plugins {names}: install them or pass --plugin"
    return "define it under 'blocks:', or register an op with that kind (see 'archspec list --ops')"
