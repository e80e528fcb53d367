"""The MkDocs plugin: fenced ``archspec`` blocks become inline SVG diagrams at build time.

``plugins: [archspec]`` in mkdocs.yml (registered under the ``mkdocs.plugins`` entry point).
A block holds YAML: ``spec: NAME_OR_PATH`` (relative to the page, then the docs folder, else a
built-in name) with the options of :mod:`archspec.integrations.blocks`, or a whole spec inline::

    ```archspec
    spec: resnet18
    style: volumes
    summary: true
    ```

A block that cannot be drawn stops the build with the page, the block's line in it, and the
usual diagnostics.  Figures are kept between rebuilds of ``mkdocs serve`` while their spec files
are unchanged, and those files are watched, so saving a spec redraws the pages that show it.
Figures of spec files are also kept on disk, in ``.cache/archspec-mkdocs/`` beside mkdocs.yml, for
the next build: one is used again only while its spec files and archspec's own code are unchanged
(the gallery draws every built-in network, about 180 figures).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mkdocs.exceptions import PluginError
from mkdocs.plugins import BasePlugin

from archspec.integrations.blocks import (
    BlockError,
    RenderedBlock,
    parse_options,
    render_block,
    render_inline,
    resolve_reference,
)

LANGUAGE = "archspec"
_FENCE = re.compile(r"^(?P<indent>[ \t]*)(?P<fence>`{3,}|~{3,})[ \t]*(?P<info>[^`\n]*?)[ \t]*$")


@dataclass(frozen=True)
class Fence:
    """A fenced block of language ``archspec``: its YAML text, and where it is in the page."""

    start: int
    """0-based index of the opening fence line."""
    end: int
    """0-based index of the closing fence line (the last line of the page when unclosed)."""
    indent: str
    text: str


def find_fences(lines: list[str]) -> list[Fence]:
    """Every ``archspec`` fence of a page; fences of other languages (which may show one, as in
    this plugin's own docs) are skipped whole."""
    found: list[Fence] = []
    index = 0
    while index < len(lines):
        match = _FENCE.match(lines[index])
        if not match:
            index += 1
            continue
        fence, indent = match["fence"], match["indent"]
        closing = index + 1
        while closing < len(lines):
            candidate = _FENCE.match(lines[closing])
            if candidate and candidate["fence"][0] == fence[0] and len(candidate["fence"]) >= len(fence) \
                    and not candidate["info"]:
                break
            closing += 1
        if match["info"].split(" ")[0] == LANGUAGE:
            body = [line[len(indent):] if line.startswith(indent) else line.lstrip()
                    for line in lines[index + 1: closing]]
            found.append(Fence(index, min(closing, len(lines) - 1), indent, "\n".join(body) + "\n"))
        index = closing + 1
    return found


class ArchspecPlugin(BasePlugin):  # no options of its own
    """Draws the ``archspec`` blocks of each page; see the module's docstring."""

    def __init__(self) -> None:
        self._cache: dict[tuple[str, str], tuple[dict[Path, bytes], RenderedBlock]] = {}
        self._disk: FigureCache | None = None
        self._watched: set[Path] = set()
        self._server: Any = None
        self._figures: dict[str, list[str]] = {}
        """Each page's drawings, by page, put in place of their markers once Markdown is done."""

    def on_page_markdown(self, markdown: str, *, page: Any, config: Any, files: Any) -> str:
        docs_dir = Path(config["docs_dir"])
        if self._disk is None and config.get("config_file_path"):
            self._disk = FigureCache(Path(config["config_file_path"]).parent / ".cache" / "archspec-mkdocs")
        source = Path(page.file.abs_src_path) if page.file.abs_src_path else docs_dir / page.file.src_path
        shown = _shown_path(source)
        lines = markdown.split("\n")
        fences = find_fences(lines)
        drawn: list[tuple[Fence, RenderedBlock]] = []
        problems: list[str] = []
        for fence in fences:
            try:
                drawn.append((fence, self._render(fence, source.parent, docs_dir, shown)))
            except BlockError as exc:
                problems.append(f"archspec: cannot draw the block at {shown}:{fence.start + 1}:\n{exc}")
        if problems:
            raise PluginError("\n".join(problems))
        figures = self._figures[page.file.src_uri] = []
        for fence, rendered in reversed(drawn):
            figures.insert(0, rendered.html)
            lines[fence.start: fence.end + 1] = ["", fence.indent + _marker(len(drawn) - len(figures)), ""]
            self._watch(rendered.files)
        return "\n".join(lines)

    def on_page_content(self, html: str, *, page: Any, config: Any, files: Any) -> str:
        """Put the drawings in after Markdown: it never parses a large SVG, nor stops at a blank line in one."""
        for index, figure in enumerate(self._figures.pop(page.file.src_uri, [])):
            html = html.replace(_marker(index), figure, 1)
        return html

    def on_startup(self, *, command: str, dirty: bool) -> None:
        """Defined so that MkDocs keeps this plugin, and its figures, across the rebuilds of ``serve``."""

    def on_serve(self, server: Any, *, config: Any, builder: Any) -> Any:
        self._server = server
        for path in sorted(self._watched):
            server.watch(str(path), recursive=False)
        return server

    def _render(self, fence: Fence, page_dir: Path, docs_dir: Path, shown: str) -> RenderedBlock:
        import yaml

        try:
            values = yaml.safe_load(fence.text)
        except yaml.YAMLError:  # archspec's reader says where, with the line and a caret
            values = None
        if values is None:
            return render_inline(fence.text, parse_options({}), page=shown, first_line=fence.start + 2)
        if not isinstance(values, dict):
            raise BlockError("a block holds a mapping: 'spec: NAME_OR_PATH' with options, or a whole spec")
        if "spec" in values:
            settings = {key: value for key, value in values.items() if key != "spec"}
            chosen = parse_options(settings)
            if not isinstance(values["spec"], str):
                raise BlockError("'spec' names a spec file or a built-in spec")
            path = resolve_reference(values["spec"], [page_dir, docs_dir])
            key = (str(path.resolve()), repr(chosen))
            cached = self._cache.get(key)
            if cached is not None and all(_read(file) == content for file, content in cached[0].items()):
                return cached[1]
            rendered = self._disk.get(key) if self._disk is not None else None
            if rendered is None:
                rendered = render_block(path, chosen)
                if self._disk is not None:
                    self._disk.put(key, rendered)
            self._cache[key] = ({file: _read(file) for file in rendered.files}, rendered)
            return rendered
        digest = hashlib.sha1(fence.text.encode("utf-8")).hexdigest()
        key = (f"inline:{shown}:{fence.start}:{digest}", "")
        cached = self._cache.get(key)
        if cached is not None:
            return cached[1]
        rendered = render_inline(fence.text, parse_options({}), page=shown, first_line=fence.start + 2)
        self._cache[key] = ({}, rendered)
        return rendered

    def _watch(self, files: tuple[Path, ...]) -> None:
        """Watch a drawing's spec files; a change rebuilds, and unchanged figures come from the cache."""
        for file in files:
            path = file.resolve()
            if path not in self._watched:
                self._watched.add(path)
                if self._server is not None:
                    self._server.watch(str(path), recursive=False)


class FigureCache:
    """Drawings of spec files kept on disk between builds, each with the digests of the files it came from.

    An entry's name hashes the block's spec path and options with archspec's own code, so a change to
    archspec draws everything again; a change to a spec file redraws the figures that read it.  A
    cache that cannot be read or written is no cache: the figure is drawn.
    """

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    @staticmethod
    def code_digest() -> str:
        return _code_digest()

    def _entry(self, key: tuple[str, str]) -> Path:
        name = hashlib.sha256(f"{key[0]}\0{key[1]}\0{self.code_digest()}".encode()).hexdigest()
        return self.folder / f"{name}.json"

    def get(self, key: tuple[str, str]) -> RenderedBlock | None:
        try:
            entry = json.loads(self._entry(key).read_text(encoding="utf-8"))
            files = [(Path(path), digest) for path, digest in entry["files"]]
            if any(_digest(path) != digest for path, digest in files):
                return None
            return RenderedBlock(str(entry["html"]), tuple(path for path, _ in files))
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def put(self, key: tuple[str, str], rendered: RenderedBlock) -> None:
        entry = {"html": rendered.html, "files": [[str(path), _digest(path)] for path in rendered.files]}
        target = self._entry(key)
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            partial = target.with_suffix(f".{os.getpid()}.tmp")
            partial.write_text(json.dumps(entry), encoding="utf-8")
            partial.replace(target)
        except OSError:
            pass


_CODE_DIGEST: list[str] = []


def _code_digest() -> str:
    """A digest of archspec's own source: a figure drawn by other code is drawn again."""
    if not _CODE_DIGEST:
        package = Path(__file__).resolve().parent.parent
        digest = hashlib.sha256()
        for path in sorted(package.rglob("*.py")):
            digest.update(str(path.relative_to(package)).encode())
            digest.update(_read(path))
        _CODE_DIGEST.append(digest.hexdigest())
    return _CODE_DIGEST[0]


def _digest(path: Path) -> str:
    return hashlib.sha256(_read(path)).hexdigest()


def _marker(index: int) -> str:
    return f'<div data-archspec-figure="{index}"></div>'


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError:
        return b""


def _shown_path(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)
