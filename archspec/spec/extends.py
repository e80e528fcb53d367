"""What ``extends`` may read: a spec chooses the file, and specs are often someone else's.

Like a compiler's include path: only spec files (``.yaml``/``.yml``) inside the tree of the spec that
started the load, the built-in specs (their ``lib/`` included) and the directories the person allowed;
a refused file is named, never read or quoted.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from archspec.errors import SourceLocation, SpecError, UsageError
from archspec.spec.builtin import SPEC_SUFFIXES, builtin_specs_dir


def display_path(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def extends_roots(spec_path: Path, allow_dirs: Sequence[str | Path] = ()) -> tuple[Path, ...]:
    """The directories ``extends`` may read from: the tree of the spec that started the load, the
    built-in specs (their ``lib/`` included) and the directories the person allowed."""
    roots = [_resolved(spec_path).parent, _resolved(builtin_specs_dir())]
    for directory in allow_dirs:
        allowed = _resolved(Path(directory))
        if not allowed.is_dir():
            raise UsageError(f"cannot allow '{directory}' for 'extends': no such directory")
        roots.append(allowed)
    return tuple(roots)


def _resolved(path: Path) -> Path:
    try:
        return path.resolve()
    except (OSError, RuntimeError, ValueError):  # a symlink loop, a name too long
        return path.absolute()


def check_extends_target(parent_ref: str, parent_path: Path, roots: tuple[Path, ...],
                          where: SourceLocation) -> None:
    """A spec chooses what it extends, and specs are often untrusted: only spec files in the allowed
    directories are read, and a refused file is named, never read."""
    if parent_path.suffix not in SPEC_SUFFIXES:
        raise SpecError.at(f"cannot extend '{parent_ref}': 'extends' names a spec file (.yaml or .yml) or a "
                           f"built-in spec", where, hint="write the path of a .yaml spec, relative to this file")
    target = _resolved(parent_path)
    if not any(target.is_relative_to(root) for root in roots):
        raise SpecError.at(
            f"cannot extend '{parent_ref}': it is outside {_directory_name(roots[0])}, the directory of the spec "
            f"being loaded", where,
            hint="move the file beside the spec, or allow its directory: --allow-dir DIR on the command line, "
                 "allow_dirs=[DIR] in Python")


def _directory_name(directory: Path) -> str:
    shown = display_path(directory)
    return "the current directory" if shown == "." else shown
