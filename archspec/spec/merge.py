"""Merging a spec with the spec it ``extends``: the child's keys override the parent's, and the
mappings a family varies (variables, blocks, defaults, init) merge key by key, locations kept."""

from __future__ import annotations

from archspec.spec.located_yaml import LocatedMapping, LocatedSequence


def merge_extended(parent: LocatedMapping, child: LocatedMapping) -> LocatedMapping:
    """The child's keys override the parent's; variables, blocks, defaults and init merge key by key."""
    merged = LocatedMapping()
    merged.location = child.location
    merged.key_locations, merged.value_locations = {}, {}
    for source in (parent, child):
        for key, value in source.items():
            combined = value
            if key in ("variables", "blocks", "defaults", "init") and key in merged and \
                    isinstance(value, LocatedMapping) and isinstance(merged[key], LocatedMapping):
                combined = _merge_mapping(merged[key], value, deep=key in ("defaults", "init"))
            elif key == "plugins" and isinstance(merged.get(key), LocatedSequence) and isinstance(
                    value, LocatedSequence):
                combined = _merge_lists(merged[key], value)
            merged[key] = combined
            merged.key_locations[key] = source.key_locations[key]
            merged.value_locations[key] = source.value_locations[key]
    merged.pop("extends", None)
    return merged


def _merge_mapping(base: LocatedMapping, override: LocatedMapping, deep: bool) -> LocatedMapping:
    merged = LocatedMapping()
    merged.location = override.location
    merged.key_locations, merged.value_locations = dict(base.key_locations), dict(base.value_locations)
    merged.update(base)
    for key, value in override.items():
        if deep and key in merged and isinstance(value, LocatedMapping) and isinstance(merged[key], LocatedMapping):
            value = _merge_mapping(merged[key], value, deep=False)
        merged[key] = value
        merged.key_locations[key] = override.key_locations[key]
        merged.value_locations[key] = override.value_locations[key]
    return merged


def _merge_lists(base: LocatedSequence, extra: LocatedSequence) -> LocatedSequence:
    merged = LocatedSequence(base)
    merged.location = extra.location
    merged.item_locations = list(base.item_locations)
    for item, location in zip(extra, extra.item_locations, strict=True):
        if item not in merged:
            merged.append(item)
            merged.item_locations.append(location)
    return merged
