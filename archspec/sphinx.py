"""``extensions = ["archspec.sphinx"]``: the Sphinx extension (see :mod:`archspec.integrations.sphinx`)."""

from archspec.integrations.sphinx import ArchspecDirective, setup

__all__ = ["ArchspecDirective", "setup"]
