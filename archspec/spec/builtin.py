"""The built-in specs: found by name (``vgg16``) in a source checkout and after a normal install."""

from __future__ import annotations

from pathlib import Path

from archspec.errors import SpecError, did_you_mean

SPEC_SUFFIXES = (".yaml", ".yml")


def builtin_specs_dir() -> Path:
    """``archspec/builtin_specs`` in an installed wheel, else the checkout's top-level ``specs/``."""
    package = Path(__file__).resolve().parent.parent
    installed = package / "builtin_specs"
    if installed.is_dir():
        return installed
    return package.parent / "specs"


ZOO_DIRECTORY = "zoo"
"""``specs/zoo/``: torchvision's classification models by torchvision's names, tested against torchvision."""


def builtin_spec_names() -> list[str]:
    """Names of the seed networks in ``specs/`` (``specs/lib/`` holds shared pieces, ``specs/zoo/`` the zoo)."""
    return _names_in(builtin_specs_dir())


def zoo_spec_names() -> list[str]:
    """Names of the zoo's networks (``specs/zoo/``), reachable by name like the seed networks."""
    return _names_in(builtin_specs_dir() / ZOO_DIRECTORY)


def _names_in(directory: Path) -> list[str]:
    if not directory.is_dir():
        return []
    return sorted(p.stem for p in directory.iterdir() if p.suffix in SPEC_SUFFIXES)


def resolve_spec_path(ref: str, relative_to: Path | None = None) -> Path:
    """A spec reference as a file path: an existing path wins, else a built-in name."""
    if not ref.strip():
        raise SpecError.at("empty spec path")
    if "\x00" in ref:
        raise SpecError.at("a spec path cannot contain a NUL character")
    candidate = Path(ref)
    if relative_to is not None and not candidate.is_absolute():
        local = relative_to / candidate
        if exists(local) or local.suffix in SPEC_SUFFIXES:
            return local
    if exists(candidate) or candidate.suffix in SPEC_SUFFIXES or "/" in ref or "\\" in ref:
        return candidate
    directory = builtin_specs_dir()
    for folder in (directory, directory / ZOO_DIRECTORY):
        for suffix in SPEC_SUFFIXES:
            builtin = folder / f"{ref}{suffix}"
            if is_file(builtin):
                return builtin
    names = builtin_spec_names() + zoo_spec_names()
    hint = did_you_mean(ref, names) or (f"built-in specs: {', '.join(names)}" if names else None)
    raise SpecError.at(f"no spec file '{ref}' and no built-in spec of that name", hint=hint)


def exists(path: Path) -> bool:
    """Path.exists, False for a name the system cannot even look up (too long, for one)."""
    try:
        return path.exists()
    except (OSError, ValueError):
        return False


def is_file(path: Path) -> bool:
    try:
        return path.is_file()
    except (OSError, ValueError):
        return False
