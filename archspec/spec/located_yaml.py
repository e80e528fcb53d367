"""Safe YAML loading that remembers where every value came from.

PyYAML's safe loader already refuses to run code, but it forgets positions, silently keeps the
last of two duplicate keys, recurses once per nesting level and expands aliases without limit.
This module builds plain Python containers straight from the parser's event stream instead:

* every mapping and sequence knows the location of each key and item, so any later stage
  (pydantic validation, shape inference) can point at the exact line and column;
* explicit tags other than the core schema (``!!python/object``, ``!custom``) are errors;
* duplicate keys are errors naming both lines;
* nesting depth and alias expansion are bounded, so hostile files fail fast.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import yaml

from archspec.errors import Diagnostic, SourceLocation, SpecError

MAX_DEPTH = 64
MAX_EXPANDED_NODES = 200_000
MAX_FILE_BYTES = 8 * 1024 * 1024

_CORE_TAGS = {
    "tag:yaml.org,2002:null",
    "tag:yaml.org,2002:bool",
    "tag:yaml.org,2002:int",
    "tag:yaml.org,2002:float",
    "tag:yaml.org,2002:str",
}
_MAP_TAG = "tag:yaml.org,2002:map"
_SEQ_TAG = "tag:yaml.org,2002:seq"


class _SpecResolver(yaml.SafeLoader):
    """The safe resolver, plus YAML 1.2 floats such as ``1e-4`` (YAML 1.1 wants ``1.0e-4``)."""


_SpecResolver.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^[-+]?(?:[0-9][0-9_]*(?:\.[0-9_]*)?|\.[0-9_]+)[eE][-+]?[0-9]+$"),
    list("-+0123456789."),
)

_Parser: Any = getattr(yaml, "CSafeLoader", None) or yaml.SafeLoader


class LocatedMapping(dict[Any, Any]):
    """A dict that knows where it, each of its keys and each of its values start."""

    location: SourceLocation
    key_locations: dict[Any, SourceLocation]
    value_locations: dict[Any, SourceLocation]


class LocatedSequence(list[Any]):
    """A list that knows where it and each of its items start."""

    location: SourceLocation
    item_locations: list[SourceLocation]


class SourceText:
    """The decoded text of one file, with its lines, for building locations."""

    def __init__(self, path: str, text: str):
        self.path = path
        self.text = text
        self.lines = text.splitlines()

    def location(self, line0: int, column0: int, length: int = 1) -> SourceLocation:
        """A location from the parser's 0-based line and column."""
        line_text = self.lines[line0] if 0 <= line0 < len(self.lines) else ""
        return SourceLocation(self.path, line0 + 1, column0 + 1, line_text, max(length, 1))


def read_source(path: str, data: bytes) -> SourceText:
    """Decode a spec file's bytes: UTF-8 (a UTF-8 BOM is dropped), with located errors otherwise."""
    if len(data) > MAX_FILE_BYTES:
        raise SpecError.at(f"spec file is {len(data):,} bytes; the limit is {MAX_FILE_BYTES:,}",
                           SourceLocation(path, 1, 1))
    for bom, encoding in ((b"\xff\xfe\x00\x00", "UTF-32"), (b"\x00\x00\xfe\xff", "UTF-32"),
                          (b"\xff\xfe", "UTF-16"), (b"\xfe\xff", "UTF-16")):
        if data.startswith(bom):
            raise SpecError.at(f"spec file is encoded as {encoding} (it starts with a {encoding} byte order mark)",
                               SourceLocation(path, 1, 1), hint="save the file as UTF-8")
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        before = data[: exc.start]
        line = before.count(b"\n")
        column = len(before) - (before.rfind(b"\n") + 1)
        lines = data.decode("utf-8", errors="replace").splitlines()
        line_text = lines[line] if line < len(lines) else ""
        raise SpecError.at(
            f"file is not valid UTF-8: byte 0x{data[exc.start]:02x} at offset {exc.start} cannot be decoded",
            SourceLocation(path, line + 1, column + 1, line_text),
            hint="spec files must be UTF-8 text; is this a binary file?",
        ) from None
    if "\x00" in text:
        index = text.index("\x00")
        line = text.count("\n", 0, index)
        source = SourceText(path, text)
        raise SpecError.at("file contains a NUL byte; spec files must be text",
                           source.location(line, index - (text.rfind("\n", 0, index) + 1)))
    return SourceText(path, text)


