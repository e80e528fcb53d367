"""Finding ops outside archspec: installed entry points and modules named with --plugin.

A spec never imports anything; only the person running archspec chooses what code runs.
"""

from __future__ import annotations

import importlib
from importlib.metadata import entry_points

from archspec.errors import UsageError

ENTRY_POINT_GROUP = "archspec.ops"
_loaded_entry_points = False


def load_entry_point_plugins() -> None:
    """Import every installed package's ``archspec.ops`` entry point (once)."""
    global _loaded_entry_points
    if _loaded_entry_points:
        return
    _loaded_entry_points = True
    for entry in entry_points(group=ENTRY_POINT_GROUP):
        try:
            entry.load()
        except Exception as exc:
            raise UsageError(f"plugin '{entry.name}' ({entry.value}) failed to load: {type(exc).__name__}: {exc}") \
                from None


def load_plugin_modules(modules: list[str]) -> None:
    """Import modules named on the command line (``--plugin my_ops``)."""
    for module in modules:
        try:
            importlib.import_module(module)
        except ImportError as exc:
            raise UsageError(f"--plugin {module}: cannot import it ({exc})") from None
