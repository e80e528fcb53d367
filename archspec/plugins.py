"""Finding ops outside archspec: installed entry points and modules named with ``--plugin``.

A spec never imports anything.  Code runs only when the person running archspec chose it: by
installing a package that declares an ``archspec.ops`` entry point, by ``--plugin MODULE`` on the
command line, or by registering ops from their own Python code.  A spec may *name* the plugins it
needs (``plugins: [archspec_se]``) so that a missing one is reported with what to install or pass.

A plugin's name is its top-level package (``archspec_se`` for ``archspec_se.ops``) - the name a
person installs, imports and writes in ``plugins:``.

Setting the environment variable ``ARCHSPEC_DISABLE_PLUGIN_AUTOLOAD`` (to anything but empty)
skips the entry points: a way around an installed plugin that fails to load, or to see the
language with built-in ops only; ``--plugin`` still works.
"""

from __future__ import annotations

import importlib
import os
from importlib.metadata import entry_points

from archspec.errors import UsageError
from archspec.ops.registry import registered_ops, registering_for

ENTRY_POINT_GROUP = "archspec.ops"
DISABLE_AUTOLOAD = "ARCHSPEC_DISABLE_PLUGIN_AUTOLOAD"

_loaded_entry_points = False
_loaded_plugins: set[str] = set()


def plugin_name(module: str) -> str:
    """The plugin a module belongs to: its top-level package."""
    return module.split(".", 1)[0]


def loaded_plugins() -> set[str]:
    """Plugins imported by archspec, plus the packages of every op registered from Python."""
    defining = {plugin_name(type(entry.op).__module__) for entry in registered_ops().values()
                if entry.source != "built-in"}
    return _loaded_plugins | defining


def load_entry_point_plugins() -> None:
    """Import every installed package's ``archspec.ops`` entry point (once; never if
    ``ARCHSPEC_DISABLE_PLUGIN_AUTOLOAD`` is set)."""
    global _loaded_entry_points
    if _loaded_entry_points or os.environ.get(DISABLE_AUTOLOAD):
        return
    _loaded_entry_points = True
    for entry in sorted(entry_points(group=ENTRY_POINT_GROUP), key=lambda e: e.name):
        name = plugin_name(entry.module)
        try:
            with registering_for(name):
                loaded = entry.load()
                if callable(loaded) and not isinstance(loaded, type):
                    loaded()
        except Exception as exc:
            raise UsageError(
                f"plugin '{entry.name}' ({entry.value}) failed to load: {type(exc).__name__}: {exc}\n"
                f"  hint: fix or uninstall the package that provides it, or set {DISABLE_AUTOLOAD}=1 to run "
                f"without installed plugins") from None
        _loaded_plugins.add(name)


def load_plugin_modules(modules: list[str]) -> None:
    """Import modules named on the command line (``--plugin my_ops``)."""
    for module in modules:
        name = plugin_name(module)
        try:
            with registering_for(name):
                importlib.import_module(module)
        except ImportError as exc:
            raise UsageError(f"--plugin {module}: cannot import it ({exc})") from None
        except Exception as exc:
            raise UsageError(f"--plugin {module}: importing it failed: {type(exc).__name__}: {exc}") from None
        _loaded_plugins.add(name)
