"""Safe YAML loading that remembers where every value came from.

PyYAML's safe loader already refuses to run code, but it forgets positions, silently keeps the
last of two duplicate keys, recurses once per nesting level and expands aliases without limit.
This module builds plain Python containers straight from the parser's event stream instead:

* every mapping and sequence knows the location of each key and item, so any later stage
  (pydantic validation, shape inference) can point at the exact line and column;
* explicit tags other than the core schema (``!!python/object``, ``!custom``) are errors;
* duplicate keys are errors naming both lines;
* nesting depth and alias expansion are bounded, so hostile files fail fast.

One module of about 400 lines: the event-stream builder and the located containers it makes are
one idea, and splitting them would only move the guards away from the events they guard.
"""

from __future__ import annotations

import contextlib
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


_LINE_BREAK = re.compile("\r\n|[\r\n\x85\u2028\u2029]")
"""The line breaks YAML counts (str.splitlines also splits at form feeds and other controls)."""


class SourceText:
    """The decoded text of one file, with its lines, for building locations."""

    def __init__(self, path: str, text: str):
        self.path = path
        self.text = text
        self.lines = _LINE_BREAK.split(text)
        if self.lines and self.lines[-1] == "":
            self.lines.pop()

    def location(self, line0: int, column0: int, length: int = 1) -> SourceLocation:
        """A location from the parser's 0-based line and column."""
        line_text = self.lines[line0] if 0 <= line0 < len(self.lines) else ""
        return SourceLocation(self.path, line0 + 1, column0 + 1, line_text, max(length, 1))

    def offset_location(self, offset: int) -> SourceLocation:
        """The location of a character offset into the text."""
        before = self.text[:offset]
        line0 = len(_LINE_BREAK.findall(before))
        last_break = max((m.end() for m in _LINE_BREAK.finditer(before)), default=0)
        return self.location(line0, offset - last_break)


def read_source(path: str, data: bytes) -> SourceText:
    """Decode a spec file's bytes, with located errors for anything that is not UTF-8 text.

    Spec files are UTF-8.  A UTF-8 byte order mark (which some Windows editors write) is
    dropped; UTF-16 and UTF-32 files, with or without a byte order mark, are refused with a
    hint to save them as UTF-8, rather than guessed at.
    """
    if len(data) > MAX_FILE_BYTES:
        raise SpecError.at(f"spec file is larger than the limit of {MAX_FILE_BYTES:,} bytes",
                           SourceLocation(path, 1, 1), hint="a spec is a short text file; is this the right file?")
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
        source = SourceText(path, data.decode("utf-8", errors="replace"))
        where = source.offset_location(len(data[: exc.start].decode("utf-8")))
        raise SpecError.at(f"file is not UTF-8 text: byte 0x{data[exc.start]:02x} cannot be decoded", where,
                           hint="spec files must be UTF-8 text; is this a binary file?") from None
    if "\x00" in text:
        source = SourceText(path, text)
        where = source.offset_location(text.index("\x00"))
        if text.count("\x00") * 3 >= len(text):
            raise SpecError.at("file is full of NUL bytes: it looks like UTF-16 or UTF-32 text, or binary data",
                               where, hint="save the file as UTF-8")
        raise SpecError.at("file contains a NUL byte; spec files must be text", where)
    return SourceText(path, text)


def load_located_yaml(source: SourceText) -> Any:
    """Parse one YAML document into Located containers, or raise SpecError with a location."""
    try:
        return _Builder(source).build(_events(source.text, _Parser))
    except yaml.MarkedYAMLError as exc:
        if "nesting depth" in str(exc.problem) and exc.problem_mark is not None:
            # libyaml reads a flow collection ahead and stops at its own limit (1000 levels)
            # before the builder sees level MAX_DEPTH.  The text up to that spot nests just as
            # deep, and parsing it alone lets the builder stop at the right place.
            _reparse_for_depth(source, exc.problem_mark.index)
        raise _yaml_error(source, exc) from None
    except yaml.reader.ReaderError as exc:
        where = source.offset_location(exc.position)
        raise SpecError.at(f"invalid YAML: control character {_codepoint(exc.character)} is not allowed in YAML",
                           where, hint="remove it; spec files are plain text") from None
    except yaml.YAMLError as exc:  # errors without a mark
        raise SpecError.at(f"invalid YAML: {exc}", SourceLocation(source.path, 1, 1)) from None