def load_located_yaml(source: SourceText) -> Any:
    """Parse one YAML document into Located containers, or raise SpecError with a location."""
    builder = _Builder(source)
    try:
        return builder.build(_events(source.text))
    except yaml.MarkedYAMLError as exc:
        raise _yaml_error(source, exc) from None
    except yaml.YAMLError as exc:  # errors without a mark (rare: reader errors)
        raise SpecError.at(f"invalid YAML: {exc}", SourceLocation(source.path, 1, 1)) from None


def _events(text: str) -> Iterator[yaml.Event]:
    loader = _Parser(text)
    try:
        while loader.check_event():
            yield loader.get_event()
    finally:
        loader.dispose()


def _yaml_error(source: SourceText, exc: yaml.MarkedYAMLError) -> SpecError:
    mark = exc.problem_mark or exc.context_mark
    problem = exc.problem or exc.context or "invalid YAML"
    hint = None
    line_text = source.lines[mark.line] if mark is not None and mark.line < len(source.lines) else ""
    if mark is not None and "\t" in line_text[: mark.column + 1] and ("token" in problem or "tab" in problem):
        problem = "tab character in indentation; YAML allows only spaces"
        hint = "replace the tabs with spaces"
        mark_column = line_text.index("\t")
        return SpecError.at(f"invalid YAML: {problem}", source.location(mark.line, mark_column), hint)
    if "maximum nesting depth" in problem:
        return SpecError.at(f"nesting is deeper than {MAX_DEPTH} levels",
                            source.location(mark.line, mark.column) if mark else None,
                            hint="a spec never needs this much nesting")
    if exc.context and exc.problem:
        problem = f"{exc.problem} ({exc.context})"
    if mark is None:
        return SpecError.at(f"invalid YAML: {problem}", SourceLocation(source.path, 1, 1), hint)
    return SpecError.at(f"invalid YAML: {problem}", source.location(mark.line, mark.column), hint)


