"""Architecture diagrams with Graphviz.

The pipeline: the shared :mod:`archspec.backends.diagram` decides what is drawn (folding, boxes,
clusters, edges) and how it looks; :mod:`.dot` writes that as DOT; :mod:`.render` runs
Graphviz's ``dot`` and writes the file, or hands ``style="volumes"`` to
:mod:`archspec.backends.volumes`.
"""

from archspec.backends.diagram.program import GraphvizError
from archspec.backends.graphviz.dot import diagram_dot
from archspec.backends.graphviz.render import write_diagram

__all__ = ["GraphvizError", "diagram_dot", "write_diagram"]