def _reparse_for_depth(source: SourceText, end: int) -> None:
    with contextlib.suppress(yaml.YAMLError):
        _Builder(source).build(_events(source.text[:end], _Parser))


def _codepoint(character: Any) -> str:
    if isinstance(character, str) and len(character) == 1:
        character = ord(character)
    return f"U+{character:04X}" if isinstance(character, int) else repr(character)


def _events(text: str, parser: Any) -> Iterator[yaml.Event]:
    loader = parser(text)
    try:
        while loader.check_event():
            yield loader.get_event()
    finally:
        loader.dispose()


# Hints for the YAML mistakes people make most, keyed by a piece of the parser's message.
_SYNTAX_HINTS = (
    ("mapping values are not allowed",
     "a plain value cannot contain ': '; quote it, or check this line's indentation"),
    ("did not find expected key", "check the indentation: this line does not line up with the keys above it"),
    ("did not find expected '-' indicator",
     "check the indentation: the items of a list must line up with its first '-'"),
    ("block sequence entries are not allowed",
     "start the list on the next line, indented, or write it in brackets: [a, b]"),
    ("did not find expected node content", "a value is missing here (two commas in a row?)"),
    ("found unknown escape character",
     "in double quotes a backslash starts an escape; use single quotes or write '\\\\'"),
    ("did not find expected <document start>", "a spec is one YAML document; remove the text after '...'"),
)
_OPENERS = {"flow sequence": ("list", "]"), "flow mapping": ("mapping", "}")}
_CONTEXTS = {"block mapping": "mapping", "block collection": "list", "simple key": "key"}


def _yaml_error(source: SourceText, exc: yaml.MarkedYAMLError) -> SpecError:
    """A parser error as a located diagnostic, in words a person who is not a YAML expert can use."""
    problem_mark, context_mark = exc.problem_mark, exc.context_mark
    problem = str(exc.problem or exc.context or "invalid YAML")
    context = str(exc.context or "")
    mark = problem_mark or context_mark
    if mark is None:
        return SpecError.at(f"invalid YAML: {problem}", SourceLocation(source.path, 1, 1))
    line_text = source.lines[mark.line] if mark.line < len(source.lines) else ""
    tab_at = line_text.find("\t")
    if "nesting depth" in problem:
        return SpecError.at(f"nesting is deeper than {MAX_DEPTH} levels", source.location(mark.line, mark.column),
                            hint="a spec never needs this much nesting")
    if 0 <= tab_at <= mark.column and ("token" in problem or "tab" in problem):
        return SpecError.at("invalid YAML: tab character in indentation; YAML allows only spaces",
                            source.location(mark.line, tab_at), hint="replace the tabs with spaces")
    if "end of stream" in problem and "quoted scalar" in context and context_mark is not None:
        return SpecError.at("invalid YAML: this quoted string is never closed", source.location(
            context_mark.line, context_mark.column), hint="add the closing quote")
    if "could not find expected ':'" in problem and context_mark is not None:
        return SpecError.at("invalid YAML: this key has no ':' after it", source.location(
            context_mark.line, context_mark.column), hint="a key needs ': ' after it, and a list item '- ' before it")
    if "cannot start any token" in problem and mark.column < len(line_text):
        character = line_text[mark.column]
        return SpecError.at(f"invalid YAML: a plain value cannot start with '{character}'",
                            source.location(mark.line, mark.column), hint="put the value in quotes")
    notes: tuple[str, ...] = ()
    hint = next((text for key, text in _SYNTAX_HINTS if key in problem), None)
    opener = next((value for key, value in _OPENERS.items() if key in context), None)
    if opener is not None and context_mark is not None and context_mark is not problem_mark:
        what, closer = opener
        notes = (f"the {what} opened at line {context_mark.line + 1}, column {context_mark.column + 1}",)
        hint = hint or f"close the {what} with '{closer}', and separate its items with ','"
        if "$" in line_text[: mark.column]:
            hint = "inside [...] or {...}, quote an expression that holds brackets or commas: \"$depths[0]\""
    elif context_mark is not None and context_mark.line != mark.line:
        container = next((word for key, word in _CONTEXTS.items() if key in context), None)
        if container is not None:
            notes = (f"the {container} starts on line {context_mark.line + 1}",)
    return SpecError([Diagnostic(f"invalid YAML: {problem}", source.location(mark.line, mark.column), hint, notes)])