class _Builder:
    """Turns parser events into Located containers, checking depth, tags, keys and aliases."""

    def __init__(self, source: SourceText):
        self.source = source
        self.resolver = _SpecResolver("")
        self.anchors: dict[str, tuple[Any, int]] = {}
        self.expanded_nodes = 0

    def location(self, event: yaml.Event) -> SourceLocation:
        start, end = event.start_mark, event.end_mark
        length = end.column - start.column if end is not None and end.line == start.line else 1
        return self.source.location(start.line, start.column, length)

    def build(self, events: Iterator[yaml.Event]) -> Any:
        documents: list[Any] = []
        stack: list[tuple[Any, list[Any]]] = []  # (container, [pending key, key location, size])
        container: Any
        root: Any = None
        document_seen = False
        for event in events:
            if isinstance(event, yaml.DocumentStartEvent):
                if document_seen:
                    raise SpecError.at("a spec file holds one YAML document; found a second one",
                                       self.location(event), hint="remove the '---' separator")
                document_seen = True
                continue
            if isinstance(event, (yaml.StreamStartEvent, yaml.StreamEndEvent, yaml.DocumentEndEvent)):
                continue
            if isinstance(event, (yaml.MappingEndEvent, yaml.SequenceEndEvent)):
                container, state = stack.pop()
                value, size = container, state[2]
                self._finish_anchor(container, size)
                if not stack:
                    documents.append(value)
                    continue
                self._attach(stack, value, container.location, size)
                continue
            if isinstance(event, (yaml.MappingStartEvent, yaml.SequenceStartEvent)):
                self._check_tag(event, _MAP_TAG if isinstance(event, yaml.MappingStartEvent) else _SEQ_TAG)
                if len(stack) >= MAX_DEPTH:
                    raise SpecError.at(f"nesting is deeper than {MAX_DEPTH} levels",
                                       self.location(event), hint="a spec never needs this much nesting")
                if isinstance(event, yaml.MappingStartEvent):
                    container = LocatedMapping()
                    container.key_locations = {}
                    container.value_locations = {}
                else:
                    container = LocatedSequence()
                    container.item_locations = []
                container.location = self.location(event)
                container._anchor = event.anchor
                stack.append((container, [None, None, 1]))
                continue
            if isinstance(event, yaml.AliasEvent):
                if event.anchor not in self.anchors:
                    raise SpecError.at(f"unknown alias '*{event.anchor}'", self.location(event))
                value, size = self.anchors[event.anchor]
                self._count(size, event)
                location = self.location(event)
                if not stack:
                    documents.append(value)
                    continue
                self._attach(stack, value, location, size)
                continue
            if isinstance(event, yaml.ScalarEvent):
                value = self._scalar(event)
                self._count(1, event)
                if event.anchor:
                    self.anchors[event.anchor] = (value, 1)
                if not stack:
                    documents.append(value)
                    continue
                self._attach(stack, value, self.location(event), 1)
        if not documents:
            return None
        root = documents[0]
        return root

    def _count(self, size: int, event: yaml.Event) -> None:
        self.expanded_nodes += size
        if self.expanded_nodes > MAX_EXPANDED_NODES:
            raise SpecError.at(
                f"the document expands to more than {MAX_EXPANDED_NODES:,} values through aliases",
                self.location(event), hint="this looks like an alias bomb ('billion laughs'); "
                "a spec never needs this")

    def _finish_anchor(self, container: Any, size: int) -> None:
        anchor = getattr(container, "_anchor", None)
        if anchor:
            self.anchors[anchor] = (container, size)
        if hasattr(container, "_anchor"):
            del container._anchor

    def _attach(self, stack: list[tuple[Any, list[Any]]], value: Any, location: SourceLocation, size: int) -> None:
        parent, state = stack[-1]
        state[2] += size
        if isinstance(parent, LocatedSequence):
            parent.append(value)
            parent.item_locations.append(location)
            return
        if state[0] is None and state[1] is None:
            if isinstance(value, (dict, list)):
                raise SpecError.at("a mapping key must be a plain value, not a mapping or list", location)
            if value in parent:
                first = parent.key_locations[value]
                raise SpecError.at(f"duplicate key '{value}' (first defined on line {first.line})",
                                   location, hint="each key may appear once in a mapping")
            state[0], state[1] = (value,), location
            return
        key = state[0][0]
        parent[key] = value
        parent.key_locations[key] = state[1]
        parent.value_locations[key] = location
        state[0], state[1] = None, None

    def _check_tag(self, event: Any, default: str) -> None:
        tag = event.tag
        if tag is None or tag in ("!", default):
            return
        raise SpecError.at(f"YAML tag '{tag}' is not allowed in a spec",
                           self.location(event), hint="specs are plain data: remove the tag")

    def _scalar(self, event: yaml.ScalarEvent) -> Any:
        tag = event.tag
        if tag is not None and tag != "!" and tag not in _CORE_TAGS:
            raise SpecError.at(f"YAML tag '{tag}' is not allowed in a spec", self.location(event),
                               hint="specs are plain data and never run code: remove the tag")
        if tag in (None, "!"):
            tag = self.resolver.resolve(yaml.ScalarNode, event.value, event.implicit)
        if tag not in _CORE_TAGS:  # timestamps, binary, merge keys: keep the text
            return event.value
        node = yaml.ScalarNode(tag, event.value, event.start_mark, event.end_mark, event.style)
        try:
            return self.resolver.yaml_constructors[tag](self.resolver, node)
        except (ValueError, yaml.constructor.ConstructorError) as exc:
            raise SpecError.at(f"invalid {tag.rsplit(':', 1)[-1]} value {event.value!r}: {exc}",
                               self.location(event)) from None


def describe(value: Any) -> str:
    """A person's word for a YAML value's type, for error messages."""
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if value is None:
        return "nothing (null)"
    if isinstance(value, bool):
        return f"the boolean {str(value).lower()}"
    if isinstance(value, int):
        return f"the integer {value}"
    if isinstance(value, float):
        return f"the number {value}"
    return f"the string {value!r}"


def location_of(root: Any, path: tuple[Any, ...], *, key: bool = False) -> SourceLocation | None:
    """Where the value at ``path`` (keys and indexes from ``root``) starts; its key's spot if ``key``.

    Walks as far as the path exists in the data and returns the deepest location found, so a
    path into a value that is missing points at the mapping that should hold it.
    """
    node = root
    best: SourceLocation | None = getattr(root, "location", None)
    for index, step in enumerate(path):
        last = index == len(path) - 1
        if isinstance(node, LocatedMapping) and step in node:
            best = node.key_locations[step] if (key and last) else node.value_locations[step]
            node = node[step]
        elif isinstance(node, LocatedSequence) and isinstance(step, int) and 0 <= step < len(node):
            best = node.item_locations[step]
            node = node[step]
        else:
            break
    return best


__all__ = [
    "Diagnostic",
    "LocatedMapping",
    "LocatedSequence",
    "SourceText",
    "describe",
    "load_located_yaml",
    "location_of",
    "read_source",
]
