"""Architecture diagrams with Graphviz.

The pipeline: :mod:`.folding` decides which repeated blocks fold and which scopes collapse;
:mod:`.view` turns that into boxes, clusters and edges; :mod:`.dot` writes them as DOT with the
look from :mod:`.theme`; :mod:`.render` runs Graphviz's ``dot`` and writes the file.
"""

from archspec.backends.graphviz.dot import diagram_dot
from archspec.backends.graphviz.render import GraphvizError, write_diagram

__all__ = ["GraphvizError", "diagram_dot", "write_diagram"]
