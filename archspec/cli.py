"""The ``archspec`` command: thin wrappers that parse, call the library, print.

Exit status: 0 success, 1 a bad spec or input file (with ``file:line:col`` errors), 2 bad usage,
3 an internal error, 130 interrupted (Ctrl-C), 143 terminated (SIGTERM).
torch and onnx are imported only inside the commands that need them.

Over 400 lines because it holds every command's options and help text, which is what a person reads in
``--help``; the work of each command is one library call (``archspec.api``, the backends, the integrations).
"""

from __future__ import annotations

import json
import os
import signal
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import Annotated, Any

import typer

from archspec.errors import ArchspecError, SpecError, UsageError

app = typer.Typer(
    name="archspec",
    help="A declarative YAML architecture compiler for neural networks.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)

SpecArgument = Annotated[str, typer.Argument(help="A spec file, or the name of a built-in spec (see 'archspec list').")]
InputShapeOption = Annotated[
    str | None, typer.Option("--input-shape", help="Override the input shape: C,H,W (or F).", metavar="C,H,W"),
]
SetOption = Annotated[
    list[str] | None,
    typer.Option("--set", help="Override a spec variable: NAME=VALUE (VALUE in YAML, e.g. depths=[2,2,2,2]).",
                 metavar="NAME=VALUE"),
]
PluginOption = Annotated[
    list[str] | None,
    typer.Option("--plugin", help="Import a Python module that registers ops before the spec is read.",
                 metavar="MODULE"),
]
AllowDirOption = Annotated[
    list[Path] | None,
    typer.Option("--allow-dir", help="Let 'extends' read specs from this directory too (besides the spec's own "
                 "directory and the built-in specs).", metavar="DIR"),
]


class WeightsMapping(str, Enum):
    auto = "auto"
    name = "name"
    order = "order"


class SummaryFormat(str, Enum):
    table = "table"
    json = "json"


class Terminated(BaseException):
    """SIGTERM, raised like Ctrl-C's KeyboardInterrupt so that no temporary output is left behind."""


def _terminate(signum: int, frame: object) -> None:
    raise Terminated


_INTERRUPTED = 130
_reported_statuses: set[int] = set()


def fail(message: str, status: int = 1) -> None:
    sys.stderr.write(message.rstrip("\n") + "\n")
    _reported_statuses.add(status)
    raise typer.Exit(status)


@contextmanager
def reported_errors() -> Iterator[None]:
    """Turn archspec's errors into messages and exit statuses; never a traceback for bad input."""
    try:
        yield
    except SpecError as exc:
        fail(exc.format(), 1)
    except UsageError as exc:
        fail(f"error: {exc}", 2)
    except ArchspecError as exc:
        fail(f"error: {exc}", 1)
    except KeyboardInterrupt:
        fail("interrupted", 130)
    except Terminated:
        fail("terminated", 128 + signal.SIGTERM)
    except (typer.Exit, typer.Abort, SystemExit):
        raise
    except MemoryError:
        fail("error: out of memory", 1)
    except Exception as exc:
        if os.environ.get("ARCHSPEC_DEBUG"):
            raise
        fail(f"internal error: {type(exc).__name__}: {exc}\n"
             "this is a bug in archspec; rerun with ARCHSPEC_DEBUG=1 for the traceback and please report it", 3)


def parse_input_shape(text: str | None) -> tuple[int, ...] | None:
    if text is None:
        return None
    message = f"--input-shape expects C,H,W or F in positive integers (e.g. 3,224,224), got '{text}'"
    try:
        shape = tuple(int(part) for part in text.strip().strip("[]()").replace("x", ",").split(","))
    except ValueError:
        raise UsageError(message) from None
    if len(shape) not in (1, 3) or any(d < 1 for d in shape):
        raise UsageError(message)
    return shape


def parse_assignments(pairs: list[str] | None) -> dict[str, Any]:
    import yaml

    result: dict[str, Any] = {}
    for pair in pairs or []:
        name, sep, value = pair.partition("=")
        if not sep or not name.strip():
            raise UsageError(f"--set expects NAME=VALUE, got '{pair}'")
        try:
            result[name.strip()] = yaml.safe_load(value) if value.strip() else ""
        except yaml.YAMLError:
            raise UsageError(f"--set {name}: '{value}' is not a valid YAML value") from None
    return result


@dataclass(frozen=True)
class GlobalOptions:
    """Options given before the command (``archspec --plugin X validate ...``), for every command."""

    plugins: tuple[str, ...] = ()
    allow_dirs: tuple[Path, ...] = ()


_global_options = GlobalOptions()


def global_options() -> GlobalOptions:
    """Those of the current command line (set by the callback, which runs before every command)."""
    return _global_options


def load_plugins(modules: list[str] | None) -> None:
    """Installed plugins, then the modules named with --plugin before and after the command."""
    from archspec.plugins import load_entry_point_plugins, load_plugin_modules

    load_entry_point_plugins()
    load_plugin_modules([*global_options().plugins, *(modules or [])])


def analysed_graph(spec: str, input_shape: str | None, assignments: list[str] | None,
                   allow_dirs: list[Path] | None = None):
    from archspec.graph.lower import analyse

    return analyse(spec, variables=parse_assignments(assignments), input_shape=parse_input_shape(input_shape),
                   allow_dirs=[*global_options().allow_dirs, *(allow_dirs or [])])


# -- commands ------------------------------------------------------------------------------------

@app.command()
def validate(
    specs: Annotated[list[str], typer.Argument(help="Spec files or built-in names.")],
    input_shape: InputShapeOption = None,
    set_: SetOption = None,
    plugin: PluginOption = None,
    allow_dir: AllowDirOption = None,
) -> None:
    """Check specs: syntax, schema, names, and shapes all the way through."""
    failures = 0
    with reported_errors():
        load_plugins(plugin)
        for spec in specs:
            try:
                graph = analysed_graph(spec, input_shape, set_, allow_dir)
            except SpecError as exc:
                sys.stderr.write(exc.format() + "\n")
                failures += 1
                continue
            print(f"ok: {spec}: {graph.name}, {len(graph.layers)} layers, {graph.parameters:,} parameters, "
                  + ("outputs " + ", ".join(f"{output.name} {list(graph.node(output.node).output_shape)}"
                                            for output in graph.outputs) if graph.several_outputs
                     else f"output {list(graph.output_shape)}"))
    if failures:
        raise typer.Exit(1)


@app.command()
def summary(
    spec: SpecArgument,
    input_shape: InputShapeOption = None,
    set_: SetOption = None,
    depth: Annotated[int | None, typer.Option(help="Fold blocks deeper than N into one row.", min=0)] = None,
    format: Annotated[SummaryFormat, typer.Option("--format", "-f", help="table or json.")] = SummaryFormat.table,
    plugin: PluginOption = None,
    allow_dir: AllowDirOption = None,
) -> None:
    """Per-layer output shapes, parameters and MACs, with totals (no torch needed)."""
    with reported_errors():
        load_plugins(plugin)
        graph = analysed_graph(spec, input_shape, set_, allow_dir)
        if format is SummaryFormat.json:
            from archspec.analysis.summary import summary_json

            print(json.dumps(summary_json(graph)))
            return
        from archspec.analysis.table import print_summary

        print_summary(graph, depth)


@app.command()
def schema(
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Write to a file instead of stdout.")] = None,
    plugin: PluginOption = None,
) -> None:
    """Print the JSON Schema of the spec language (for editor completion and checking)."""
    with reported_errors():
        load_plugins(plugin)
        from archspec.spec.model import language

        text = json.dumps(language().json_schema(), indent=2) + "\n"
        if output is None:
            sys.stdout.write(text)
            return
        from archspec.io import atomic_write_text

        atomic_write_text(output, text)
        print(f"wrote {output}")


@app.command("list")
def list_(
    ops: Annotated[bool, typer.Option("--ops", help="List the layer kinds (ops) instead of the specs.")] = False,
    plugin: PluginOption = None,
) -> None:
    """List the built-in specs and the torchvision zoo (or, with --ops, every op and where it comes from)."""
    with reported_errors():
        load_plugins(plugin)
        from rich.console import Console
        from rich.table import Table
        from rich.text import Text

        # piped, a table is as wide as its rows (a plugin's long source would squeeze the descriptions)
        console = Console(highlight=False, markup=False, width=None if sys.stdout.isatty() else 200)
        if ops:
            from archspec.ops.registry import registered_ops

            table = Table(box=None, show_header=True, header_style="bold")
            for column in ("op", "from", "description"):
                table.add_column(column)
            for kind, registered in registered_ops().items():
                table.add_row(kind, registered.source, Text(registered.op.description))
            console.print(table)
            return
        from archspec.spec.builtin import builtin_spec_names, resolve_spec_path, zoo_spec_names
        from archspec.spec.loader import load

        table = Table(box=None, show_header=True, header_style="bold")
        for column in ("spec", "input", "description"):
            table.add_column(column)
        for name in builtin_spec_names() + zoo_spec_names():
            loaded = load(resolve_spec_path(name))
            headline = loaded.description.split(": ")[0].rstrip(".")
            table.add_row(name, "×".join(str(d) for d in loaded.input_shape), Text(headline))
        console.print(table)


DIAGRAM_FORMATS = ("svg", "png", "pdf", "dot")
OUTPUTS = ("onnx", "pt", "py", *DIAGRAM_FORMATS)


@app.command("compile")
def compile_(
    spec: SpecArgument,
    onnx: Annotated[bool, typer.Option("--onnx", help="Write NAME.onnx (the default when no output is chosen).")]
    = False,
    pt: Annotated[bool, typer.Option("--pt", help="Write the initialized weights as a state_dict, NAME.pt.")] = False,
    py: Annotated[bool, typer.Option("--py", help="Write standalone PyTorch source, NAME.py.")] = False,
    svg: Annotated[bool, typer.Option("--svg", help="Write the diagram as NAME.svg.")] = False,
    png: Annotated[bool, typer.Option("--png", help="Write the diagram as NAME.png.")] = False,
    pdf: Annotated[bool, typer.Option("--pdf", help="Write the diagram as NAME.pdf.")] = False,
    dot: Annotated[bool, typer.Option("--dot", help="Write the diagram as Graphviz source, NAME.dot.")] = False,
    out_dir: Annotated[Path, typer.Option("--out-dir", "-o", help="Where outputs go.")] = Path("out"),
    opset: Annotated[int | None, typer.Option(help="ONNX opset version (default: archspec's tested one).")] = None,
    seed: Annotated[int | None, typer.Option(help="Seed for weight initialization.")] = None,
    memory_limit: Annotated[str | None, typer.Option(
        "--memory-limit", help="Refuse specs whose parameters need more memory (e.g. 8GB; default: half of RAM).",
    )] = None,
    weights: Annotated[Path | None, typer.Option(
        "--weights", help="Use these weights instead of an initialization: a state_dict file (.pt, .pth, "
                          ".safetensors), mapped by name when its keys are the spec's, else by order.",
    )] = None,
    weights_map: Annotated[WeightsMapping, typer.Option(
        "--weights-map", help="Map --weights by name or by order (default: by name when the keys match).",
    )] = WeightsMapping.auto,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Print no summary and no progress.")] = False,
    input_shape: InputShapeOption = None,
    set_: SetOption = None,
    plugin: PluginOption = None,
    allow_dir: AllowDirOption = None,
) -> None:
    """Compile a spec: print its summary and write ONNX, weights, Python source or diagrams.

    Each file is written to a hidden temporary file beside it (.NAME.PID.RANDOM.tmp) and renamed into
    place, so a compile that fails or is interrupted leaves the previous file, or none, never a partial
    one; a temporary left by a killed compile is removed by the next successful one.  ONNX and weights
    are refused, before anything is allocated, for a spec whose parameters need more than --memory-limit.
    (From Python: archspec.compile.)
    """
    with reported_errors():
        load_plugins(plugin)
        graph = analysed_graph(spec, input_shape, set_, allow_dir)
        if not any((onnx, pt, py, svg, png, pdf, dot)):
            onnx = True
        if not quiet:
            from archspec.analysis.table import print_summary

            print_summary(graph, depth=1)
            print()
        from archspec.api import compile as compile_outputs

        chosen = [name for name, wanted in zip(OUTPUTS, (onnx, pt, py, svg, png, pdf, dot), strict=True) if wanted]
        from archspec.progress import terminal_progress

        written = compile_outputs(graph, outputs=chosen, out_dir=out_dir, opset=opset, seed=seed,
                                  memory_limit=memory_limit, weights=weights, weights_map=weights_map.value,
                                  progress=terminal_progress(quiet), log=print)
        for path in written:
            print(f"wrote {path}")


class RankDir(str, Enum):
    TB = "TB"
    LR = "LR"
    BT = "BT"
    RL = "RL"


class DiagramStyle(str, Enum):
    graph = "graph"
    volumes = "volumes"


@app.command()
def render(
    spec: SpecArgument,
    output: Annotated[Path, typer.Option("--output", "-o", help="FILE.svg, .png, .pdf or .dot.")],
    style: Annotated[DiagramStyle, typer.Option(help="graph: a Graphviz diagram; volumes: H×W×C boxes.")]
    = DiagramStyle.graph,
    rankdir: Annotated[RankDir, typer.Option("--rankdir", help="Direction of the flow.")] = RankDir.TB,
    expand: Annotated[bool, typer.Option("--expand", help="Draw every layer; fold no repeated block.")] = False,
    depth: Annotated[int | None, typer.Option(help="Expand blocks down to this depth only.", min=0)] = None,
    params: Annotated[bool, typer.Option("--params", help="Show parameter counts on nodes.")] = False,
    input_shape: InputShapeOption = None,
    set_: SetOption = None,
    plugin: PluginOption = None,
    allow_dir: AllowDirOption = None,
) -> None:
    """Draw a spec as a diagram (no torch needed)."""
    with reported_errors():
        load_plugins(plugin)
        suffix = output.suffix.lstrip(".").lower()
        if suffix not in DIAGRAM_FORMATS:
            raise UsageError(f"cannot tell the format of '{output}': use .svg, .png, .pdf or .dot")
        graph = analysed_graph(spec, input_shape, set_, allow_dir)
        from archspec.backends.graphviz import write_diagram
        from archspec.progress import terminal_progress

        with terminal_progress().step(f"drawing {output} ({len(graph.layers):,} layers)"):
            path = write_diagram(graph, output, style=style.value, rankdir=rankdir.value, expand=expand,
                                 depth=depth, show_params=params)
        print(f"wrote {path}")


@app.command()
def serve(
    spec: SpecArgument,
    port: Annotated[int, typer.Option(help="The port to listen on (0: any free port).", min=0, max=65535)] = 8765,
    host: Annotated[str, typer.Option(help="The address to listen on; the default serves this machine only.")]
    = "127.0.0.1",
    style: Annotated[DiagramStyle, typer.Option(help="The figure shown first (the page switches between both).")]
    = DiagramStyle.graph,
    rankdir: Annotated[RankDir, typer.Option("--rankdir", help="Direction of the flow.")] = RankDir.TB,
    expand: Annotated[bool, typer.Option("--expand", help="Draw every layer; fold no repeated block.")] = False,
    depth: Annotated[int | None, typer.Option(help="Expand blocks down to this depth only.", min=0)] = None,
    input_shape: InputShapeOption = None,
    set_: SetOption = None,
    plugin: PluginOption = None,
) -> None:
    """Live preview: a page on localhost that redraws the spec each time it (or a file it extends) is saved.

    The page shows both diagram styles, the summary, and the errors of a broken spec beside the last good
    figure; it updates without a reload.  Only the spec's drawing is served.  Ctrl-C stops the server.
    Needs the 'serve' extra: pip install 'archspec[serve]'.
    """
    with reported_errors():
        load_plugins(plugin)
        from archspec.spec.builtin import resolve_spec_path

        if not resolve_spec_path(spec).is_file():
            raise SpecError.at(f"no such spec file: {spec}")
        from importlib.util import find_spec

        missing = [name for name in ("starlette", "uvicorn", "watchfiles") if find_spec(name) is None]
        if missing:
            raise UsageError(f"archspec serve needs the Python package '{missing[0]}': pip install 'archspec[serve]'")
        from archspec.integrations.serve.app import serve as serve_preview
        from archspec.integrations.serve.preview import DrawOptions

        options = DrawOptions(spec, rankdir=rankdir.value, expand=expand, depth=depth,
                              variables=parse_assignments(set_), input_shape=parse_input_shape(input_shape))
        if host not in ("127.0.0.1", "localhost", "::1"):
            sys.stderr.write(f"warning: serving on {host}: other machines can read this spec's drawing\n")
        try:
            serve_preview(options, host=host, port=port, style=style.value,
                          announce=lambda line: print(line, flush=True))
        except KeyboardInterrupt:
            pass
        except OSError as exc:
            raise ArchspecError(f"cannot serve on {host}:{port}: {exc.strerror or exc}") from None
        print("stopped", flush=True)


@app.command()
def inspect(
    model: Annotated[Path, typer.Argument(help="An ONNX model file.")],
    plugin: PluginOption = None,
) -> None:
    """Show an ONNX model's inputs, outputs, op counts and parameter total."""
    with reported_errors():
        load_plugins(plugin)
        from archspec.backends.onnx import describe_onnx

        print(describe_onnx(model))


@app.command("import")
def import_(
    source: Annotated[str, typer.Argument(help="package.module:attr (an nn.Module class or a function returning "
                                                "one; it runs), or a path to an .onnx file.")],
    output: Annotated[Path, typer.Option("--output", "-o", help="The spec to write (YAML).")],
    input_shape: Annotated[str | None, typer.Option("--input-shape", help="The input without the batch, e.g. "
                                                    "3,224,224; required for a PyTorch source.")] = None,
    name: Annotated[str | None, typer.Option("--name", help="The spec's name (default: the source's).")] = None,
    weights: Annotated[Path | None, typer.Option("--weights", help="Also write the source's weights as a "
                                                 "state_dict of the new spec's module (.pt).")] = None,
) -> None:
    """Turn a PyTorch model or an ONNX file into a short, editable spec with its blocks and repeats."""
    with reported_errors():
        from archspec.importers.source import import_source

        lines = import_source(source, output, parse_input_shape(input_shape), name=name or "", weights=weights)
        print(f"wrote {output} ({lines} lines)" + (f" and {weights}" if weights else ""))


def version_callback(value: bool) -> None:
    if value:
        from archspec import __version__

        print(f"archspec {__version__}")
        raise typer.Exit()


@app.callback()
def main_options(
    version: Annotated[bool, typer.Option("--version", callback=version_callback, is_eager=True,
                                          help="Show the version and exit.")] = False,
    plugin: PluginOption = None,
    allow_dir: AllowDirOption = None,
) -> None:
    """archspec: write a network as a YAML spec; get shapes, PyTorch, ONNX and diagrams.

    --plugin and --allow-dir may be given here, before the command, or after it.
    """
    global _global_options
    _global_options = GlobalOptions(tuple(plugin or ()), tuple(allow_dir or ()))


def main() -> None:
    signal.signal(signal.SIGTERM, _terminate)
    try:
        app()
    except Terminated:  # outside a command's reported_errors: while typer parses the command line
        sys.stderr.write("terminated\n")
        sys.exit(128 + signal.SIGTERM)
    except SystemExit as exit_:
        # typer turns Ctrl-C outside a command (while parsing) into a silent exit 130: say why
        if exit_.code == _INTERRUPTED and _INTERRUPTED not in _reported_statuses:
            sys.stderr.write("interrupted\n")
        raise


if __name__ == "__main__":
    main()