class _Builder:
    """Turns parser events into Located containers, checking depth, tags, keys and aliases."""

    def __init__(self, source: SourceText):
        self.source = source
        self.resolver = _SpecResolver("")
        self.anchors: dict[str, tuple[Any, int]] = {}
        self.expanded_nodes = 0

    def location(self, event: yaml.Event) -> SourceLocation:
        start, end = event.start_mark, event.end_mark
        if start is None:
            return SourceLocation(self.source.path, 1, 1)
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
        if self.expanded_nodes <= MAX_EXPANDED_NODES:
            return
        if isinstance(event, yaml.AliasEvent):
            raise SpecError.at(
                f"the document expands to more than {MAX_EXPANDED_NODES:,} values through aliases",
                self.location(event), hint="this looks like an alias bomb ('billion laughs'); "
                "a spec never needs this")
        raise SpecError.at(f"the document holds more than {MAX_EXPANDED_NODES:,} values", self.location(event),
                           hint="a spec is never this large; is this the right file?")

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
        raise _tag_error(tag, self.location(event))

    def _scalar(self, event: yaml.ScalarEvent) -> Any:
        tag = event.tag
        if tag is not None and tag != "!" and tag not in _CORE_TAGS:
            raise _tag_error(tag, self.location(event))
        if tag in (None, "!"):
            tag = self.resolver.resolve(yaml.ScalarNode, event.value, event.implicit)
        if tag not in _CORE_TAGS:  # timestamps, binary, merge keys: keep the text
            return event.value
        node = yaml.ScalarNode(tag, event.value, None, None, event.style)
        try:
            return self.resolver.yaml_constructors[tag](self.resolver, node)
        except (ValueError, yaml.constructor.ConstructorError) as exc:
            raise SpecError.at(f"invalid {tag.rsplit(':', 1)[-1]} value {event.value!r}: {exc}",
                               self.location(event)) from None


def _tag_error(tag: str, location: SourceLocation) -> SpecError:
    written = "!!" + tag.removeprefix("tag:yaml.org,2002:") if tag.startswith("tag:yaml.org,2002:") else tag
    return SpecError.at(f"YAML tag '{written}' is not allowed in a spec", location,
                        hint="specs are plain data and never run code: remove the tag")


def describe(value: Any) -> str:
    """A person's word for a YAML value's type, for error messages."""
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        count = len(value)
        return f"a list of {count} item{'s' if count != 1 else ''}" if count else "an empty list"
    if value is None:
        return "nothing (null)"
    if isinstance(value, bool):
        return f"the boolean {str(value).lower()}"
    if isinstance(value, int):
        return f"the integer {value}"
    if isinstance(value, float):
        return f"the number {value}"
    text = str(value)
    return f"the string {text!r}" if len(text) <= 40 else f"the string {text[:37]!r}... ({len(text)} characters)"


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
